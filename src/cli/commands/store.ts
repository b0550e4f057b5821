import type { Command } from 'commander';
import { defaultRoot } from '../../solver/session.js';
import { storeCheck } from '../../solver/maintenance.js';
import { StratumError } from '../../util/errors.js';
import { humanSize } from '../../util/size.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  const store = program.command('store').description('Look after the local store');
  store
    .command('check')
    .description('Verify the store: blobs against their digests, snapshots against their layers, cache records, tagged images; clear what killed builds left')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit codes: 0 the store is sound, 1 problems were found (each is listed).')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const root = rootOf(command) ?? defaultRoot();
      const onProgress = process.stderr.isTTY && !flags.json ? (done: number, total: number) => process.stderr.write(`\rchecking blobs: ${done}/${total}`) : undefined;
      const { problems, leftovers } = await storeCheck(root, { ...(onProgress ? { onProgress } : {}) });
      if (onProgress) process.stderr.write('\n');
      if (flags.json) process.stdout.write(JSON.stringify({ problems, leftovers: leftovers ?? null }, null, 2) + '\n');
      else {
        if (leftovers && leftovers.unmounted + leftovers.containers + leftovers.removed > 0) {
          process.stdout.write(
            `cleared what killed builds left: ${leftovers.unmounted} mount(s), ${leftovers.containers} container(s), ${leftovers.removed} tmp entr${leftovers.removed === 1 ? 'y' : 'ies'} (${humanSize(leftovers.bytes)})\n`,
          );
        } else if (!leftovers) process.stdout.write('tmp/ not swept: the store is in use by another stratum process\n');
        for (const p of problems) process.stdout.write(`${p.kind} ${p.what}: ${p.message}\n`);
      }
      if (problems.length > 0) throw new StratumError(`store check: ${problems.length} problem(s) in ${root}`);
      if (!flags.json) process.stdout.write(`store ${root}: ok\n`);
    });
}
