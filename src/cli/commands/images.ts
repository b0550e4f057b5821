import type { Command } from 'commander';
import { Session } from '../../solver/session.js';
import { InputError } from '../../util/errors.js';
import type { Descriptor } from '../../store/index.js';
import { formatPlatform } from '../../util/platform.js';
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
      for (const { name, descriptor } of await session.images.list()) rows.push({ name, digest: descriptor.digest, ...(await describeImage(session, descriptor)) });
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const now = Date.now();
      const table = [
        ['NAME', 'DIGEST', 'PLATFORMS', 'CREATED', 'LAYERS', 'SIZE'],
        ...rows.map((r) => [r.name, r.digest.slice(7, 19), r.platforms.join(',') || '-', r.created ? ago(now - Date.parse(r.created)) : '-', String(r.layers), formatSize(r.size)]),
      ];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      const right = new Set([4, 5]);
      for (const row of table) process.stdout.write(row.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n');
    });

  program
    .command('rmi')
    .description('Remove image names from the local store (blobs go with `stratum prune`)')
    .argument('<names...>', 'image names')
    .action(async (names: string[], _flags: unknown, command: Command) => {
      const session = await Session.get(rootOf(command));
      const missing: string[] = [];
      for (const n of names) {
        if (await session.images.remove(n)) process.stdout.write(`untagged ${n}\n`);
        else missing.push(n);
      }
      // One error line for all of them, after the ones that were removed.
      if (missing.length) throw new InputError(`no such image: ${missing.join(', ')}`);
    });
}

/** Size, layers, platforms and creation time of a stored image (an index: summed over the platforms held here). */
async function describeImage(session: Session, desc: Descriptor): Promise<{ size: number; layers: number; platforms: string[]; created?: string }> {
  const one = async (d: Descriptor) => {
    const m = await session.content.readManifest(d.digest);
    const c = await session.content.readConfig(m.config.digest);
    const platform = d.platform ?? { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
    return { size: m.config.size + (m.layers ?? []).reduce((a, l) => a + l.size, 0), layers: m.layers?.length ?? 0, platform: formatPlatform(platform), created: c.created };
  };
  try {
    const img = await one(desc);
    return { size: desc.size + img.size, layers: img.layers, platforms: [img.platform], ...(img.created ? { created: img.created } : {}) };
  } catch {
    // an index: its platforms (attestations, `unknown/unknown`, are not one), each counted when held here
  }
  const out = { size: desc.size, layers: 0, platforms: [] as string[], created: undefined as string | undefined };
  const index = await session.content.readIndex(desc.digest).catch(() => undefined);
  for (const m of index?.manifests ?? []) {
    if (m.platform?.os === 'unknown') continue;
    const img = await one(m).catch(() => undefined);
    if (m.platform) out.platforms.push(formatPlatform(m.platform));
    else if (img) out.platforms.push(img.platform);
    if (!img) continue;
    out.size += m.size + img.size;
    out.layers = Math.max(out.layers, img.layers);
    if (img.created && (!out.created || img.created > out.created)) out.created = img.created;
  }
  return out.created ? out : { size: out.size, layers: out.layers, platforms: out.platforms };
}

/** "3 minutes ago", as `docker images` says it. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const units: [number, string][] = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [n, unit] of units) {
    const k = Math.floor(s / n);
    if (k >= 1) return `${k} ${unit}${k > 1 ? 's' : ''} ago`;
  }
  return s < 2 ? 'just now' : `${s} seconds ago`;
}
