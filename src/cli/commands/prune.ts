import type { Command } from 'commander';
import { defaultRoot } from '../../solver/session.js';
import { prune } from '../../solver/maintenance.js';
import { parseDuration, parseSize } from '../../store/index.js';
import { InputError } from '../../util/errors.js';
import { formatSize } from '../progress.js';
import { rootOf } from '../root.js';

interface PruneFlags {
  keepStorage?: string;
  filter?: string[];
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function register(program: Command): void {
  program
    .command('prune')
    .description('Remove build cache the tagged images do not need')
    .option('--keep-storage <size>', 'remove least recently used cache until snapshots and blobs fit in SIZE (e.g. 10GB)')
    .option('--filter <filter>', 'until=DURATION: only remove what was not used for DURATION (e.g. 24h, 7d) (repeatable)', collect)
    .option('-a, --all', 'also remove the cache of tagged images, cache mounts and fetched sources')
    .option('--dry-run', 'report what would be removed; remove nothing')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Blobs of tagged images are never removed. Without --all, neither are the snapshots holding their
layers, so rebuilding a tagged image stays cached. prune waits for running builds to finish and
blocks new ones while it runs; it also clears what killed builds left behind (mounts, containers,
staging dirs).`,
    )
    .action(async (flags: PruneFlags, command: Command) => {
      let olderThanMs: number | undefined;
      for (const f of flags.filter ?? []) {
        const m = /^until=(.+)$/.exec(f);
        if (!m) throw new InputError(`--filter ${f}: the only filter is until=DURATION`);
        olderThanMs = parseDuration(m[1]!);
      }
      const keepBytes = flags.keepStorage !== undefined ? parseSize(flags.keepStorage) : undefined;
      const report = await prune(rootOf(command) ?? defaultRoot(), {
        all: flags.all,
        olderThanMs,
        keepBytes,
        dryRun: flags.dryRun,
        lock: { onWait: (what) => process.stderr.write(`waiting: ${what}\n`) },
      });
      if (flags.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const verb = flags.dryRun ? 'would remove' : 'removed';
      process.stdout.write(
        `${verb} ${report.snapshots} snapshot(s), ${report.cacheRecords} cache record(s), ${report.blobs} blob(s)` +
          (flags.all ? `, ${report.cacheMounts} cache mount(s), ${report.sources} source(s)` : '') +
          `; ${formatSize(report.freedBytes)} ${flags.dryRun ? 'would be ' : ''}freed\n`,
      );
    });
}
