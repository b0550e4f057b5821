import type { Command } from 'commander';
import { defaultRoot } from '../../solver/session.js';
import { storeUsage } from '../../store/index.js';
import { formatSize } from '../progress.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  program
    .command('du')
    .description('Show what the store holds, by kind and size')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Kinds: blobs (layers, configs, manifests), snapshots (unpacked layers and step results),
cache-records (step cache entries), cache-mounts (RUN --mount=type=cache dirs), sources
(git mirrors, downloads), tmp. "in use" is what tagged images need; \`stratum prune\` keeps it.`,
    )
    .action(async (flags: { json?: boolean }, command: Command) => {
      const usage = await storeUsage(rootOf(command) ?? defaultRoot());
      if (flags.json) {
        process.stdout.write(JSON.stringify(usage, null, 2) + '\n');
        return;
      }
      const out = process.stdout;
      out.write(`store ${usage.root}\n`);
      out.write(`${'KIND'.padEnd(14)}${'COUNT'.padStart(8)}${'SIZE'.padStart(10)}${'IN USE'.padStart(10)}\n`);
      for (const e of usage.entries) {
        const inUse = e.inUseBytes === undefined ? '-' : formatSize(e.inUseBytes);
        out.write(`${e.kind.padEnd(14)}${String(e.count).padStart(8)}${formatSize(e.bytes).padStart(10)}${inUse.padStart(10)}\n`);
      }
      out.write(`${'total'.padEnd(14)}${''.padStart(8)}${formatSize(usage.totalBytes).padStart(10)}\n`);
    });
}
