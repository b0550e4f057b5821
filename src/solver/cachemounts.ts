import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { withFileLock } from '../store/index.js';

export interface Lease {
  dir: string;
  release: () => Promise<void>;
}

/**
 * `RUN --mount=type=cache` directories, kept between builds by id. sharing=shared lets any
 * number of steps use one dir; locked makes them take turns (across processes too);
 * private gives a step its own dir when another holds the usual one.
 */
export class CacheMounts {
  private readonly inUse = new Set<string>();

  constructor(readonly dir: string) {}

  private pathFor(id: string): string {
    return path.join(this.dir, createHash('sha256').update(id).digest('hex').slice(0, 32));
  }

  async acquire(id: string, sharing: 'shared' | 'private' | 'locked'): Promise<Lease> {
    const dir = this.pathFor(id);
    await this.ensure(dir);
    if (sharing === 'shared') return { dir, release: async () => undefined };
    if (sharing === 'private') {
      if (!this.inUse.has(dir)) {
        this.inUse.add(dir);
        return { dir, release: async () => void this.inUse.delete(dir) };
      }
      const own = `${dir}-private-${randomBytes(4).toString('hex')}`;
      await this.ensure(own);
      return { dir: own, release: () => rm(own, { recursive: true, force: true }) };
    }
    // locked: hold a lock file for the whole step; withFileLock gives us a scope, so keep it open.
    let releaseLock!: () => void;
    const held = new Promise<void>((r) => (releaseLock = r));
    let acquired!: () => void;
    const ready = new Promise<void>((r) => (acquired = r));
    // Held for the whole step, which may run for long: only a dead holder's lock is broken.
    const done = withFileLock(
      `${dir}.lock`,
      async () => {
        acquired();
        await held;
      },
      6 * 60 * 60_000,
      Infinity,
    );
    await Promise.race([ready, done]);
    return {
      dir,
      release: async () => {
        releaseLock();
        await done;
      },
    };
  }

  /** A dir is fresh until its first use finishes; ownership and mode are set only then. */
  async isFresh(dir: string): Promise<boolean> {
    const marker = `${dir}.init`;
    if (await stat(marker).catch(() => undefined)) return false;
    await writeFile(marker, '');
    return (await readdir(dir)).length === 0;
  }

  private async ensure(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }
}
