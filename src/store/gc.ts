import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, promises as fsp, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { run } from '../util/exec.js';
import { hashFile } from '../util/hash.js';
import { pidAlive } from './lock.js';
import { secureStoreRoot } from './root.js';
import { InputError, StratumError } from '../util/errors.js';
import { ContentStore } from './content.js';
import { ImageStore } from './images.js';
import { MemberIndex } from './members.js';
import { isIndexMediaType, type Descriptor, type Index, type Manifest } from './types.js';

/*
 * Store layout this module looks after (see solver/session.ts):
 *   blobs/sha256/<hex>                  content store
 *   index.json                          tags
 *   snapshots/<12 hex>/{fs,meta.json}   snapshots; snapshots/by-diffid/<hex> -> id; snapshots/empty
 *   cache/<2 hex>/<64 hex>.json         step cache records {key, snapshot, created, createdBy}
 *   cache-mounts/<id hash>[...]         RUN --mount=type=cache directories
 *   gzip-members/<2 hex>/<62 hex>       where a compressed tar segment sits in a layer blob (exporter/pgzip.ts)
 *   sources/{git,http}                  fetched sources
 *   tmp/                                staging (snapshots being made, mounts, runc bundles)
 *   locks/store/                        the store lock (below)
 */

// ---------------------------------------------------------------------------------------------------------------
// Store lock: builds hold it shared, prune holds it exclusive. Holders are files named after their process, so a
// holder killed with SIGKILL is recognised as dead (its pid is gone) and ignored; no lock outlives its process.

export type LockMode = 'shared' | 'exclusive';
export type Release = () => Promise<void>;

const ME = `${hostname()} ${process.pid}`;

function lockDir(root: string): string {
  return path.join(path.resolve(root), 'locks', 'store');
}


/** A holder file's owner is alive (or on another host, where we cannot tell). */
async function holderAlive(file: string): Promise<boolean> {
  const owner = await fsp.readFile(file, 'utf8').catch(() => undefined);
  if (owner === undefined) return false;
  if (owner === '') {
    // Being written right now by its owner; only age can make an empty file stale.
    const st = await fsp.stat(file).catch(() => undefined);
    return !!st && Date.now() - st.mtimeMs < 60_000;
  }
  const [host, pid] = owner.split(' ');
  if (host !== hostname()) return true;
  return pidAlive(Number(pid));
}

/**
 * Left in the lock dir once a holder is found dead, until a sweep has cleared what it may have left behind: the
 * dead holder's own file is removed at once, and recoverStore still has to know that a sweep is due.
 */
const SWEEP_DUE = 'sweep-due';

async function liveShared(dir: string): Promise<string[]> {
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith('shared-'));
  const live: string[] = [];
  for (const n of names) {
    const f = path.join(dir, n);
    if (await holderAlive(f)) {
      live.push(n);
    } else {
      await fsp.writeFile(path.join(dir, SWEEP_DUE), '');
      await fsp.rm(f, { force: true });
    }
  }
  return live;
}

/** Takes the exclusive file, breaking it when its owner died. True when we hold it. */
async function takeExclusive(dir: string): Promise<boolean> {
  const file = path.join(dir, 'exclusive');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.writeFile(file, ME, { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const before = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (before === undefined) continue;
    if (await holderAlive(file)) return false;
    const again = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (again === before) {
      await fsp.writeFile(path.join(dir, SWEEP_DUE), '');
      await fsp.rm(file, { force: true });
    }
  }
  return false;
}

export interface LockOptions {
  /** Give up after this long (default: 10 minutes). 0 = try once. */
  timeoutMs?: number;
  /** Called once when the lock is busy and we start waiting. */
  onWait?: (what: string) => void;
}

let sharedCount = 0;

/** unlink, where ENOENT is fine (fs.rmSync would load its recursive remover to do the same). */
function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Takes the store-wide lock of the store at `root` and returns its release function. Any number of shared holders
 * (builds) may hold it at once; an exclusive holder (prune) waits until they are done, and no shared holder starts
 * while one waits or holds it. Locks of processes that died are ignored.
 */
export async function storeLock(root: string, mode: LockMode, opts: LockOptions = {}): Promise<Release> {
  secureStoreRoot(path.resolve(root));
  const dir = lockDir(root);
  // The shared path runs at the start and end of every build: tiny synchronous calls, no thread-pool round trips.
  mkdirSync(dir, { recursive: true });
  const timeout = opts.timeoutMs ?? 10 * 60_000;
  const deadline = Date.now() + timeout;
  let waited = false;
  let delay = 5;
  const wait = async (what: string) => {
    if (Date.now() >= deadline) throw new StratumError(`the store ${root} is busy (${what}); gave up after ${Math.round(timeout / 1000)}s`);
    if (!waited) opts.onWait?.(what);
    waited = true;
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 200);
  };
  if (mode === 'shared') {
    // Unique without random bytes, which would cost every build the CSPRNG's start-up: pid, time and a count (bake
    // holds several in one process); the time keeps a reused pid from taking over a dead holder's file.
    const mine = path.join(dir, `shared-${process.pid}-${Date.now().toString(36)}-${++sharedCount}`);
    for (;;) {
      // Announce first, then look for a writer: a writer does the opposite, so one of us always sees the other.
      writeFileSync(mine, ME);
      const writer = path.join(dir, 'exclusive');
      if (!existsSync(writer) || !(await holderAlive(writer))) {
        return async () => unlinkQuietly(mine);
      }
      unlinkQuietly(mine);
      await wait('a prune is running');
    }
  }
  while (!(await takeExclusive(dir))) await wait('another prune is running');
  const release: Release = async () => {
    await fsp.rm(path.join(dir, 'exclusive'), { force: true });
  };
  try {
    for (;;) {
      const live = await liveShared(dir);
      if (live.length === 0) return release;
      await wait(`${live.length} build(s) running`);
    }
  } catch (e) {
    await release();
    throw e;
  }
}

export async function withStoreLock<T>(root: string, mode: LockMode, fn: () => Promise<T>, opts?: LockOptions): Promise<T> {
  const release = await storeLock(root, mode, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** The exclusive lock if nobody holds the store right now, else undefined (never waits). */
export async function tryExclusive(root: string): Promise<Release | undefined> {
  const dir = lockDir(root);
  await fsp.mkdir(dir, { recursive: true });
  if (!(await takeExclusive(dir))) return undefined;
  if ((await liveShared(dir)).length > 0) {
    await fsp.rm(path.join(dir, 'exclusive'), { force: true });
    return undefined;
  }
  return async () => {
    await fsp.rm(path.join(dir, 'exclusive'), { force: true });
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the store

interface SnapMeta {
  id: string;
  created: string;
  layers: Record<string, { digest: string; diffID: string; size: number; mediaType: string }>;
}

interface CacheRec {
  key: string;
  snapshot: string;
  created: string;
}

const SNAP_ID = /^[0-9a-f]{12}$/;
const HEX64 = /^[0-9a-f]{64}$/;

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

async function readJSON<T>(file: string): Promise<T | undefined> {
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

interface CacheRecordFile {
  file: string;
  rec?: CacheRec;
  mtimeMs: number;
}

async function listCacheRecords(root: string): Promise<CacheRecordFile[]> {
  const dir = path.join(root, 'cache');
  const out: CacheRecordFile[] = [];
  for (const sub of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await fsp.readdir(path.join(dir, sub)).catch(() => [] as string[])) {
      const file = path.join(dir, sub, name);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) continue;
      out.push({ file, rec: name.endsWith('.json') ? await readJSON<CacheRec>(file) : undefined, mtimeMs: st.mtimeMs });
    }
  }
  return out;
}

async function listSnapshots(root: string): Promise<{ id: string; dir: string; meta?: SnapMeta; mtimeMs: number }[]> {
  const dir = path.join(root, 'snapshots');
  const out = [];
  for (const id of await fsp.readdir(dir).catch(() => [] as string[])) {
    if (!SNAP_ID.test(id)) continue;
    const d = path.join(dir, id);
    const meta = await readJSON<SnapMeta>(path.join(d, 'meta.json'));
    const st = await fsp.stat(d).catch(() => undefined);
    out.push({ id, dir: d, meta, mtimeMs: meta ? Date.parse(meta.created) || (st?.mtimeMs ?? 0) : (st?.mtimeMs ?? 0) });
  }
  return out;
}

/** Every blob the tagged images need: manifests (and indexes), configs, layers. Missing ones are listed apart. */
async function taggedBlobs(content: ContentStore): Promise<{ needed: Set<string>; diffIDs: Set<string>; missing: { tag: string; digest: string }[] }> {
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
      const idx = await content.readJSON<Index>(d.digest);
      for (const m of idx.manifests ?? []) await visit(tag, m);
      return;
    }
    const m = await content.readJSON<Manifest>(d.digest);
    if (m.config) {
      needed.add(m.config.digest);
      if (!(await content.has(m.config.digest))) missing.push({ tag, digest: m.config.digest });
      else {
        const cfg = await content.readJSON<{ rootfs?: { diff_ids?: string[] } }>(m.config.digest);
        for (const id of cfg.rootfs?.diff_ids ?? []) diffIDs.add(id);
      }
    }
    for (const l of m.layers ?? []) {
      needed.add(l.digest);
      if (!(await content.has(l.digest))) missing.push({ tag, digest: l.digest });
    }
  };
  for (const { name, descriptor } of await images.list()) await visit(name, descriptor);
  return { needed, diffIDs, missing };
}

async function listBlobs(content: ContentStore): Promise<{ digest: string; file: string; size: number; mtimeMs: number }[]> {
  const out = [];
  for (const name of await fsp.readdir(content.blobsDir).catch(() => [] as string[])) {
    const file = path.join(content.blobsDir, name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) continue;
    out.push({ digest: `sha256:${name}`, file, size: st.size, mtimeMs: st.mtimeMs });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// du

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
  root = path.resolve(root);
  const content = new ContentStore(root);
  const blobs = await listBlobs(content);
  const { needed, diffIDs } = await taggedBlobs(content);
  const snaps = await listSnapshots(root);
  const records = (await listCacheRecords(root)).filter((r) => r.rec);
  const mounts = (await fsp.readdir(path.join(root, 'cache-mounts')).catch(() => [] as string[])).filter((n) => !n.endsWith('.lock') && !n.endsWith('.init'));
  const sources = ['git', 'http'].map((k) => path.join(root, 'sources', k));
  const snapDirs = snaps.map((s) => s.dir);
  const sizes = await diskUsage([...snapDirs, path.join(root, 'cache-mounts'), ...sources, path.join(root, 'tmp'), path.join(root, 'cache'), path.join(root, 'gzip-members')]);
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
      bytes: (sizes.get(path.join(root, 'cache')) ?? 0) + (sizes.get(path.join(root, 'gzip-members')) ?? 0),
      detail: 'step records and the gzip member index',
    },
    { kind: 'cache-mounts', count: mounts.length, bytes: sizes.get(path.join(root, 'cache-mounts')) ?? 0 },
    {
      kind: 'sources',
      count: (await Promise.all(sources.map((s) => fsp.readdir(s).catch(() => [])))).reduce((a, l) => a + l.filter((n) => !n.endsWith('.json')).length, 0),
      bytes: sources.reduce((a, s) => a + (sizes.get(s) ?? 0), 0),
      detail: 'git mirrors and downloads',
    },
    { kind: 'tmp', count: (await fsp.readdir(path.join(root, 'tmp')).catch(() => [])).length, bytes: sizes.get(path.join(root, 'tmp')) ?? 0 },
  ];
  return { root, entries, totalBytes: entries.reduce((a, e) => a + e.bytes, 0) };
}

/** Snapshots that hold a tagged image's layer (by blob digest or diff ID). */
function keptSnapshots(snaps: { id: string; meta?: SnapMeta }[], needed: Set<string>, diffIDs: Set<string>): Set<string> {
  const keep = new Set<string>();
  for (const s of snaps) {
    for (const l of Object.values(s.meta?.layers ?? {})) {
      if (needed.has(l.digest) || diffIDs.has(l.diffID)) keep.add(s.id);
    }
  }
  return keep;
}

// ---------------------------------------------------------------------------------------------------------------
// Recovery after a crash: mounts, runc containers and staging dirs left in tmp/

/** Mount points under `dir` (deepest first), from /proc/self/mountinfo. */
async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p.startsWith(prefix)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** What builds stage in tmp/ (snapshots being made, mounts, runc bundles, sources, removals in progress). */
const BUILD_STAGING = /^(snap|ro|bind|rwbind|src|heredoc|archive|rm)-|^bundles$/;

/**
 * Removes what a killed build left in tmp/: overlay mounts (lazily unmounted), runc containers of its bundles,
 * staging dirs and temp files. Only call it holding the exclusive lock: then no build is using tmp/, so build
 * staging goes whatever its age. Other files newer than `minAgeMs` are left alone, for writers that do not take
 * the store lock (pulls, imports, bootstrap).
 */
export async function sweepTmp(root: string, minAgeMs = 60 * 60_000): Promise<{ unmounted: number; containers: number; removed: number }> {
  root = path.resolve(root);
  const tmp = path.join(root, 'tmp');
  let unmounted = 0;
  let containers = 0;
  let removed = 0;
  const bundles = path.join(tmp, 'bundles');
  const ids = (await fsp.readdir(bundles).catch(() => [] as string[])).filter((n) => n.startsWith('stratum-'));
  for (const id of ids) {
    const r = await run('runc', ['delete', '--force', id], { check: false }).catch(() => undefined);
    if (r?.code === 0) containers++;
  }
  for (const mp of await mountsUnder(tmp)) {
    const r = await run('umount', ['-l', mp], { check: false });
    if (r.code === 0) unmounted++;
  }
  const now = Date.now();
  const removeOld = async (dir: string) => {
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      const p = path.join(dir, name);
      if (dir === tmp && name === 'bundles') {
        await removeOld(p);
        continue;
      }
      const st = await fsp.lstat(p).catch(() => undefined);
      if (!st || (now - st.mtimeMs < minAgeMs && !(dir === tmp ? BUILD_STAGING.test(name) : true))) continue;
      await fsp.rm(p, { recursive: true, force: true }).catch(() => undefined);
      removed++;
    }
  };
  await removeOld(tmp);
  // Half-written records and metas (their writers died before the rename).
  for (const sub of await fsp.readdir(path.join(root, 'cache')).catch(() => [] as string[])) {
    const d = path.join(root, 'cache', sub);
    for (const name of await fsp.readdir(d).catch(() => [] as string[])) {
      if (name.endsWith('.json')) continue;
      const st = await fsp.lstat(path.join(d, name)).catch(() => undefined);
      if (st && now - st.mtimeMs >= minAgeMs) {
        await fsp.rm(path.join(d, name), { force: true });
        removed++;
      }
    }
  }
  for (const s of await listSnapshots(root)) {
    for (const name of await fsp.readdir(s.dir).catch(() => [] as string[])) {
      if (name.endsWith('.tmp')) {
        await fsp.rm(path.join(s.dir, name), { force: true });
        removed++;
      }
    }
  }
  // Swept under the exclusive lock, so no holder can have died unseen since it was taken.
  await fsp.rm(path.join(lockDir(root), SWEEP_DUE), { force: true });
  return { unmounted, containers, removed };
}

/**
 * Cleans up after crashed builds when nothing else is using the store; does nothing (and never waits) otherwise.
 * True when the store is clear of leftovers (swept now, or nothing to sweep), false when another process holds it.
 */
export async function recoverStore(root: string): Promise<boolean> {
  // Every build starts here: the sweep reads the whole cache and every snapshot, so it runs only when something
  // may need it. Whatever holds the store leaves a file in the lock dir (and a dead holder leaves SWEEP_DUE); a
  // killed build's staging, mounts and containers sit in tmp/, and so do the temp files of lock-free writers.
  if (!mayNeedSweep(root)) return true;
  const release = await tryExclusive(root);
  if (!release) return false;
  try {
    await sweepTmp(root, 60 * 60_000);
    return true;
  } finally {
    await release();
  }
}

/** False only for a store nobody holds with nothing in tmp/ but an empty bundles/ dir: the state a build leaves. */
function mayNeedSweep(root: string): boolean {
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  if (list(lockDir(root)).length > 0) return true;
  const tmp = path.join(path.resolve(root), 'tmp');
  const entries = list(tmp);
  if (entries.some((n) => n !== 'bundles')) return true;
  return entries.length > 0 && list(path.join(tmp, 'bundles')).length > 0;
}

// ---------------------------------------------------------------------------------------------------------------
// prune

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
export async function prune(root: string, o: PruneOptions = {}): Promise<PruneReport> {
  root = path.resolve(root);
  return withStoreLock(
    root,
    'exclusive',
    async () => {
      const report: PruneReport = { snapshots: 0, cacheRecords: 0, blobs: 0, cacheMounts: 0, sources: 0, tmp: 0, freedBytes: 0 };
      if (!o.dryRun) report.tmp = (await sweepTmp(root, o.tmpMinAgeMs)).removed;
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
      const snapDir = path.join(root, 'snapshots');
      for (const s of candidates) {
        report.snapshots++;
        report.freedBytes += sizes.get(s.dir) ?? 0;
        if (o.dryRun) continue;
        // Rename out of the way first, so a half-removed snapshot is never visible under its id.
        const aside = path.join(root, 'tmp', `rm-${s.id}-${randomBytes(3).toString('hex')}`);
        await fsp.mkdir(path.join(root, 'tmp'), { recursive: true });
        await fsp.rename(s.dir, aside);
        await fsp.rm(aside, { recursive: true, force: true });
      }
      if (!o.dryRun) {
        const byDiff = path.join(snapDir, 'by-diffid');
        for (const name of await fsp.readdir(byDiff).catch(() => [] as string[])) {
          const id = (await fsp.readFile(path.join(byDiff, name), 'utf8').catch(() => '')).trim();
          if (!id || doomed.has(id) || !(await exists(path.join(snapDir, id)))) await fsp.rm(path.join(byDiff, name), { force: true });
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
        const mountsDir = path.join(root, 'cache-mounts');
        const names = await fsp.readdir(mountsDir).catch(() => [] as string[]);
        const dirs = names.filter((n) => !n.includes('.'));
        const msizes = await diskUsage(dirs.map((n) => path.join(mountsDir, n)));
        for (const n of dirs) {
          report.cacheMounts++;
          report.freedBytes += msizes.get(path.join(mountsDir, n)) ?? 0;
        }
        const srcDirs = ['git', 'http'].map((k) => path.join(root, 'sources', k));
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

// ---------------------------------------------------------------------------------------------------------------
// store check

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
      const byDiff = path.join(root, 'snapshots', 'by-diffid');
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

/**
 * Clears what killed builds left (mounts, containers, staging in tmp/) when nobody is using the store, and says
 * what went; undefined when the store is in use (then a build's staging cannot be told from a leftover).
 */
export async function clearLeftovers(root: string): Promise<{ unmounted: number; containers: number; removed: number; bytes: number } | undefined> {
  root = path.resolve(root);
  const release = await tryExclusive(root);
  if (!release) return undefined;
  try {
    const tmp = path.join(root, 'tmp');
    const before = (await diskUsage([tmp])).get(tmp) ?? 0;
    const swept = await sweepTmp(root);
    const after = (await diskUsage([tmp])).get(tmp) ?? 0;
    return { ...swept, bytes: Math.max(0, before - after) };
  } finally {
    await release();
  }
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
