import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { ContentStore } from '../../../src/store/content.js';
import { InputError } from '../../../src/util/errors.js';

let dir: string;
before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-content-'));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const sha = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function* chunks(data: Buffer, size: number): AsyncIterable<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    await new Promise((r) => setImmediate(r));
    yield data.subarray(i, i + size);
  }
}

test('init writes an OCI layout and is idempotent', async () => {
  const root = path.join(dir, 'init');
  const s = new ContentStore(root);
  await s.init();
  await s.init();
  assert.deepEqual(JSON.parse(await fsp.readFile(path.join(root, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  const idx = JSON.parse(await fsp.readFile(path.join(root, 'index.json'), 'utf8'));
  assert.equal(idx.schemaVersion, 2);
  assert.deepEqual(idx.manifests, []);
});

test('putBytes / putJSON / readBytes / readJSON / has / verify / list / delete', async () => {
  const s = new ContentStore(path.join(dir, 'basic'));
  await s.init();
  const a = await s.putBytes('hello');
  assert.equal(a.digest, sha('hello'));
  assert.equal(a.size, 5);
  assert.equal(s.blobPath(a.digest), path.join(dir, 'basic', 'blobs', 'sha256', a.digest.slice(7)));
  assert.equal(await s.has(a.digest), true);
  assert.equal((await s.readBytes(a.digest)).toString(), 'hello');
  const j = await s.putJSON({ b: 1, a: [1, 'x'] });
  assert.equal(j.digest, sha('{"b":1,"a":[1,"x"]}'));
  assert.deepEqual(await s.readJSON(j.digest), { b: 1, a: [1, 'x'] });
  assert.equal(await s.verify(a.digest), true);
  const listed = [];
  for await (const b of s.list()) listed.push(b);
  assert.deepEqual(listed.map((b) => b.digest).sort(), [a.digest, j.digest].sort());
  // corruption is detected
  await fsp.writeFile(s.blobPath(a.digest), 'hellO');
  assert.equal(await s.verify(a.digest), false);
  await s.delete(a.digest);
  assert.equal(await s.has(a.digest), false);
  assert.equal(await s.verify(a.digest), false);
  await s.delete(a.digest); // idempotent
  assert.throws(() => s.blobPath('sha256:xyz'), InputError);
  assert.throws(() => s.blobPath('sha256:../../etc/passwd'), InputError);
  await assert.rejects(s.readBytes(sha('nope')), /not found/);
});

test('ingest with the right digest stores the blob; tmp is left empty', async () => {
  const s = new ContentStore(path.join(dir, 'ingest-ok'));
  await s.init();
  const data = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
  const r = await s.ingest(chunks(data, 65536), { digest: sha(data), size: data.length });
  assert.deepEqual(r, { digest: sha(data), size: data.length });
  assert.ok((await fsp.readFile(s.blobPath(r.digest))).equals(data));
  assert.deepEqual(await fsp.readdir(s.tmpDir), []);
  // a Node stream works too, and without expectations
  const r2 = await s.ingest(Readable.from([Buffer.from('ab'), Buffer.from('c')]));
  assert.equal(r2.digest, sha('abc'));
});

test('ingest with a wrong digest or size throws and leaves nothing behind', async () => {
  const s = new ContentStore(path.join(dir, 'ingest-bad'));
  await s.init();
  const data = Buffer.from('some layer bytes');
  await assert.rejects(s.ingest(chunks(data, 3), { digest: sha('other') }), /digest mismatch/);
  assert.equal(await s.has(sha('other')), false);
  assert.equal(await s.has(sha(data)), false);
  await assert.rejects(s.ingest(chunks(data, 3), { digest: sha(data), size: 3 }), /more data/);
  await assert.rejects(s.ingest(chunks(data, 3), { digest: sha(data), size: 100 }), /size/);
  assert.deepEqual(await fsp.readdir(s.blobsDir), []);
  assert.deepEqual(await fsp.readdir(s.tmpDir), []);
  // a source that fails half-way leaves nothing either
  async function* failing() {
    yield Buffer.from('partial');
    throw new Error('network reset');
  }
  await assert.rejects(s.ingest(failing(), { digest: sha(data) }), /network reset/);
  assert.deepEqual(await fsp.readdir(s.blobsDir), []);
  assert.deepEqual(await fsp.readdir(s.tmpDir), []);
});

test('concurrent ingests of the same blob all succeed with one intact blob', async () => {
  const s = new ContentStore(path.join(dir, 'ingest-conc'));
  await s.init();
  const data = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const digest = sha(data);
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => s.ingest(chunks(data, 4096 * (i + 1)), { digest })));
  for (const r of results) assert.deepEqual(r, { digest, size: data.length });
  assert.equal(await s.verify(digest), true);
  assert.deepEqual(await fsp.readdir(s.blobsDir), [digest.slice(7)]);
  assert.deepEqual(await fsp.readdir(s.tmpDir), []);
});
