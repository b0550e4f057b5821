import os from 'node:os';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { MemberIndex } from '../store/members.js';

let gzipAsync: ((data: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>) | undefined;

/** Where one gzip member went in the blob being written. */
export interface WrittenMember {
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
 * instead (found through the store's MemberIndex): zlib gives the same bytes for the same input and level, so the
 * result is byte for byte what compressing it again would give. A single segment gives exactly what plain gzip
 * gives.
 */
export function gzipMembers(segments: Iterable<Buffer>, opts: { level: number; index?: MemberIndex }): AsyncIterable<Buffer> & {
  written: WrittenMember[];
  reusedBytes: number;
} {
  const width = Math.max(2, os.availableParallelism() + 1);
  // Made on first use, so that starting the CLI does not load zlib (see LAZY_BUILTINS in scripts/bundle.ts).
  const gzip = (gzipAsync ??= promisify(zlib.gzip));
  const out = {
    written: [] as WrittenMember[],
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
        const known = opts.index && storedMember(opts.index, key, seg);
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
 * The member recorded under `key` in the store's member index, if it is really the gzip member of `seg`: a gzip
 * header, and a trailer whose CRC-32 and length are those of the segment.
 */
function storedMember(index: MemberIndex, key: string, seg: Buffer): Buffer | undefined {
  const bytes = index.read(key);
  if (!bytes || bytes.length < 18) return undefined;
  const crc = bytes.readUInt32LE(bytes.length - 8);
  const isize = bytes.readUInt32LE(bytes.length - 4);
  return bytes[0] === 0x1f && bytes[1] === 0x8b && isize === seg.length % 2 ** 32 && crc === zlib.crc32(seg) ? bytes : undefined;
}
