import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { StratumError } from '../util/errors.js';

const STALE_MS = 120_000;

/** True while process `pid` exists (on this host). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, so it works across processes).
 * A lock left by a dead process on this host, or older than two minutes, is broken.
 */
export async function withFileLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  timeoutMs = 60_000,
  /** Age after which a lock whose owner seems alive is still broken; long holders pass Infinity. */
  staleMs = STALE_MS,
): Promise<T> {
  const owner = `${hostname()} ${process.pid} ${Date.now()}`;
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, 'wx', 0o644);
      try {
        await fh.writeFile(owner);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    await breakIfStale(lockPath, staleMs);
    if (Date.now() > deadline) throw new StratumError(`timed out waiting for lock ${lockPath}`);
    await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 50);
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockPath, { force: true });
  }
}

async function breakIfStale(lockPath: string, staleMs: number): Promise<void> {
  let content: string;
  let mtimeMs: number;
  try {
    content = await fsp.readFile(lockPath, 'utf8');
    mtimeMs = (await fsp.stat(lockPath)).mtimeMs;
  } catch {
    return;
  }
  const [host, pidStr] = content.split(' ');
  const pid = Number(pidStr);
  // An empty file is a lock whose owner has not written yet: only its age can make it stale.
  const deadOwner = content !== '' && host === hostname() && Number.isInteger(pid) && pid > 0 && !pidAlive(pid);
  if (deadOwner || Date.now() - mtimeMs > staleMs) {
    // Re-check the content right before removing so we do not remove a lock just taken by someone else.
    const again = await fsp.readFile(lockPath, 'utf8').catch(() => undefined);
    if (again === content) await fsp.rm(lockPath, { force: true });
  }
}
