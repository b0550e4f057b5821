import type { Command } from 'commander';
import { Session } from '../../solver/session.js';
import { InputError } from '../../util/errors.js';
import { formatSize } from '../progress.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  program
    .command('images')
    .description('List the images in the local store')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      const session = await Session.get(rootOf(command));
      const rows = [];
      for (const { name, descriptor } of await session.images.list()) {
        let size = descriptor.size;
        let layers = 0;
        try {
          const m = await session.content.readManifest(descriptor.digest);
          layers = m.layers?.length ?? 0;
          size += m.config.size + (m.layers ?? []).reduce((a, l) => a + l.size, 0);
        } catch {
          // an index: list it by its own size
        }
        rows.push({ name, digest: descriptor.digest, size, layers });
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const w = Math.max(10, ...rows.map((r) => r.name.length));
      process.stdout.write(`${'NAME'.padEnd(w)}  DIGEST         LAYERS  SIZE\n`);
      for (const r of rows) {
        process.stdout.write(`${r.name.padEnd(w)}  ${r.digest.slice(7, 19)}   ${String(r.layers).padStart(6)}  ${formatSize(r.size)}\n`);
      }
    });

  program
    .command('rmi')
    .description('Remove image names from the local store (blobs go with `stratum prune`)')
    .argument('<names...>', 'image names')
    .action(async (names: string[], _flags: unknown, command: Command) => {
      const session = await Session.get(rootOf(command));
      let missing = 0;
      for (const n of names) {
        if (await session.images.remove(n)) process.stdout.write(`untagged ${n}\n`);
        else {
          process.stderr.write(`no such image: ${n}\n`);
          missing++;
        }
      }
      if (missing) throw new InputError(`${missing} image(s) not found`);
    });
}
