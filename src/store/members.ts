import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ContentStore } from './content.js';
import { StoreLayout } from './layout.js';

/** Where a compressed piece of a layer sits in a stored blob. */
export interface MemberPlace {
  digest: string;
  offset: number;
  length: number;
}

const ENTRY = /^(sha256:[a-f0-9]{64}) (\d+) (\d+)\n?$/;

/**
 * The index of compressed layer pieces (exporter/pgzip.ts): `gzip-members/<2 hex>/<62 hex>`, named by the key of
 * the piece, holds "<blob digest> <offset> <length>". Entries are hints: the blob may be gone, and what the
 * caller reads there it checks before use.
 */
export class MemberIndex {
  private constructor(
    readonly dir: string,
    private readonly content: ContentStore,
  ) {}

  static of(content: ContentStore): MemberIndex {
    return new MemberIndex(new StoreLayout(content.root).gzipMembers, content);
  }

  private entry(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key.slice(2));
  }

  private static parse(text: string): MemberPlace | undefined {
    const m = ENTRY.exec(text);
    return m ? { digest: m[1]!, offset: Number(m[2]), length: Number(m[3]) } : undefined;
  }

  /** The bytes recorded under `key`, read synchronously (a lookup per piece of a layer being written). */
  read(key: string): Buffer | undefined {
    let place: MemberPlace | undefined;
    try {
      place = MemberIndex.parse(fs.readFileSync(this.entry(key), 'utf8'));
    } catch {
      return undefined;
    }
    if (!place) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(this.content.blobPath(place.digest), 'r');
    } catch {
      return undefined;
    }
    try {
      const bytes = Buffer.allocUnsafe(place.length);
      return fs.readSync(fd, bytes, 0, place.length, place.offset) === place.length ? bytes : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Records pieces of a blob now stored. Losing an entry (a crash) only costs compressing it again. */
  async record(digest: string, pieces: { key: string; offset: number; length: number }[]): Promise<void> {
    const made = new Set<string>();
    for (const p of pieces) {
      const file = this.entry(p.key);
      const sub = path.dirname(file);
      if (!made.has(sub)) {
        await fs.promises.mkdir(sub, { recursive: true });
        made.add(sub);
      }
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await fs.promises.writeFile(tmp, `${digest} ${p.offset} ${p.length}\n`);
      await fs.promises.rename(tmp, file);
    }
  }

  /** Drops entries whose blob is gone (and half-written ones): only dead weight, since a read checks anyway. */
  async sweep(): Promise<void> {
    for (const sub of await fs.promises.readdir(this.dir).catch(() => [] as string[])) {
      for (const name of await fs.promises.readdir(path.join(this.dir, sub)).catch(() => [] as string[])) {
        const file = path.join(this.dir, sub, name);
        const place = name.endsWith('.tmp') ? undefined : MemberIndex.parse(await fs.promises.readFile(file, 'utf8').catch(() => ''));
        if (!place || !(await this.content.has(place.digest))) await fs.promises.rm(file, { force: true });
      }
      await fs.promises.rmdir(path.join(this.dir, sub)).catch(() => undefined); // only when it is empty
    }
  }
}
