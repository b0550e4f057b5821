import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeLayer } from '../../../src/exporter/index.js';
import { ContentStore } from '../../../src/store/index.js';
import { keepOutput, run } from '../../../src/util/exec.js';

describe('output of a child read after it exits', () => {
  it('keepOutput holds what the child wrote', async () => {
    const child = spawn('printf', ['still here'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const held = keepOutput(child.stdout);
    await new Promise((resolve) => child.on('close', resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    let text = '';
    for await (const c of held) text += (c as Buffer).toString();
    assert.equal(text, 'still here');
  });

  it('a tiny layer compressed by zstd is whole every time (zstd exits before the store reads it)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stratum-zstd-'));
    try {
      const tree = path.join(dir, 'tree');
      await run('mkdir', ['-p', tree]);
      await writeFile(path.join(tree, 'hello.txt'), 'hello\n');
      const store = new ContentStore(path.join(dir, 'store'));
      await store.init();
      for (let i = 0; i < 6; i++) {
        const l = await writeLayer(tree, store, { compression: i % 2 ? 'zstd' : 'gzip' });
        const tool = i % 2 ? 'zstd' : 'gzip';
        const listed = await run('sh', ['-c', `${tool} -dc "$1" | tar -tf -`, 'sh', store.blobPath(l.digest)]);
        assert.equal(listed.stdout, 'hello.txt\n', `${tool} run ${i}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
