/** `stratum prune`: build cache the tagged images do not need, removed oldest first, records before snapshots. */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import { ContentStore } from './content.js';
import { diskUsage, exists, HEX64, keptSnapshots, listBlobs, listCacheRecords, listSnapshots, taggedBlobs, type CacheRecordFile } from './inventory.js';
import { StoreLayout } from './layout.js';
import { MemberIndex } from './members.js';
import { sweepTmp, type Reaper } from './recovery.js';
import { withStoreLock, type LockOptions } from './storelock.js';

export interface PruneOptions {
  /** Also remove the cache of tagged images (their snapshots and records), cache mounts and source caches. */
  all?: boolean;
  /** Only remove things not used for this long (ms). */
  olderThanMs?: number;
  /** Remove least recently used cache until snapshots + blobs take at most this many bytes. */
  keepBytes?: number;
  /** Report what would go; remove nothing. */
  dryRun?: boolean;
  /** tmp/ files that are not build staging are removed only when older than this (default 1 hour). */
  tmpMinAgeMs?: number;
  lock?: LockOptions;
  /** Undoes a killed build's mounts and containers before its staging goes (worker/reaper.ts). */
  reaper: Reaper;
}

export interface PruneReport {
  snapshots: number;
  cacheRecords: number;
  blobs: number;
  cacheMounts: number;
  sources: number;
  tmp: number;
  freedBytes: number;
}

/**
 * Removes build cache under the exclusive store lock. Never removes a blob a tagged image needs, nor (without
 * `all`) a snapshot holding a tagged image's layer. A snapshot goes together with every cache record that points
 * at it, records first, so no record ever names a missing snapshot.
 */
export async function prune(root: string, o: PruneOptions): Promise<PruneReport> {
  const layout = new StoreLayout(root);
  root = layout.root;
  return withStoreLock(
    root,
    'exclusive',
    async () => {
      const report: PruneReport = { snapshots: 0, cacheRecords: 0, blobs: 0, cacheMounts: 0, sources: 0, tmp: 0, freedBytes: 0 };
      if (!o.dryRun) report.tmp = (await sweepTmp(root, o.reaper, o.tmpMinAgeMs)).removed;
      const content = new ContentStore(root);
      const { needed, diffIDs } = await taggedBlobs(content);
      const snaps = await listSnapshots(root);
      const records = await listCacheRecords(root);
      const protectedSnaps = o.all ? new Set<string>() : keptSnapshots(snaps, needed, diffIDs);
      const now = Date.now();
      const oldEnough = (t: number) => o.olderThanMs === undefined || now - t >= o.olderThanMs;

      // Last use of a snapshot: its creation, or the newest hit of a record naming it (hits touch the record).
      const lastUsed = new Map<string, number>();
      const recordsOf = new Map<string, CacheRecordFile[]>();
      for (const s of snaps) lastUsed.set(s.id, s.mtimeMs);
      for (const r of records) {
        if (!r.rec) continue;
        const list = recordsOf.get(r.rec.snapshot) ?? [];
        list.push(r);
        recordsOf.set(r.rec.snapshot, list);
        lastUsed.set(r.rec.snapshot, Math.max(lastUsed.get(r.rec.snapshot) ?? 0, r.mtimeMs));
      }
      const sizes = await diskUsage(snaps.map((s) => s.dir));
      let candidates = snaps.filter((s) => !protectedSnaps.has(s.id) && oldEnough(lastUsed.get(s.id) ?? 0));
      if (o.keepBytes !== undefined) {
        // Oldest first, and only as many as needed to get under the limit.
        const blobs = await listBlobs(content);
        const blobSize = new Map(blobs.map((b) => [b.digest, b.size]));
        let total = blobs.reduce((a, b) => a + b.size, 0) + snaps.reduce((a, s) => a + (sizes.get(s.dir) ?? 0), 0);
        candidates.sort((a, b) => (lastUsed.get(a.id) ?? 0) - (lastUsed.get(b.id) ?? 0));
        const chosen = [];
        for (const s of candidates) {
          if (total <= o.keepBytes) break;
          chosen.push(s);
          total -= sizes.get(s.dir) ?? 0;
          for (const l of Object.values(s.meta?.layers ?? {})) {
            if (!needed.has(l.digest)) total -= blobSize.get(l.digest) ?? 0;
          }
        }
        candidates = chosen;
      }
      const doomed = new Set(candidates.map((s) => s.id));
      const sound = new Set(snaps.filter((s) => s.meta).map((s) => s.id));
      // Records first (a record must never outlive its snapshot), then the snapshots.
      for (const r of records) {
        // A record of a step that changed nothing names no snapshot ('').
        const dangling = r.rec !== undefined && r.rec.snapshot !== '' && !sound.has(r.rec.snapshot);
        if ((r.rec && doomed.has(r.rec.snapshot)) || dangling) {
          report.cacheRecords++;
          if (!o.dryRun) await fsp.rm(r.file, { force: true });
        }
      }
      for (const s of candidates) {
        report.snapshots++;
        report.freedBytes += sizes.get(s.dir) ?? 0;
        if (o.dryRun) continue;
        // Rename out of the way first, so a half-removed snapshot is never visible under its id.
        const aside = layout.staging('removal', `${s.id}-${randomBytes(3).toString('hex')}`);
        await fsp.mkdir(layout.tmp, { recursive: true });
        await fsp.rename(s.dir, aside);
        await fsp.rm(aside, { recursive: true, force: true });
      }
      if (!o.dryRun) {
        const byDiff = layout.byDiffID;
        for (const name of await fsp.readdir(byDiff).catch(() => [] as string[])) {
          const id = (await fsp.readFile(path.join(byDiff, name), 'utf8').catch(() => '')).trim();
          if (!id || doomed.has(id) || !(await exists(layout.snapshot(id)))) await fsp.rm(path.join(byDiff, name), { force: true });
        }
      }

      // Blobs: keep what tagged images need and the layer blobs of snapshots that stay (their cached exports).
      const keepBlobs = new Set(needed);
      for (const s of snaps) {
        if (doomed.has(s.id)) continue;
        for (const l of Object.values(s.meta?.layers ?? {})) keepBlobs.add(l.digest);
      }
      for (const b of await listBlobs(content)) {
        if (keepBlobs.has(b.digest) || !HEX64.test(b.digest.slice(7)) || !oldEnough(b.mtimeMs)) continue;
        report.blobs++;
        report.freedBytes += b.size;
        if (!o.dryRun) await fsp.rm(b.file, { force: true });
      }
      // The gzip member index names places in blobs; entries whose blob just went are dead weight.
      if (!o.dryRun) await MemberIndex.of(content).sweep();

      if (o.all) {
        const mountsDir = layout.cacheMounts;
        const names = await fsp.readdir(mountsDir).catch(() => [] as string[]);
        const dirs = names.filter((n) => !n.includes('.'));
        const msizes = await diskUsage(dirs.map((n) => path.join(mountsDir, n)));
        for (const n of dirs) {
          report.cacheMounts++;
          report.freedBytes += msizes.get(path.join(mountsDir, n)) ?? 0;
        }
        const srcDirs = [layout.gitSources, layout.httpSources];
        const ssizes = await diskUsage(srcDirs);
        for (const d of srcDirs) {
          const entries = (await fsp.readdir(d).catch(() => [] as string[])).filter((n) => !n.endsWith('.json'));
          report.sources += entries.length;
          report.freedBytes += ssizes.get(d) ?? 0;
        }
        if (!o.dryRun) {
          for (const n of names) await fsp.rm(path.join(mountsDir, n), { recursive: true, force: true });
          for (const d of srcDirs) await fsp.rm(d, { recursive: true, force: true });
        }
      }
      return report;
    },
    o.lock,
  );
}

/** "10GB", "512MiB", "1.5g", "1000" -> bytes. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(s);
  if (!m) throw new InputError(`invalid size "${s}" (examples: 500MB, 10GB, 2GiB)`);
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  const base = m[3] ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** power);
}

/** "24h", "90m", "7d", "1h30m", "3600s" -> milliseconds. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  let total = 0;
  let consumed = 0;
  for (const m of s.trim().matchAll(re)) {
    total += Number(m[1]) * units[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== s.trim().length) throw new InputError(`invalid duration "${s}" (examples: 24h, 90m, 7d, 1h30m)`);
  return total;
}
