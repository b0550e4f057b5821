/** `stratum du`: what the store holds, by kind, and how much of it the tagged images need. */
import { promises as fsp } from 'node:fs';
import { ContentStore } from './content.js';
import { diskUsage, keptSnapshots, listBlobs, listCacheRecords, listSnapshots, taggedBlobs } from './inventory.js';
import { StoreLayout } from './layout.js';

export interface UsageEntry {
  kind: 'blobs' | 'snapshots' | 'cache-records' | 'cache-mounts' | 'sources' | 'tmp';
  count: number;
  bytes: number;
  /** Part of `bytes` that tagged images need (prune never removes it). */
  inUseBytes?: number;
  detail?: string;
}

/** What the store at `root` holds, by kind. */
export async function storeUsage(root: string): Promise<{ root: string; entries: UsageEntry[]; totalBytes: number }> {
  const layout = new StoreLayout(root);
  root = layout.root;
  const content = new ContentStore(root);
  const blobs = await listBlobs(content);
  const { needed, diffIDs } = await taggedBlobs(content);
  const snaps = await listSnapshots(root);
  const records = (await listCacheRecords(root)).filter((r) => r.rec);
  const mounts = (await fsp.readdir(layout.cacheMounts).catch(() => [] as string[])).filter((n) => !n.endsWith('.lock') && !n.endsWith('.init'));
  const sources = [layout.gitSources, layout.httpSources];
  const snapDirs = snaps.map((s) => s.dir);
  const sizes = await diskUsage([...snapDirs, layout.cacheMounts, ...sources, layout.tmp, layout.cache, layout.gzipMembers]);
  const keep = keptSnapshots(snaps, needed, diffIDs);
  const entries: UsageEntry[] = [
    {
      kind: 'blobs',
      count: blobs.length,
      bytes: blobs.reduce((a, b) => a + b.size, 0),
      inUseBytes: blobs.filter((b) => needed.has(b.digest)).reduce((a, b) => a + b.size, 0),
    },
    {
      kind: 'snapshots',
      count: snaps.length,
      bytes: snapDirs.reduce((a, d) => a + (sizes.get(d) ?? 0), 0),
      inUseBytes: snaps.filter((s) => keep.has(s.id)).reduce((a, s) => a + (sizes.get(s.dir) ?? 0), 0),
    },
    {
      kind: 'cache-records',
      count: records.length,
      bytes: (sizes.get(layout.cache) ?? 0) + (sizes.get(layout.gzipMembers) ?? 0),
      detail: 'step records and the gzip member index',
    },
    { kind: 'cache-mounts', count: mounts.length, bytes: sizes.get(layout.cacheMounts) ?? 0 },
    {
      kind: 'sources',
      count: (await Promise.all(sources.map((s) => fsp.readdir(s).catch(() => [])))).reduce((a, l) => a + l.filter((n) => !n.endsWith('.json')).length, 0),
      bytes: sources.reduce((a, s) => a + (sizes.get(s) ?? 0), 0),
      detail: 'git mirrors and downloads',
    },
    { kind: 'tmp', count: (await fsp.readdir(layout.tmp).catch(() => [])).length, bytes: sizes.get(layout.tmp) ?? 0 },
  ];
  return { root, entries, totalBytes: entries.reduce((a, e) => a + e.bytes, 0) };
}
