import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  exportDockerArchive,
  exportOciLayout,
  exportRootfs,
  importOciLayout,
  importTarball,
  writeImage,
  writeLayer,
  type LayerInfo,
} from '../../../src/exporter/index.js';
import { ContentStore, MediaTypes, type Descriptor, type ImageConfig, type Index, type Manifest } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';
import { describeTree, isRoot, makeOverlayTree } from './helpers.js';

const skip = isRoot ? false : 'needs root (mknod, trusted.* xattrs, chown)';
let dir: string;
let store: ContentStore;
let layers: LayerInfo[];
let image: { manifest: Descriptor; config: Descriptor };
let expected: string; // a rootfs applied by hand with GNU tar semantics checked separately

const config: ImageConfig = {
  created: '2024-01-01T00:00:00Z',
  architecture: 'amd64',
  os: 'linux',
  config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
  rootfs: { type: 'layers', diff_ids: [] },
  history: [{ created_by: 'base' }, { created_by: 'upper' }],
};

before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-oci-'));
  store = new ContentStore(path.join(dir, 'store'));
  await store.init();
  if (!isRoot) return;
  const base = path.join(dir, 'base');
  await fsp.mkdir(base);
  await makeOverlayTree(base);
  // the base layer of an image has no whiteouts: drop them and the opaque marker
  await fsp.rm(path.join(base, 'gone'));
  await fsp.rm(path.join(base, 'dir/gone2'));
  await run('setfattr', ['-x', 'trusted.overlay.opaque', path.join(base, 'opq')]);
  await fsp.writeFile(path.join(base, 'opq/lower-only'), 'hidden by the opaque upper dir');
  await fsp.writeFile(path.join(base, 'dir/deleted'), 'whited out above');
  const upper = path.join(dir, 'upper');
  await fsp.mkdir(path.join(upper, 'opq'), { recursive: true });
  await fsp.mkdir(path.join(upper, 'dir'), { recursive: true });
  await fsp.writeFile(path.join(upper, 'opq/new'), 'new');
  await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'opq')]);
  await run('mknod', [path.join(upper, 'dir/deleted'), 'c', '0', '0']);
  await fsp.writeFile(path.join(upper, 'dir/file.txt'), 'changed\n');
  layers = [await writeLayer(base, store, { compression: 'gzip' }), await writeLayer(upper, store, { compression: 'gzip' })];
  image = await writeImage(store, { layers, config });
  expected = path.join(dir, 'expected');
  await exportRootfs(store, image.manifest, expected);
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test('writeImage stores a valid OCI manifest and config', { skip }, async () => {
  const m = await store.readJSON<Manifest>(image.manifest.digest);
  assert.equal(m.schemaVersion, 2);
  assert.equal(m.mediaType, MediaTypes.manifest);
  assert.equal(m.config.digest, image.config.digest);
  assert.deepEqual(m.layers.map((l) => l.digest), layers.map((l) => l.digest));
  const c = await store.readJSON<ImageConfig>(image.config.digest);
  assert.deepEqual(c.rootfs.diff_ids, layers.map((l) => l.diffID));
  assert.deepEqual(c.config, config.config);
  const again = await writeImage(store, { layers, config });
  assert.equal(again.manifest.digest, image.manifest.digest);
});

test('exportRootfs flattens layers (whiteouts and opaque dirs applied)', { skip }, async () => {
  const tree = await describeTree(expected);
  assert.equal(tree['dir/deleted'], undefined);
  assert.equal(tree['opq/lower-only'], undefined);
  assert.equal(tree['opq/keep.txt'], undefined);
  assert.ok(tree['opq/new']);
  assert.equal(await fsp.readFile(path.join(expected, 'dir/file.txt'), 'utf8'), 'changed\n');
  assert.equal(tree['dir/setuid']?.mode, 0o4755);
  assert.equal(tree['null']?.type, 'char');
  assert.ok(!Object.keys(tree).some((k) => k.includes('.wh.')));
  // exporting again replaces the directory
  await exportRootfs(store, image.manifest, expected);
  assert.deepEqual(await describeTree(expected), tree);
  assert.deepEqual((await fsp.readdir(dir)).filter((n) => n.includes('.tmp-') || n.includes('.old-')), []);
});

test('exportOciLayout: skopeo inspects it and umoci unpacks the same rootfs', { skip }, async () => {
  const layout = path.join(dir, 'layout');
  await exportOciLayout(store, image.manifest, layout, { refName: 'latest' });
  const inspect = JSON.parse((await run('skopeo', ['inspect', `oci:${layout}:latest`])).stdout) as { Digest: string; Layers: string[]; Env: string[] };
  assert.equal(inspect.Digest, image.manifest.digest);
  assert.deepEqual(inspect.Layers, layers.map((l) => l.digest));
  assert.deepEqual(inspect.Env, ['PATH=/usr/bin:/bin']);
  const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci:${layout}:latest`])).stdout) as Manifest;
  assert.equal(raw.config.digest, image.config.digest);

  const bundle = path.join(dir, 'bundle');
  await run('umoci', ['unpack', '--image', `${layout}:latest`, bundle]);
  const got = await describeTree(path.join(bundle, 'rootfs'), { mtimes: false });
  const want = await describeTree(expected, { mtimes: false });
  // umoci keeps xattrs it knows; compare what both tools define the same way
  for (const t of [got, want]) for (const e of Object.values(t)) delete e.cap;
  delete got['']; delete want[''];
  assert.deepEqual(got, want);

  // as a tar
  const tarFile = path.join(dir, 'image.oci.tar');
  await exportOciLayout(store, image.manifest, tarFile, { refName: 'v1', tar: true });
  const inspectTar = JSON.parse((await run('skopeo', ['inspect', `oci-archive:${tarFile}:v1`])).stdout) as { Digest: string };
  assert.equal(inspectTar.Digest, image.manifest.digest);
});

test('exportDockerArchive: skopeo copies it with identical diffIDs; importOciLayout brings it back', { skip }, async () => {
  const archive = path.join(dir, 'image.docker.tar');
  await exportDockerArchive(store, image.manifest, archive, ['localhost/stratum-test:1.0']);
  const d2 = path.join(dir, 'from-docker');
  await run('skopeo', ['copy', '-q', `docker-archive:${archive}`, `oci:${d2}:copied`]);
  const raw = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci:${d2}:copied`])).stdout) as Manifest;
  const cfg = JSON.parse((await run('skopeo', ['inspect', '--config', '--raw', `oci:${d2}:copied`])).stdout) as ImageConfig;
  assert.deepEqual(cfg.rootfs.diff_ids, layers.map((l) => l.diffID));
  assert.equal(raw.layers.length, 2);
  const tags = JSON.parse((await run('sh', ['-c', 'tar -xOf "$1" manifest.json', 'sh', archive])).stdout) as { RepoTags: string[] }[];
  assert.deepEqual(tags[0]?.RepoTags, ['localhost/stratum-test:1.0']);

  // import the skopeo-written layout into a fresh store and flatten it: same rootfs
  const store2 = new ContentStore(path.join(dir, 'store2'));
  await store2.init();
  const desc = await importOciLayout(store2, d2, 'copied');
  assert.equal(desc.mediaType, MediaTypes.manifest);
  const rootfs2 = path.join(dir, 'rootfs2');
  await exportRootfs(store2, desc, rootfs2);
  assert.deepEqual(await describeTree(rootfs2), await describeTree(expected));
  await assert.rejects(importOciLayout(store2, d2, 'nope'), /no image named "nope"/);
});

test('importOciLayout: picks linux/amd64 from an index, verifies digests', { skip }, async () => {
  const layout = path.join(dir, 'multi');
  await exportOciLayout(store, image.manifest, layout, { refName: 'latest' });
  // a second "arm64" manifest and an index over both
  const armCfg = await store.putJSON({ ...config, architecture: 'arm64', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) } });
  const armMan = await store.putJSON({ schemaVersion: 2, mediaType: MediaTypes.manifest, config: { mediaType: MediaTypes.config, ...armCfg }, layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })) });
  const index: Index = {
    schemaVersion: 2,
    mediaType: MediaTypes.index,
    manifests: [
      { mediaType: MediaTypes.manifest, ...armMan, platform: { os: 'linux', architecture: 'arm64' } },
      { ...image.manifest, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  };
  const idx = await store.putJSON(index);
  for (const d of [armCfg, armMan, idx]) await fsp.copyFile(store.blobPath(d.digest), path.join(layout, 'blobs/sha256', d.digest.slice(7)));
  await fsp.writeFile(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaTypes.index, ...idx, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }] }));
  const store3 = new ContentStore(path.join(dir, 'store3'));
  await store3.init();
  const got = await importOciLayout(store3, layout);
  assert.equal(got.digest, image.manifest.digest);
  assert.equal(got.platform?.architecture, 'amd64');
  for (const l of layers) assert.equal(await store3.verify(l.digest), true);
  assert.equal(await store3.has(armCfg.digest), false);
  // DIR@sha256:…: by the digest of an entry of index.json, or of a manifest kept only among the blobs
  const byIndex = await importOciLayout(new ContentStore(path.join(dir, 'store3')), layout, idx.digest);
  assert.equal(byIndex.digest, image.manifest.digest, 'an index by digest still picks this platform');
  const store5 = new ContentStore(path.join(dir, 'store5'));
  await store5.init();
  const arm = await importOciLayout(store5, layout, armMan.digest);
  assert.deepEqual([arm.digest, arm.mediaType], [armMan.digest, MediaTypes.manifest]);
  assert.equal(await store5.has(armCfg.digest), true);
  await assert.rejects(importOciLayout(store5, layout, `sha256:${'e'.repeat(64)}`), /no image sha256:e+ \(neither in index\.json nor among its blobs\)/);
  await assert.rejects(importOciLayout(store5, layout, layers[0]!.digest), /is not an image manifest or index/);

  // a corrupt blob is refused and not stored
  const bad = path.join(dir, 'corrupt');
  await exportOciLayout(store, image.manifest, bad);
  const victim = path.join(bad, 'blobs/sha256', layers[1]!.digest.slice(7));
  const bytes = await fsp.readFile(victim);
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
  await fsp.writeFile(victim, bytes);
  const store4 = new ContentStore(path.join(dir, 'store4'));
  await store4.init();
  await assert.rejects(importOciLayout(store4, bad), /digest mismatch/);
  assert.equal(await store4.has(layers[1]!.digest), false);
});

test('importTarball: rootfs tarball -> deterministic one-layer image', { skip }, async () => {
  const tarball = path.join(dir, 'rootfs.tar');
  await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=security.capability', '-C', expected, '-cf', tarball, '.']);
  const a = await importTarball(store, tarball, { sourceDateEpoch: 1_700_000_000 });
  const b = await importTarball(store, tarball, { sourceDateEpoch: 1_700_000_000 });
  assert.equal(a.manifest.digest, b.manifest.digest);
  const cfg = await store.readJSON<ImageConfig>(a.config.digest);
  assert.equal(cfg.created, '2023-11-14T22:13:20.000Z');
  assert.deepEqual(cfg.rootfs.diff_ids, [a.layer.diffID]);
  const out = path.join(dir, 'imported');
  await exportRootfs(store, a.manifest, out);
  const want = await describeTree(expected, { mtimes: false });
  const got = await describeTree(out, { mtimes: false });
  assert.deepEqual(got, want);
  const inspectDir = path.join(dir, 'imported-layout');
  await exportOciLayout(store, a.manifest, inspectDir, { refName: 'latest' });
  await run('skopeo', ['inspect', `oci:${inspectDir}:latest`]);
});
