import os from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const gzipAsync = promisify(zlib.gzip);

/** Uncompressed bytes per gzip member: big enough that splitting costs under 1 % in size. */
export const PGZIP_BLOCK = 4 * 1024 * 1024;

/**
 * gzip that uses every core: the input is cut at fixed offsets into blocks, each block becomes
 * its own gzip member on libuv's thread pool, and the members are written in order. A stream of
 * gzip members is one valid gzip file (RFC 1952), and the fixed cut points keep the output the
 * same for the same input on any machine. An input smaller than one block gives exactly what a
 * plain gzip stream of it gives.
 */
export class ParallelGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private readonly queue: Promise<Buffer>[] = [];
  private readonly width: number;

  constructor(
    private readonly level = 6,
    private readonly block = PGZIP_BLOCK,
  ) {
    super({ highWaterMark: block });
    this.width = Math.max(2, os.availableParallelism() + 1);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    this.cutBlocks()
      .then(() => cb())
      .catch(cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.pendingLen > 0 || this.queue.length === 0) this.start(this.takeAll());
    this.drain(0)
      .then(() => cb())
      .catch(cb);
  }

  private async cutBlocks(): Promise<void> {
    while (this.pendingLen >= this.block) {
      const all = this.takeAll();
      this.start(all.subarray(0, this.block));
      const rest = all.subarray(this.block);
      if (rest.length > 0) {
        this.pending.push(rest);
        this.pendingLen = rest.length;
      }
      // Keep at most `width` blocks in flight: enough to fill the cores, bounded in memory.
      await this.drain(this.width - 1);
    }
  }

  private takeAll(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    this.pending = [];
    this.pendingLen = 0;
    return all;
  }

  private start(data: Buffer): void {
    this.queue.push(gzipAsync(data, { level: this.level }));
  }

  private async drain(keep: number): Promise<void> {
    while (this.queue.length > keep) this.push(await this.queue.shift()!);
  }
}
