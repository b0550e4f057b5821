/**
 * --cache-to / --cache-from: a store's cache records and layers, written to a registry (or an OCI layout directory)
 * and taken in by a fresh store, which then rebuilds from cache hits only and gets the same image digest.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { stratum } from '../../helpers/cli.js';
import { startRegistry, type RegistryInstance } from '../registry/harness.js';
import { BASE, makeStore, runBuild, writeTree } from './harness.js';

const EPOCH = '1700000000';
let reg: RegistryInstance;
const stores: { cleanup: () => Promise<void> }[] = [];
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  for (const s of stores) await s.cleanup();
});

async function store(name: string) {
  const s = await makeStore(name);
  stores.push(s);
  return s;
}

// Each RUN writes the time it ran: had one run again, the image digest would differ.
const DOCKERFILE = `FROM ${BASE}
COPY a.txt /a.txt
RUN cat /a.txt > /b.txt && date +%s%N > /stamp-1
WORKDIR /app
RUN echo built > /app/out && date +%s%N > /stamp-2
`;

function cli(root: string, args: string[]) {
  return stratum(['build', '--progress', 'plain', '--insecure-registry', reg.host, ...args], { root, env: { SOURCE_DATE_EPOCH: EPOCH, DOCKER_CONFIG: '/nonexistent' } });
}

const imageOf = (stdout: string) => /^image (sha256:[0-9a-f]{64})$/m.exec(stdout)?.[1];

let storeA: { root: string; work: string };
let digestA: string | undefined;
let localDir: string;

test('a fresh store with --cache-from of a registry cache builds every step from cache, with the same digest; so does type=local', { timeout: 120_000 }, async (t) => {
  storeA = await store('cacheA');
  const ctx = path.join(storeA.work, 'ctx');
  await writeTree(ctx, { Dockerfile: DOCKERFILE, 'a.txt': 'hello\n' });
  localDir = path.join(storeA.work, 'cache-dir');
  const started = Date.now();
  const a = await cli(storeA.root, [ctx, '--cache-to', `type=registry,ref=${reg.host}/cache/app:c,mode=max`, '--cache-to', `type=local,dest=${localDir}`]);
  const coldMs = Date.now() - started;
  assert.equal(a.code, 0, a.stderr);
  digestA = imageOf(a.stdout);
  assert.ok(digestA, a.stdout);
  assert.match(a.stderr, /#export cache to type=registry,ref=.*mode=max/);

  const b = await store('cacheB');
  const t0 = Date.now();
  const rb = await cli(b.root, [ctx, '--cache-from', `type=registry,ref=${reg.host}/cache/app:c`]);
  const warmMs = Date.now() - t0;
  assert.equal(rb.code, 0, rb.stderr);
  assert.equal((rb.stderr.match(/\] CACHED$/gm) ?? []).length, 4, rb.stderr);
  assert.doesNotMatch(rb.stderr, /\] DONE /);
  assert.match(rb.stdout, /steps 3 \(3 cached\)/);
  assert.equal(imageOf(rb.stdout), digestA);
  t.diagnostic(`cold build ${(coldMs / 1000).toFixed(1)}s, fresh store with --cache-from ${(warmMs / 1000).toFixed(1)}s`);

  // The same through an OCI layout directory.
  const c = await store('cacheC');
  const rc = await cli(c.root, [ctx, '--cache-from', `type=local,src=${localDir}`]);
  assert.equal(rc.code, 0, rc.stderr);
  assert.match(rc.stdout, /steps 3 \(3 cached\)/);
  assert.equal(imageOf(rc.stdout), digestA);
  const index = JSON.parse(await fs.readFile(path.join(localDir, 'index.json'), 'utf8')) as { manifests: { artifactType?: string }[] };
  assert.equal(index.manifests[0]?.artifactType, 'application/vnd.stratum.cache.v1');
});

test('a tampered layer in the registry cache is refused and its step runs instead', { timeout: 60_000 }, async () => {
  assert.ok(digestA, 'needs the first test');
  // Which blob is the last RUN's: the records in the layout written beside the registry cache say.
  const blob = (d: string) => path.join(localDir, 'blobs', 'sha256', d.slice(7));
  const index = JSON.parse(await fs.readFile(path.join(localDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(await fs.readFile(blob(index.manifests[0]!.digest), 'utf8')) as { config: { digest: string } };
  const records = JSON.parse(await fs.readFile(blob(manifest.config.digest), 'utf8')) as { records: { createdBy: string; layer?: { digest: string } }[] };
  const target = records.records.find((r) => r.createdBy.includes('echo built'))?.layer?.digest;
  assert.ok(target);
  const hex = target.slice(7);
  const data = path.join(reg.dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  const size = (await fs.stat(data)).size;
  await fs.writeFile(data, Buffer.alloc(size, 0x41));

  const d = await store('cacheD');
  const ctx = path.join(storeA.work, 'ctx');
  const r = await cli(d.root, [ctx, '--cache-from', `type=registry,ref=${reg.host}/cache/app:c`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /WARNING: cache record \w+ ignored: .*digest/);
  assert.match(r.stdout, /steps 3 \(2 cached\)/);
  // The RUN ran again here: its stamp differs, so the image does too.
  assert.notEqual(imageOf(r.stdout), digestA);
});

test('mode=min keeps only the image\'s own steps; mode=max every stage', { timeout: 120_000 }, async () => {
  const a = await store('cacheMinA');
  const ctx = path.join(a.work, 'ctx');
  await writeTree(ctx, {
    Dockerfile: `FROM ${BASE} AS builder\nRUN date +%s%N > /stamp\nFROM ${BASE}\nRUN echo final > /final\nCOPY --from=builder /stamp /stamp\n`,
  });
  const registry = { insecureRegistry: [reg.host] };
  const built = await runBuild({
    root: a.root,
    context: ctx,
    registry,
    cacheTo: [{ type: 'registry', ref: `${reg.host}/cache/ms:min` }, { type: 'registry', ref: `${reg.host}/cache/ms:max`, mode: 'max' }],
  });
  const min = await store('cacheMinB');
  const fromMin = await runBuild({ root: min.root, context: ctx, registry, cacheFrom: [{ type: 'registry', ref: `${reg.host}/cache/ms:min` }] });
  // The builder stage was not exported: it runs, and the COPY of its new output misses too.
  assert.deepEqual(fromMin.cached, ['RUN echo final > /final']);
  assert.deepEqual(fromMin.ran.sort(), ['COPY --from=builder /stamp /stamp', 'RUN date +%s%N > /stamp']);
  const max = await store('cacheMaxB');
  const fromMax = await runBuild({ root: max.root, context: ctx, registry, cacheFrom: [{ type: 'registry', ref: `${reg.host}/cache/ms:max` }] });
  assert.deepEqual(fromMax.ran, []);
  assert.equal(fromMax.result.manifestDigest, built.result.manifestDigest);
});

test('an unknown cache type or key is refused by name; a missing cache is a warning', { timeout: 60_000 }, async () => {
  assert.ok(storeA, 'needs the first test');
  const ctx = path.join(storeA.work, 'ctx');
  const gha = await cli(storeA.root, [ctx, '--cache-to', 'type=gha']);
  assert.equal(gha.code, 2);
  assert.match(gha.stderr, /--cache-to type=gha: cache type must be registry or local, not "gha"/);
  const key = await cli(storeA.root, [ctx, '--cache-from', `type=registry,ref=${reg.host}/x:y,compression=zstd`]);
  assert.equal(key.code, 2);
  assert.match(key.stderr, /"compression" not supported for type=registry/);
  // With it, the same cache written again: the registry has every blob, so nothing is uploaded.
  const missing = await cli(storeA.root, [ctx, '--cache-from', `${reg.host}/cache/none:nope`, '--cache-to', `type=registry,ref=${reg.host}/cache/app:c,mode=max`]);
  assert.equal(missing.code, 0, missing.stderr);
  assert.match(missing.stderr, /WARNING: cache type=registry,ref=.*none:nope not imported/);
  assert.equal(imageOf(missing.stdout), digestA);
  assert.match(missing.stderr, /#export cache .*app:c@sha256:\w+: 0 blob\(s\) uploaded, [1-9]\d* already there/);
});

test('bake: cache-to and cache-from attributes carry a cache between stores', { timeout: 60_000 }, async () => {
  assert.ok(storeA, 'needs the first test');
  const work = storeA.work;
  await writeTree(work, {
    'to.hcl': 'target "app" {\n  context = "ctx"\n  cache-to = ["type=local,dest=bake-cache,mode=max"]\n}\n',
    'from.hcl': 'target "app" {\n  context = "ctx"\n  cache-from = ["type=local,src=bake-cache"]\n}\n',
  });
  const env = { SOURCE_DATE_EPOCH: EPOCH, DOCKER_CONFIG: '/nonexistent' };
  const meta = path.join(work, 'bake-meta.json');
  const to = await stratum(['bake', '-f', 'to.hcl', '--progress', 'plain', 'app'], { root: storeA.root, cwd: work, env });
  assert.equal(to.code, 0, to.stderr);
  const e = await store('cacheE');
  const from = await stratum(['bake', '-f', 'from.hcl', '--progress', 'plain', '--metadata-file', meta, 'app'], { root: e.root, cwd: work, env });
  assert.equal(from.code, 0, from.stderr);
  const m = JSON.parse(await fs.readFile(meta, 'utf8')) as Record<string, Record<string, unknown>>;
  assert.equal(m.app?.['stratum.steps.cached'], 3, from.stderr);
  assert.equal(m.app?.['containerimage.digest'], digestA);
});
