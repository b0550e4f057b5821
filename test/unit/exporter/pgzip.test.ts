import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import * as zlib from 'node:zlib';
import { ParallelGzip } from '../../../src/exporter/pgzip.js';
import { run } from '../../../src/util/exec.js';

/** Compressible but not trivial: text lines with counters, in uneven chunks. */
function input(bytes: number): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let len = 0; len < bytes; n++) {
    const l = `line ${n} ${createHash('md5').update(String(n % 997)).digest('hex')}\n`;
    lines.push(l);
    len += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function compress(data: Buffer, block?: number): Promise<Buffer> {
  const chunks = [];
  for (let i = 0; i < data.length; i += 100_003) chunks.push(data.subarray(i, i + 100_003));
  return buffer(Readable.from(chunks).pipe(new ParallelGzip(6, block)));
}

describe('parallel gzip', () => {
  it('gives what plain gzip gives for an input under one block', async () => {
    const data = input(300_000);
    assert.deepEqual(await compress(data), zlib.gzipSync(data, { level: 6 }));
    assert.deepEqual(await compress(Buffer.alloc(0)), zlib.gzipSync(Buffer.alloc(0), { level: 6 }));
  });

  it('writes members that gzip(1) reads back as the input, the same every time', async () => {
    const data = input(9 * 1024 * 1024 + 12345);
    const a = await compress(data, 1024 * 1024);
    const b = await compress(data, 1024 * 1024);
    assert.deepEqual(a, b);
    const out = await run('sh', ['-c', 'gzip -dc | sha256sum'], { input: a });
    assert.equal(out.stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'));
    // Ten members of 1 MiB cost little against one stream.
    assert.ok(a.length < zlib.gzipSync(data, { level: 6 }).length * 1.02);
  });
});
