import type { Command } from 'commander';
import { defaultRoot } from '../../solver/session.js';
import { checkStore } from '../../store/index.js';
import { StratumError } from '../../util/errors.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  const store = program.command('store').description('Look after the local store');
  store
    .command('check')
    .description('Verify the store: blobs against their digests, snapshots, cache records, tagged images')
    .option('--json', 'print the problems as JSON')
    .addHelpText('after', '\nExit codes: 0 the store is sound, 1 problems were found (each is listed).')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const root = rootOf(command) ?? defaultRoot();
      const problems = await checkStore(root);
      if (flags.json) process.stdout.write(JSON.stringify(problems, null, 2) + '\n');
      else for (const p of problems) process.stdout.write(`${p.kind} ${p.what}: ${p.message}\n`);
      if (problems.length > 0) throw new StratumError(`store check: ${problems.length} problem(s) in ${root}`);
      if (!flags.json) process.stdout.write(`store ${root}: ok\n`);
    });
}
