import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import os, { hostname } from 'node:os';
import path from 'node:path';
import { storeLock } from '../../../src/store/index.js';
import { prune, recoverStore } from '../../../src/solver/maintenance.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function storeWithLeftovers(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'stratum-sweep-'));
  dirs.push(root);
  const tmp = path.join(root, 'tmp');
  await mkdir(path.join(tmp, 'snap-0123456789ab', 'fs'), { recursive: true });
  await mkdir(path.join(tmp, 'ro-aaaaaaaaaaaa'), { recursive: true });
  await writeFile(path.join(tmp, 'ingest-young'), 'a pull in progress');
  await writeFile(path.join(tmp, 'ingest-old'), 'left by a dead pull');
  const old = new Date(Date.now() - 2 * 3_600_000);
  await utimes(path.join(tmp, 'ingest-old'), old, old);
  await mkdir(path.join(root, 'cache', 'ab'), { recursive: true });
  await writeFile(path.join(root, 'cache', 'ab', '.tmp-123-half'), '{"key":');
  await utimes(path.join(root, 'cache', 'ab', '.tmp-123-half'), old, old);
  return root;
}

describe('crash leftovers', () => {
  it('prune removes build staging at once, other temp files only when old', async () => {
    const root = await storeWithLeftovers();
    const report = await prune(root);
    assert.equal(report.snapshots, 0);
    assert.deepEqual((await readdir(path.join(root, 'tmp'))).sort(), ['ingest-young']);
    assert.deepEqual(await readdir(path.join(root, 'cache', 'ab')), []);
  });

  it('recoverStore does nothing while a build holds the store', async () => {
    const root = await storeWithLeftovers();
    const release = await storeLock(root, 'shared');
    assert.equal(await recoverStore(root), false);
    assert.ok((await readdir(path.join(root, 'tmp'))).includes('snap-0123456789ab'));
    await release();
    assert.equal(await recoverStore(root), true);
    assert.deepEqual((await readdir(path.join(root, 'tmp'))).sort(), ['ingest-young']);
  });

  it('a build that died holding the store gets its leftovers swept, even when a live build put the sweep off', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'stratum-sweep-'));
    dirs.push(root);
    const half = path.join(root, 'cache', 'ab', '.tmp-999999999-half');
    await mkdir(path.dirname(half), { recursive: true });
    await writeFile(half, '{"key":');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(half, old, old);
    // What a SIGKILLed build leaves: its holder file, naming a process that is gone.
    await mkdir(path.join(root, 'locks', 'store'), { recursive: true });
    await writeFile(path.join(root, 'locks', 'store', 'shared-999999999-dead'), `${hostname()} 999999999`);
    const release = await storeLock(root, 'shared');
    assert.equal(await recoverStore(root), false);
    await release();
    assert.equal(await recoverStore(root), true);
    assert.deepEqual(await readdir(path.dirname(half)), []);
    assert.deepEqual(await readdir(path.join(root, 'locks', 'store')), []);
  });

  it('a store whose last build ended cleanly is not swept again', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'stratum-sweep-'));
    dirs.push(root);
    await mkdir(path.join(root, 'tmp', 'bundles'), { recursive: true });
    // Only a sweep would remove this; nothing says a build died, so none runs.
    const stray = path.join(root, 'cache', 'ab', '.tmp-stray');
    await mkdir(path.dirname(stray), { recursive: true });
    await writeFile(stray, '');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(stray, old, old);
    assert.equal(await recoverStore(root), true);
    assert.deepEqual(await readdir(path.dirname(stray)), ['.tmp-stray']);
  });
});
