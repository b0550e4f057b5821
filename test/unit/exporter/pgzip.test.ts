import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { gzipMembers } from '../../../src/exporter/pgzip.js';
import { ContentStore, MemberIndex } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';

/** Compressible but not trivial: text lines with counters. */
function input(bytes: number, salt = ''): Buffer {
  const lines: string[] = [];
  let n = 0;
  for (let len = 0; len < bytes; n++) {
    const l = `line ${n} ${createHash('md5').update(salt + String(n % 997)).digest('hex')}\n`;
    lines.push(l);
    len += l.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(b);
  return Buffer.concat(out);
}

const MiB = 1024 * 1024;

describe('gzip members', () => {
  it('gives what plain gzip gives for a single segment', async () => {
    const data = input(300_000);
    assert.deepEqual(await collect(gzipMembers([data], { level: 6 })), zlib.gzipSync(data, { level: 6 }));
    assert.deepEqual(await collect(gzipMembers([Buffer.alloc(0)], { level: 6 })), zlib.gzipSync(Buffer.alloc(0), { level: 6 }));
  });

  it('writes members that gzip(1) reads back as the input, the same every time', async () => {
    const segs = Array.from({ length: 9 }, (_, i) => input(MiB + i * 777, String(i)));
    const a = await collect(gzipMembers(segs, { level: 6 }));
    const b = await collect(gzipMembers(segs, { level: 6 }));
    assert.deepEqual(a, b);
    const out = await run('sh', ['-c', 'gzip -dc | sha256sum'], { input: a });
    assert.equal(out.stdout.split(' ')[0], createHash('sha256').update(Buffer.concat(segs)).digest('hex'));
    // Nine members of 1 MiB cost little against one stream.
    assert.ok(a.length < zlib.gzipSync(Buffer.concat(segs), { level: 6 }).length * 1.02);
  });

  it('reuses members of stored blobs, giving the very bytes compression gives, and ignores entries that lie', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stratum-pgzip-'));
    try {
      const store = new ContentStore(dir);
      await store.init();
      const index = MemberIndex.of(store);
      const segs = Array.from({ length: 5 }, (_, i) => input(MiB, `v1-${i}`));
      const first = gzipMembers(segs, { level: 6, index });
      const blob = await store.ingest(first);
      await index.record(blob.digest, first.written);
      assert.equal(first.reusedBytes, 0);
      assert.equal(first.written.length, 5);

      // One segment changed: the other four come from the first blob.
      const changed = [...segs];
      changed[2] = input(MiB, 'v2-2');
      const second = gzipMembers(changed, { level: 6, index });
      const bytes = await collect(second);
      assert.equal(second.reusedBytes, 4 * MiB);
      assert.deepEqual(bytes, await collect(gzipMembers(changed, { level: 6 })));

      // Another level is another member.
      const other = gzipMembers(segs, { level: 1, index });
      await collect(other);
      assert.equal(other.reusedBytes, 0);

      // Entries that point at the wrong place, or at a blob that is gone, are not used.
      const files = (await readdir(index.dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      for (const f of files) await writeFile(path.join(f.parentPath, f.name), `${blob.digest} 0 ${MiB}\n`);
      const lied = gzipMembers(segs, { level: 6, index });
      assert.deepEqual(await collect(lied), await collect(gzipMembers(segs, { level: 6 })));
      assert.equal(lied.reusedBytes, 0);
      await store.delete(blob.digest);
      await index.record(blob.digest, first.written);
      const gone = gzipMembers(segs, { level: 6, index });
      await collect(gone);
      assert.equal(gone.reusedBytes, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
