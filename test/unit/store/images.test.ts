import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { ContentStore } from '../../../src/store/content.js';
import { ImageStore } from '../../../src/store/images.js';
import { MediaTypes } from '../../../src/store/types.js';
import { InputError } from '../../../src/util/errors.js';

let dir: string;
before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-images-'));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test('tag / resolve / list / remove', async () => {
  const cs = new ContentStore(path.join(dir, 's1'));
  await cs.init();
  const images = new ImageStore(cs);
  const m1 = await cs.putJSON({ schemaVersion: 2, mediaType: MediaTypes.manifest, n: 1 });
  const m2 = await cs.putJSON({ schemaVersion: 2, mediaType: MediaTypes.manifest, n: 2 });
  const d1 = { mediaType: MediaTypes.manifest, ...m1 };
  const d2 = { mediaType: MediaTypes.manifest, ...m2 };
  await images.tag('foo', d1);
  await images.tag('example.com:5000/a/b:1.0', d2);
  assert.deepEqual(await images.resolve('foo'), d1);
  assert.deepEqual(await images.resolve('foo:latest'), d1);
  assert.deepEqual(await images.resolve('localhost/foo:latest'), d1);
  assert.equal(await images.resolve('foo:2'), undefined);
  assert.deepEqual(await images.resolve('example.com:5000/a/b:1.0'), d2);
  assert.deepEqual(await images.resolve(`foo@${m1.digest}`), d1);
  // a digest reference finds the manifest blob even when untagged under that name
  assert.deepEqual(await images.resolve(`other@${m2.digest}`), d2);
  assert.equal(await images.resolve(`other@sha256:${'0'.repeat(64)}`), undefined);
  assert.deepEqual(
    (await images.list()).map((e) => e.name),
    ['example.com:5000/a/b:1.0', 'localhost/foo:latest'],
  );
  // retag moves the name
  await images.tag('foo', d2);
  assert.deepEqual(await images.resolve('foo'), d2);
  assert.equal((await images.list()).length, 2);
  // tagging the manifest a name already points at (a no-op rebuild) rewrites nothing
  const before = await fsp.stat(path.join(cs.root, 'index.json'));
  await images.tag('foo', d2);
  assert.equal((await fsp.stat(path.join(cs.root, 'index.json'))).ino, before.ino);
  // index.json stays a valid OCI index naming each manifest
  const idx = JSON.parse(await fsp.readFile(path.join(cs.root, 'index.json'), 'utf8'));
  assert.equal(idx.schemaVersion, 2);
  assert.equal(idx.manifests.length, 2);
  assert.ok(idx.manifests.every((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']));
  assert.equal(await images.remove('foo'), true);
  assert.equal(await images.remove('foo'), false);
  assert.equal(await images.resolve('foo'), undefined);
  assert.deepEqual((await images.list()).map((e) => e.name), ['example.com:5000/a/b:1.0']);
  await assert.rejects(images.tag('Bad Name', d1), InputError);
  assert.deepEqual(await fsp.readdir(cs.tmpDir), []);
});

test('concurrent tags from two processes lose nothing', async () => {
  const cs = new ContentStore(path.join(dir, 's2'));
  await cs.init();
  const m = await cs.putJSON({ schemaVersion: 2 });
  const helper = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tag-worker.ts');
  const N = 25;
  const runWorker = (prefix: string) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', helper, cs.root, prefix, String(N), m.digest], { stdio: ['ignore', 'inherit', 'inherit'] });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`tag worker ${prefix} exited with ${code}`));
      });
    });
  // also tag from this process at the same time
  const images = new ImageStore(cs);
  const local = (async () => {
    for (let i = 0; i < N; i++) await images.tag(`main-${i}`, { mediaType: MediaTypes.manifest, ...m });
  })();
  await Promise.all([runWorker('w1'), runWorker('w2'), local]);
  const names = (await images.list()).map((e) => e.name);
  assert.equal(names.length, 3 * N);
  for (const p of ['w1', 'w2', 'main']) for (let i = 0; i < N; i++) assert.ok(names.includes(`localhost/${p}-${i}:latest`), `${p}-${i}`);
  await assert.rejects(fsp.access(path.join(cs.root, 'index.json.lock')));
});
