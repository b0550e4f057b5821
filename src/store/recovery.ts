/**
 * Recovery after a crash: what a killed build left in tmp/ (staging dirs, and through the worker's Reaper, its
 * overlay mounts and runc containers), half-written records. The store does not run containers or mount anything
 * itself; the Reaper is how it asks the part that does.
 */
import { promises as fsp, readdirSync } from 'node:fs';
import path from 'node:path';
import { diskUsage, listSnapshots } from './inventory.js';
import { BUILD_STAGING, CONTAINER_PREFIX, StoreLayout } from './layout.js';
import { SWEEP_DUE, tryExclusive } from './storelock.js';

/** What undoes the mounts and containers a killed build left (worker/reaper.ts). */
export interface Reaper {
  /** Deletes the runc containers of these names, running or not; returns how many there were. */
  deleteContainers(ids: string[]): Promise<number>;
  /** Unmounts everything mounted at or below `dir`, deepest first; returns how many. */
  unmountUnder(dir: string): Promise<number>;
}

export interface Swept {
  unmounted: number;
  containers: number;
  removed: number;
}

/**
 * Removes what a killed build left in tmp/: overlay mounts (lazily unmounted), runc containers of its bundles,
 * staging dirs and temp files. Only call it holding the exclusive lock: then no build is using tmp/, so build
 * staging goes whatever its age. Other files newer than `minAgeMs` are left alone, for writers that do not take
 * the store lock (pulls, imports, bootstrap).
 */
export async function sweepTmp(root: string, reaper: Reaper, minAgeMs = 60 * 60_000): Promise<Swept> {
  const layout = new StoreLayout(root);
  root = layout.root;
  const tmp = layout.tmp;
  let removed = 0;
  const ids = (await fsp.readdir(layout.bundles).catch(() => [] as string[])).filter((n) => n.startsWith(CONTAINER_PREFIX));
  const containers = await reaper.deleteContainers(ids);
  const unmounted = await reaper.unmountUnder(tmp);
  const now = Date.now();
  const removeOld = async (dir: string) => {
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      const p = path.join(dir, name);
      if (p === layout.bundles) {
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
  for (const sub of await fsp.readdir(layout.cache).catch(() => [] as string[])) {
    const d = path.join(layout.cache, sub);
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
  await fsp.rm(path.join(layout.lock, SWEEP_DUE), { force: true });
  return { unmounted, containers, removed };
}

/**
 * Cleans up after crashed builds when nothing else is using the store; does nothing (and never waits) otherwise.
 * True when the store is clear of leftovers (swept now, or nothing to sweep), false when another process holds it.
 */
export async function recoverStore(root: string, reaper: Reaper): Promise<boolean> {
  // Every build starts here: the sweep reads the whole cache and every snapshot, so it runs only when something
  // may need it. Whatever holds the store leaves a file in the lock dir (and a dead holder leaves SWEEP_DUE); a
  // killed build's staging, mounts and containers sit in tmp/, and so do the temp files of lock-free writers.
  if (!mayNeedSweep(root)) return true;
  const release = await tryExclusive(root);
  if (!release) return false;
  try {
    await sweepTmp(root, reaper);
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
  const layout = new StoreLayout(root);
  if (list(layout.lock).length > 0) return true;
  const entries = list(layout.tmp);
  if (entries.some((n) => n !== 'bundles')) return true;
  return entries.length > 0 && list(layout.bundles).length > 0;
}

/**
 * Clears what killed builds left (mounts, containers, staging in tmp/) when nobody is using the store, and says
 * what went; undefined when the store is in use (then a build's staging cannot be told from a leftover).
 */
export async function clearLeftovers(root: string, reaper: Reaper): Promise<(Swept & { bytes: number }) | undefined> {
  const release = await tryExclusive(root);
  if (!release) return undefined;
  try {
    const tmp = new StoreLayout(root).tmp;
    const before = (await diskUsage([tmp])).get(tmp) ?? 0;
    const swept = await sweepTmp(root, reaper);
    const after = (await diskUsage([tmp])).get(tmp) ?? 0;
    return { ...swept, bytes: Math.max(0, before - after) };
  } finally {
    await release();
  }
}
