import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { ContentStore } from '../store/content.js';

let gzipAsync: ((data: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>) | undefined;

/** Where one gzip member sits in a stored blob. */
export interface MemberPlace {
  key: string;
  offset: number;
  length: number;
  /** Taken from another blob, whose index entry stays as it is. */
  reused: boolean;
}

/**
 * gzip that uses every core and does not redo work: each input segment becomes its own gzip member, compressed
 * on libuv's thread pool with several in flight, and written in order. A stream of gzip members is one valid
 * gzip file (RFC 1952). A segment compressed before, in any layer still in the store, is copied from that blob
 * instead: zlib gives the same bytes for the same input and level, so the result is byte for byte what
 * compressing it again would give. A single segment gives exactly what plain gzip gives.
 */
export function gzipMembers(segments: Iterable<Buffer>, opts: { level: number; index?: MemberIndex }): AsyncIterable<Buffer> & {
  written: MemberPlace[];
  reusedBytes: number;
} {
  const width = Math.max(2, os.availableParallelism() + 1);
  // Made on first use, so that starting the CLI does not load zlib (see LAZY_BUILTINS in scripts/bundle.ts).
  const gzip = (gzipAsync ??= promisify(zlib.gzip));
  const out = {
    written: [] as MemberPlace[],
    reusedBytes: 0,
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      const queue: { key: string; member: Promise<Buffer>; reused: boolean }[] = [];
      let offset = 0;
      const emit = async () => {
        const { key, member, reused } = queue.shift()!;
        const bytes = await member;
        out.written.push({ key, offset, length: bytes.length, reused });
        offset += bytes.length;
        return bytes;
      };
      for (const seg of segments) {
        const key = memberKey(seg, opts.level);
        const known = opts.index?.lookup(key, seg);
        if (known) out.reusedBytes += seg.length;
        queue.push({ key, member: known ? Promise.resolve(known) : gzip(seg, { level: opts.level }), reused: known !== undefined });
        // At most `width` members in flight: enough to fill the cores, bounded in memory.
        while (queue.length >= width) yield await emit();
      }
      while (queue.length) yield await emit();
    },
  };
  return out;
}

function memberKey(seg: Buffer, level: number): string {
  return createHash('sha256').update(`gzip-${level}\0`).update(seg).digest('hex');
}

/**
 * Remembers where each compressed segment lives: `gzip-members/<2 hex>/<62 hex>` holds "<blob digest> <offset>
 * <length>". An entry is a hint, never trusted alone: the blob must still exist and the member found there must
 * be a gzip member whose trailer (CRC-32 and length of its input) matches the segment, else it is not used.
 */
export class MemberIndex {
  private constructor(
    readonly dir: string,
    private readonly blobPath: (digest: string) => string,
  ) {}

  static of(store: ContentStore): MemberIndex {
    return new MemberIndex(path.join(store.root, 'gzip-members'), (d) => store.blobPath(d));
  }

  private entry(key: string): string {
    return path.join(this.dir, key.slice(0, 2), key.slice(2));
  }

  lookup(key: string, seg: Buffer): Buffer | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.entry(key), 'utf8');
    } catch {
      return undefined;
    }
    const m = /^(sha256:[a-f0-9]{64}) (\d+) (\d+)\n?$/.exec(text);
    if (!m) return undefined;
    const [offset, length] = [Number(m[2]), Number(m[3])];
    if (length < 18) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(this.blobPath(m[1]!), 'r');
    } catch {
      return undefined;
    }
    try {
      const bytes = Buffer.allocUnsafe(length);
      if (fs.readSync(fd, bytes, 0, length, offset) !== length) return undefined;
      const crc = bytes.readUInt32LE(length - 8);
      const isize = bytes.readUInt32LE(length - 4);
      const ok = bytes[0] === 0x1f && bytes[1] === 0x8b && isize === seg.length % 2 ** 32 && crc === zlib.crc32(seg);
      return ok ? bytes : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Records the members of a blob now stored. Losing an entry (a crash) only costs compressing it again. */
  async record(digest: string, members: MemberPlace[]): Promise<void> {
    const made = new Set<string>();
    for (const m of members) {
      if (m.reused) continue;
      const file = this.entry(m.key);
      const sub = path.dirname(file);
      if (!made.has(sub)) {
        await fs.promises.mkdir(sub, { recursive: true });
        made.add(sub);
      }
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await fs.promises.writeFile(tmp, `${digest} ${m.offset} ${m.length}\n`);
      await fs.promises.rename(tmp, file);
    }
  }
}
