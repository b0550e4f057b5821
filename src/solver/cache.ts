import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, utimesSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { atomicWrite, type CacheRecord } from '../store/index.js';

export type { CacheRecord };

/** Step cache: key -> snapshot. Records are written after their snapshot is complete. */
export class CacheIndex {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
  }

  private file(key: string): string {
    const hex = key.replace(/^sha256:/, '');
    return path.join(this.dir, hex.slice(0, 2), `${hex}.json`);
  }

  // get and touch run for every step of every build and read or stamp one small file: synchronous calls take
  // microseconds, where a promise-based read makes four round trips through libuv's thread pool.
  async get(key: string): Promise<CacheRecord | undefined> {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as CacheRecord;
    } catch {
      return undefined;
    }
  }

  async put(rec: CacheRecord): Promise<void> {
    const file = this.file(rec.key);
    await mkdir(path.dirname(file), { recursive: true });
    await atomicWrite(file, JSON.stringify(rec));
  }

  /** Marks a record as just used: prune's --keep-storage and until= filter go by last use. */
  async touch(key: string): Promise<void> {
    const now = new Date();
    try {
      utimesSync(this.file(key), now, now);
    } catch {
      // gone meanwhile (a prune): nothing to mark
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}

/** A cache key: sha256 over the parts, each length-prefixed so no two lists collide. */
export function cacheKey(...parts: (string | undefined)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const s = p ?? '\u0000undefined';
    h.update(`${Buffer.byteLength(s)}:`);
    h.update(s);
  }
  return `sha256:${h.digest('hex')}`;
}
