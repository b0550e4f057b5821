import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BlobOrigins, pinFile, RegistryClient, RegistryError, saveCredentials, type RegistryClientOptions, type RegistryEvent } from '../../../src/registry/index.js';
import { ContentStore } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';
import {
  makeImage,
  selfSignedCert,
  skopeoInspect,
  skopeoRawManifest,
  startProxy,
  startRegistry,
  startTokenServer,
  tempDir,
  writeOciLayout,
  type RegistryInstance,
  type TestImage,
} from './harness.js';

const USER = 'alice';
const PASS = 's3cret-pass';

async function newStore(base: string, name: string): Promise<ContentStore> {
  const s = new ContentStore(path.join(base, name));
  await s.init();
  return s;
}

async function putImage(store: ContentStore, img: TestImage): Promise<void> {
  for (const b of img.blobs.values()) await store.putBytes(b);
}

describe('registry client against docker-registry', { timeout: 240_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  let dockerConfig: string;
  const clients: RegistryClient[] = [];

  const client = (o: RegistryClientOptions = {}) => {
    const c = new RegistryClient({ dockerConfigFile: dockerConfig, retry: { baseDelayMs: 20, maxDelayMs: 200 }, env: {}, ...o });
    clients.push(c);
    return c;
  };
  const creds = ['--creds', `${USER}:${PASS}`, '--tls-verify=false'];

  before(async () => {
    work = await tempDir('stratum-regtest-');
    dockerConfig = path.join(work, 'docker', 'config.json');
    reg = await startRegistry({ users: { [USER]: PASS } });
    await saveCredentials(reg.host, { username: USER, password: PASS }, dockerConfig);
  });

  after(async () => {
    for (const c of clients) c.close();
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('push reads back through skopeo with the same digest; a second push uploads nothing; another repo mounts', async () => {
    const store = await newStore(work, 'push1');
    const img = makeImage();
    await putImage(store, img);
    const origins = new BlobOrigins(path.join(work, 'origins.json'));
    const c = client({ insecureRegistries: [reg.host], origins });
    const r1 = await c.push(store, img.manifest, `${reg.host}/team/app:v1`);
    assert.equal(r1.digest, img.manifest.digest);
    assert.equal(r1.uploaded, 3);
    const seen = await skopeoInspect(`${reg.host}/team/app:v1`, creds);
    assert.equal(seen.Digest, img.manifest.digest);
    assert.deepEqual(await skopeoRawManifest(`${reg.host}/team/app:v1`, creds), img.manifestBytes);

    // Second push through a counting proxy: HEADs only, no upload session, no PATCH.
    const proxy = await startProxy(reg.port);
    try {
      const viaProxy = `127.0.0.1:${proxy.port}`;
      await saveCredentials(viaProxy, { username: USER, password: PASS }, dockerConfig);
      const c2 = client({ insecureRegistries: [viaProxy], origins: new BlobOrigins() });
      const r2 = await c2.push(store, img.manifest, `${viaProxy}/team/app:v1`);
      assert.equal(r2.uploaded, 0);
      assert.equal(r2.skipped, 3);
      assert.equal(proxy.stats.requests.filter((l) => /^(POST|PATCH) /.test(l)).length, 0, proxy.stats.requests.join('\n'));
      assert.equal(proxy.stats.requests.filter((l) => l.startsWith('HEAD /v2/team/app/blobs/')).length >= 3, true);

      // Another repository of the same registry: the origins record says where the blobs are, so they are mounted.
      proxy.stats.requests.length = 0;
      const c3 = client({ insecureRegistries: [viaProxy], origins: new BlobOrigins(path.join(work, 'origins.json')) });
      // The record was written under the registry's direct address; copy it under the proxy's name.
      const table = JSON.parse(await fs.readFile(path.join(work, 'origins.json'), 'utf8')) as Record<string, unknown>;
      table[viaProxy] = table[reg.host];
      await fs.writeFile(path.join(work, 'origins.json'), JSON.stringify(table));
      const r3 = await c3.push(store, img.manifest, `${viaProxy}/other/app:v1`);
      assert.equal(r3.mounted, 3);
      assert.equal(r3.uploaded, 0);
      assert.equal(proxy.stats.requests.filter((l) => l.startsWith('PATCH ')).length, 0);
      assert.equal(proxy.stats.requests.filter((l) => /^POST \/v2\/other\/app\/blobs\/uploads\/\?.*mount=/.test(l)).length, 3);
      assert.equal((await skopeoInspect(`${reg.host}/other/app:v1`, creds)).Digest, img.manifest.digest);
    } finally {
      await proxy.stop();
    }
  });

  test('an image pushed by skopeo (docker v2 format) pulls into the store with the same digest', async () => {
    const img = makeImage({ layers: [5000, 70_000, 10] });
    const layout = path.join(work, 'layout1');
    await writeOciLayout(layout, img, 'v1');
    await run('skopeo', ['copy', '--format', 'v2s2', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASS}`, `oci:${layout}:v1`, `docker://${reg.host}/sk/img:v1`], { timeout: 60_000 });
    const want = (await skopeoInspect(`${reg.host}/sk/img:v1`, creds)).Digest;
    const store = await newStore(work, 'pull1');
    const events: RegistryEvent[] = [];
    const c = client({ insecureRegistries: [reg.host], onEvent: (e) => events.push(e) });
    const desc = await c.pull(`${reg.host}/sk/img:v1`, store);
    assert.equal(desc.digest, want);
    assert.equal(desc.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const manifest = await store.readJSON<{ config: { digest: string }; layers: { digest: string }[] }>(desc.digest);
    for (const l of [manifest.config, ...manifest.layers]) assert.equal(await store.has(l.digest), true, l.digest);
    // Layers are byte-identical to what went in.
    for (const l of img.layers) assert.equal(await store.has(l.digest), true);
    assert.equal(events.filter((e) => e.kind === 'blob-downloaded').length, 4);
    // Pulling again fetches nothing.
    events.length = 0;
    await c.pull(`${reg.host}/sk/img@${want}`, store);
    assert.equal(events.filter((e) => e.kind === 'blob-downloaded').length, 0);
    // resolveDigest agrees.
    assert.equal((await c.resolveDigest(`${reg.host}/sk/img:v1`)).digest, want);
  });

  test('push and pull through a proxy that drops every fifth request still give the right digest', async () => {
    const img = makeImage({ layers: [1_500_000, 900_000, 40_000] });
    const store = await newStore(work, 'drop-src');
    await putImage(store, img);
    const seed = Number(process.env.STRATUM_TEST_SEED ?? 7);
    const proxy = await startProxy(reg.port, 5, seed);
    try {
      const host = `127.0.0.1:${proxy.port}`;
      await saveCredentials(host, { username: USER, password: PASS }, dockerConfig);
      const events: RegistryEvent[] = [];
      const c = client({ insecureRegistries: [host], chunkSize: 256 * 1024, concurrency: 2, onEvent: (e) => events.push(e), retry: { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 10 } });
      const r = await c.push(store, img.manifest, `${host}/flaky/app:v1`);
      assert.equal(r.digest, img.manifest.digest);
      assert.ok(proxy.stats.drops >= 1, `drops: ${proxy.stats.drops}`);
      assert.ok(events.some((e) => e.kind === 'upload-resumed'), 'an upload was resumed');
      assert.equal((await skopeoInspect(`${reg.host}/flaky/app:v1`, creds)).Digest, img.manifest.digest);
    } finally {
      await proxy.stop();
    }
    // Pull through a proxy that drops every third request, so blob bodies get cut and resumed with Range.
    const pullProxy = await startProxy(reg.port, 3, seed, { every: true });
    try {
      const host = `127.0.0.1:${pullProxy.port}`;
      await saveCredentials(host, { username: USER, password: PASS }, dockerConfig);
      const events: RegistryEvent[] = [];
      const c = client({ insecureRegistries: [host], concurrency: 2, onEvent: (e) => events.push(e), retry: { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 10 } });
      const dest = await newStore(work, 'drop-dst');
      const desc = await c.pull(`${host}/flaky/app:v1`, dest);
      assert.equal(desc.digest, img.manifest.digest);
      assert.ok(pullProxy.stats.drops > 0);
      assert.ok(events.some((e) => e.kind === 'retry' && e.operation.startsWith('pull blob')), 'a blob download was resumed');
      for (const [d, b] of img.blobs) assert.deepEqual(await dest.readBytes(d), b);
    } finally {
      await pullProxy.stop();
    }
  });

  test('a multi-platform image goes up as an OCI index after its manifests', async () => {
    const amd = makeImage({ layers: [100], arch: 'amd64' });
    const arm = makeImage({ layers: [100], arch: 'arm64' });
    const store = await newStore(work, 'multi');
    await putImage(store, amd);
    await putImage(store, arm);
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { ...amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
    );
    const idx = await store.putBytes(index);
    const c = client({ insecureRegistries: [reg.host] });
    const r = await c.push(store, { mediaType: 'application/vnd.oci.image.index.v1+json', digest: idx.digest, size: idx.size }, `${reg.host}/multi/app:v1`);
    assert.equal(r.manifests, 3);
    assert.deepEqual(await skopeoRawManifest(`${reg.host}/multi/app:v1`, creds), index);
    const dest = await newStore(work, 'multi-pull');
    const pulled = await c.pullImage(`${reg.host}/multi/app:v1`, dest, { platform: { os: 'linux', architecture: 'arm64' } });
    assert.equal(pulled.manifest.digest, arm.manifest.digest);
    assert.equal(pulled.index?.digest, idx.digest);
    assert.equal((await c.resolveDigest(`${reg.host}/multi/app:v1`)).digest, idx.digest);
  });

  test('a wrong password fails at once with an error naming registry, repository and operation', async () => {
    const proxy = await startProxy(reg.port);
    try {
      const host = `127.0.0.1:${proxy.port}`;
      const store = await newStore(work, 'badpw');
      const img = makeImage({ layers: [10] });
      await putImage(store, img);
      const c = client({ insecureRegistries: [host], credentials: { [host]: { username: USER, password: 'wrong' } } });
      const t0 = Date.now();
      await assert.rejects(c.push(store, img.manifest, `${host}/team/app:v2`), (e: unknown) => {
        assert.ok(e instanceof RegistryError);
        assert.equal(e.status, 401);
        assert.match(e.message, new RegExp(`registry ${host}/team/app: check blob sha256:[0-9a-f]+ refused: unauthorized \\(401\\): credentials rejected`));
        return true;
      });
      assert.ok(Date.now() - t0 < 3000);
      assert.ok(proxy.stats.requests.length <= 4, proxy.stats.requests.join('\n'));
      const pullErr = await client({ insecureRegistries: [host], credentials: { [host]: { username: USER, password: PASS } } })
        .pull(`${host}/does/not-exist:v1`, store)
        .catch((e: unknown) => e);
      assert.ok(pullErr instanceof RegistryError);
      assert.equal(pullErr.status, 404);
      assert.match(pullErr.message, /does\/not-exist: pull manifest v1 failed: not found \(404\)/);
    } finally {
      await proxy.stop();
    }
  });

  test('pin rewrites image references to name:tag@digest and keeps comments', async () => {
    const store = await newStore(work, 'pin');
    const a = makeImage({ layers: [10] });
    const b = makeImage({ layers: [20] });
    await putImage(store, a);
    await putImage(store, b);
    const c = client({ insecureRegistries: [reg.host] });
    await c.push(store, a.manifest, `${reg.host}/pin/a:2024.1`);
    await c.push(store, b.manifest, `${reg.host}/pin/b:latest`);
    const file = path.join(work, 'vars.yml');
    const stale = `sha256:${'0'.repeat(64)}`;
    const original = [
      '# Images used by the deployment',
      '_images:',
      `  a: ${reg.host}/pin/a:2024.1   # keep me`,
      `  b: "${reg.host}/pin/b:latest@${stale}"`,
      '  # not an image:',
      '  release: "2024.1"',
      `  templated: "{{ registry }}/pin/a:2024.1"`,
      'list:',
      `  - '${reg.host}/pin/a:2024.1'`,
      '',
    ].join('\n');
    await fs.writeFile(file, original);
    const resolve = async (ref: { registry: string; repository: string; tag?: string }) => (await c.resolveDigest(ref)).digest;
    const drift = await pinFile(file, resolve, { check: true });
    assert.equal(drift.changes.length, 3);
    assert.equal(await fs.readFile(file, 'utf8'), original);
    const res = await pinFile(file, resolve);
    assert.equal(res.found, 3);
    const expected = original
      .replace(`${reg.host}/pin/a:2024.1   #`, `${reg.host}/pin/a:2024.1@${a.manifest.digest}   #`)
      .replace(`"${reg.host}/pin/b:latest@${stale}"`, `"${reg.host}/pin/b:latest@${b.manifest.digest}"`)
      .replace(`'${reg.host}/pin/a:2024.1'`, `'${reg.host}/pin/a:2024.1@${a.manifest.digest}'`);
    assert.equal(await fs.readFile(file, 'utf8'), expected);
    assert.equal((await pinFile(file, resolve, { check: true })).changes.length, 0);
  });
});

describe('TLS registry with a self-signed certificate', { timeout: 120_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  before(async () => {
    work = await tempDir('stratum-regtls-');
    reg = await startRegistry({ tls: true });
  });
  after(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('push with --ca-cert verifies; without it TLS fails clearly; certs.d works; insecure skips verification', async () => {
    const store = new ContentStore(path.join(work, 's'));
    await store.init();
    const img = makeImage({ layers: [1000] });
    for (const b of img.blobs.values()) await store.putBytes(b);
    const base = { env: {}, dockerConfigFile: path.join(work, 'none.json'), retry: { baseDelayMs: 10, maxDelayMs: 50 } };

    const bad = new RegistryClient(base);
    await assert.rejects(bad.push(store, img.manifest, `${reg.host}/tls/app:v1`), /registry 127\.0\.0\.1:\d+\/tls\/app: check blob .* (self-signed|SELF_SIGNED).*--ca-cert/i);
    bad.close();

    const good = new RegistryClient({ ...base, caCertFiles: [reg.certFile!] });
    const r = await good.push(store, img.manifest, `${reg.host}/tls/app:v1`);
    good.close();
    assert.equal(r.digest, img.manifest.digest);
    assert.equal((await skopeoInspect(`${reg.host}/tls/app:v1`, ['--cert-dir', reg.certDir!])).Digest, img.manifest.digest);

    const certsD = path.join(work, 'certs.d');
    await fs.mkdir(path.join(certsD, reg.host), { recursive: true });
    await fs.copyFile(reg.certFile!, path.join(certsD, reg.host, 'ca.crt'));
    const viaDir = new RegistryClient({ ...base, env: { STRATUM_CERTS_DIR: certsD } });
    assert.equal((await viaDir.resolveDigest(`${reg.host}/tls/app:v1`)).digest, img.manifest.digest);
    viaDir.close();

    const insecure = new RegistryClient({ ...base, env: { STRATUM_INSECURE_REGISTRIES: reg.host } });
    const dest = new ContentStore(path.join(work, 'd'));
    await dest.init();
    assert.equal((await insecure.pull(`${reg.host}/tls/app:v1`, dest)).digest, img.manifest.digest);
    insecure.close();
  });

  test('a plain-HTTP loopback registry not marked insecure is refused with a hint', async () => {
    const plain = await startRegistry();
    try {
      const c = new RegistryClient({ env: {}, dockerConfigFile: path.join(work, 'none.json'), retry: { maxAttempts: 2, baseDelayMs: 10 } });
      await assert.rejects(c.resolveDigest(`${plain.host}/x/y:v1`), /registry 127\.0\.0\.1:\d+\/x\/y: resolve v1 failed: .*(mark|insecure)/i);
      c.close();
    } finally {
      await plain.stop();
    }
  });
});

describe('bearer-token auth', { timeout: 120_000 }, () => {
  let reg: RegistryInstance;
  let tokens: Awaited<ReturnType<typeof startTokenServer>>;
  let work: string;
  before(async () => {
    work = await tempDir('stratum-regtok-');
    const { cert, key } = await selfSignedCert(work, 'stratum-token-signer');
    tokens = await startTokenServer({ users: { [USER]: PASS }, service: 'stratum-test', issuer: 'stratum-test-issuer', key, cert });
    reg = await startRegistry({ token: { realm: tokens.realm, service: 'stratum-test', issuer: 'stratum-test-issuer', certFile: cert } });
  });
  after(async () => {
    await reg?.stop();
    await tokens?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('push and pull get scoped tokens from the realm; bad credentials fail at the token server', async () => {
    const store = new ContentStore(path.join(work, 's'));
    await store.init();
    const img = makeImage({ layers: [1000, 2000] });
    for (const b of img.blobs.values()) await store.putBytes(b);
    const c = new RegistryClient({ env: {}, insecureRegistries: [reg.host], credentials: { [reg.host]: { username: USER, password: PASS } } });
    const r = await c.push(store, img.manifest, `${reg.host}/tok/app:v1`);
    assert.equal(r.digest, img.manifest.digest);
    assert.ok(tokens.requests.some((t) => t.user === USER && t.scopes.includes('repository:tok/app:pull,push')), JSON.stringify(tokens.requests));
    // Tokens are cached per scope: far fewer token requests than registry requests.
    assert.ok(tokens.requests.length <= 3, JSON.stringify(tokens.requests));
    const dest = new ContentStore(path.join(work, 'd'));
    await dest.init();
    assert.equal((await c.pull(`${reg.host}/tok/app:v1`, dest)).digest, img.manifest.digest);
    assert.ok(tokens.requests.some((t) => t.scopes.includes('repository:tok/app:pull')));
    assert.equal((await skopeoInspect(`${reg.host}/tok/app:v1`, ['--tls-verify=false', '--creds', `${USER}:${PASS}`])).Digest, img.manifest.digest);
    c.close();

    const bad = new RegistryClient({ env: {}, insecureRegistries: [reg.host], credentials: { [reg.host]: { username: USER, password: 'nope' } } });
    await assert.rejects(bad.resolveDigest(`${reg.host}/tok/app:v1`), (e: unknown) => {
      assert.ok(e instanceof RegistryError);
      assert.equal(e.status, 401);
      assert.match(e.message, /tok\/app: token request for repository:tok\/app:pull refused: unauthorized \(401\): credentials rejected/);
      return true;
    });
    bad.close();
  });
});
