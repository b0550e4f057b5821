import { existsSync, mkdirSync, promises as fsp, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { StratumError } from '../util/errors.js';
import { StoreLayout } from './layout.js';
import { pidAlive } from './lock.js';
import { secureStoreRoot } from './root.js';

/**
 * The store lock: builds hold it shared, prune holds it exclusive. Holders are files named after their process, so a
* holder killed with SIGKILL is recognised as dead (its pid is gone) and ignored; no lock outlives its process.
 */

export type LockMode = 'shared' | 'exclusive';
export type Release = () => Promise<void>;

const ME = `${hostname()} ${process.pid}`;

export function lockDir(root: string): string {
  return new StoreLayout(root).lock;
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
export const SWEEP_DUE = 'sweep-due';

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
