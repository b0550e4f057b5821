/** The store's structure checked: blobs against digests, tagged images complete, snapshots, links, records. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { hashFile } from '../util/hash.js';
import { ContentStore } from './content.js';
import { HEX64, listBlobs, listCacheRecords, listSnapshots, taggedBlobs } from './inventory.js';
import { StoreLayout } from './layout.js';
import { withStoreLock, type LockOptions } from './storelock.js';

export interface Problem {
  kind: 'blob' | 'image' | 'snapshot' | 'cache-record' | 'tmp';
  what: string;
  message: string;
}


export interface CheckOptions {
  lock?: LockOptions;
  onProgress?: (done: number, total: number) => void;
  /**
   * Checks one snapshot's files against what it claims to hold (the worker knows how: see worker/verify.ts) and
   * returns what is wrong. Without it only the store's structure is checked.
   */
  snapshotContents?: (id: string) => Promise<string | undefined>;
}

/**
 * Verifies the store: every blob against its digest, every tagged image's blobs present, every snapshot with its
 * `fs` dir and a readable meta naming it (and, with `snapshotContents`, its files), every diff_id link naming a
 * snapshot that holds that layer, every cache record readable and pointing at an existing snapshot.
 * Holds the shared lock, so it runs beside builds but not beside a prune.
 */
export async function checkStore(root: string, opts: CheckOptions = {}): Promise<Problem[]> {
  root = path.resolve(root);
  return withStoreLock(
    root,
    'shared',
    async () => {
      const problems: Problem[] = [];
      const content = new ContentStore(root);
      const blobs = await listBlobs(content);
      let done = 0;
      for (const b of blobs) {
        const hex = path.basename(b.file);
        if (!HEX64.test(hex)) problems.push({ kind: 'blob', what: b.file, message: 'not a sha256 blob name' });
        else {
          const actual = await hashFile(b.file).catch((e: Error) => `unreadable: ${e.message}`);
          if (actual !== hex) problems.push({ kind: 'blob', what: b.digest, message: `content hashes to ${actual.length === 64 ? 'sha256:' + actual : actual}` });
        }
        opts.onProgress?.(++done, blobs.length);
      }
      try {
        const { missing } = await taggedBlobs(content);
        for (const m of missing) problems.push({ kind: 'image', what: m.tag, message: `needs blob ${m.digest}, which is missing` });
      } catch (e) {
        problems.push({ kind: 'image', what: 'index.json', message: `cannot read the tagged images: ${(e as Error).message}` });
      }
      const snaps = await listSnapshots(root);
      const good = new Set<string>();
      for (const s of snaps) {
        const fsDir = await fsp.stat(path.join(s.dir, 'fs')).catch(() => undefined);
        if (!s.meta) problems.push({ kind: 'snapshot', what: s.id, message: 'meta.json is missing or unreadable' });
        else if (s.meta.id !== s.id) problems.push({ kind: 'snapshot', what: s.id, message: `meta.json names ${s.meta.id}` });
        if (!fsDir?.isDirectory()) problems.push({ kind: 'snapshot', what: s.id, message: 'fs/ directory is missing' });
        if (s.meta && s.meta.id === s.id && fsDir?.isDirectory()) good.add(s.id);
      }
      const byDiff = new StoreLayout(root).byDiffID;
      for (const name of await fsp.readdir(byDiff).catch(() => [] as string[])) {
        if (!HEX64.test(name)) continue;
        const id = (await fsp.readFile(path.join(byDiff, name), 'utf8').catch(() => '')).trim();
        const meta = snaps.find((s) => s.id === id)?.meta;
        // A link to a pruned snapshot is harmless (it is not followed); one to a snapshot of other content is not.
        if (meta && !Object.values(meta.layers).some((l) => l.diffID === `sha256:${name}`)) {
          problems.push({ kind: 'snapshot', what: id, message: `is filed under diff_id sha256:${name}, which none of its layers has` });
        }
      }
      if (opts.snapshotContents) {
        for (const id of [...good].sort()) {
          const wrong = await opts.snapshotContents(id);
          if (wrong) problems.push({ kind: 'snapshot', what: id, message: wrong });
        }
      }
      for (const r of await listCacheRecords(root)) {
        if (!r.file.endsWith('.json')) continue;
        const rel = path.relative(root, r.file);
        if (!r.rec || typeof r.rec.snapshot !== 'string' || typeof r.rec.key !== 'string') {
          problems.push({ kind: 'cache-record', what: rel, message: 'unreadable record' });
          continue;
        }
        if (path.basename(r.file, '.json') !== r.rec.key.replace(/^sha256:/, '')) {
          problems.push({ kind: 'cache-record', what: rel, message: `holds key ${r.rec.key}` });
        }
        if (r.rec.snapshot !== '' && !good.has(r.rec.snapshot)) problems.push({ kind: 'cache-record', what: rel, message: `points at snapshot ${r.rec.snapshot}, which is missing or broken` });
      }
      return problems;
    },
    opts.lock,
  );
}
