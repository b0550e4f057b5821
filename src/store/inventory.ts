/** Reading the store as a whole: what blobs, snapshots and records it holds, and what the tagged images need. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { run } from '../util/exec.js';
import { ContentStore } from './content.js';
import { ImageStore } from './images.js';
import { SNAPSHOT_ID, StoreLayout, type CacheRecord, type SnapshotMeta } from './layout.js';
import { isIndexMediaType, type Descriptor, type Index, type Manifest } from './types.js';

export const HEX64 = /^[0-9a-f]{64}$/;

export async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

export async function readJSON<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Bytes on disk under each path (`du`), in one process for all of them. */
export async function diskUsage(paths: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const present: string[] = [];
  for (const p of paths) if (await exists(p)) present.push(p);
  for (let i = 0; i < present.length; i += 500) {
    const batch = present.slice(i, i + 500);
    const r = await run('du', ['-s', '-B1', '-x', '--', ...batch], { check: false });
    for (const line of r.stdout.split('\n')) {
      const tab = line.indexOf('\t');
      if (tab > 0) out.set(line.slice(tab + 1), Number(line.slice(0, tab)));
    }
  }
  for (const p of paths) if (!out.has(p)) out.set(p, 0);
  return out;
}

export interface CacheRecordFile {
  file: string;
  rec?: CacheRecord;
  mtimeMs: number;
}

export async function listCacheRecords(root: string): Promise<CacheRecordFile[]> {
  const dir = new StoreLayout(root).cache;
  const out: CacheRecordFile[] = [];
  for (const sub of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await fsp.readdir(path.join(dir, sub)).catch(() => [] as string[])) {
      const file = path.join(dir, sub, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) continue;
      out.push({ file, rec: name.endsWith('.json') ? await readJSON<CacheRecord>(file) : undefined, mtimeMs: st.mtimeMs });
    }
  }
  return out;
}

export interface SnapshotEntry {
  id: string;
  dir: string;
  meta?: SnapshotMeta;
  mtimeMs: number;
}

export async function listSnapshots(root: string): Promise<SnapshotEntry[]> {
  const layout = new StoreLayout(root);
  const out = [];
  for (const id of await fsp.readdir(layout.snapshots).catch(() => [] as string[])) {
    if (!SNAPSHOT_ID.test(id)) continue;
    const d = layout.snapshot(id);
    const meta = await readJSON<SnapshotMeta>(layout.snapshotMeta(id));
    const st = await fsp.stat(d).catch(() => undefined);
    out.push({ id, dir: d, meta, mtimeMs: meta ? Date.parse(meta.created) || (st?.mtimeMs ?? 0) : (st?.mtimeMs ?? 0) });
  }
  return out;
}

/** Every blob the tagged images need: manifests (and indexes), configs, layers. Missing ones are listed apart. */
export async function taggedBlobs(content: ContentStore): Promise<{ needed: Set<string>; diffIDs: Set<string>; missing: { tag: string; digest: string }[] }> {
  const needed = new Set<string>();
  const diffIDs = new Set<string>();
  const missing: { tag: string; digest: string }[] = [];
  const images = new ImageStore(content);
  const visit = async (tag: string, d: Descriptor): Promise<void> => {
    needed.add(d.digest);
    if (!(await content.has(d.digest))) {
      missing.push({ tag, digest: d.digest });
      return;
    }
    if (isIndexMediaType(d.mediaType)) {
      // Leniently: what is already in the store is walked as it is (the readers refuse it where it is used).
      const idx = await content.readJSON<Partial<Index>>(d.digest);
      for (const m of Array.isArray(idx.manifests) ? idx.manifests : []) await visit(tag, m);
      return;
    }
    const m = await content.readJSON<Partial<Manifest>>(d.digest);
    if (typeof m.config?.digest === 'string') {
      needed.add(m.config.digest);
      if (!(await content.has(m.config.digest))) missing.push({ tag, digest: m.config.digest });
      else {
        const cfg = await content.readJSON<{ rootfs?: { diff_ids?: unknown } }>(m.config.digest);
        if (Array.isArray(cfg.rootfs?.diff_ids)) for (const id of cfg.rootfs.diff_ids) if (typeof id === 'string') diffIDs.add(id);
      }
    }
    for (const l of Array.isArray(m.layers) ? m.layers : []) {
      needed.add(l.digest);
      if (!(await content.has(l.digest))) missing.push({ tag, digest: l.digest });
    }
  };
  for (const { name, descriptor } of await images.list()) await visit(name, descriptor);
  return { needed, diffIDs, missing };
}

export async function listBlobs(content: ContentStore): Promise<{ digest: string; file: string; size: number; mtimeMs: number }[]> {
  const out = [];
  for (const name of await fsp.readdir(content.blobsDir).catch(() => [] as string[])) {
    const file = path.join(content.blobsDir, name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) continue;
    out.push({ digest: `sha256:${name}`, file, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

/** Snapshots that hold a tagged image's layer (by blob digest or diff ID). */
export function keptSnapshots(snaps: { id: string; meta?: SnapshotMeta }[], needed: Set<string>, diffIDs: Set<string>): Set<string> {
  const keep = new Set<string>();
  for (const s of snaps) {
    for (const l of Object.values(s.meta?.layers ?? {})) {
      if (needed.has(l.digest) || diffIDs.has(l.diffID)) keep.add(s.id);
    }
  }
  return keep;
}
