import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { t as tarList } from 'tar';
import { applyLayer, writeLayer } from '../../../src/exporter/index.js';
import { ContentStore } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';
import { describeTree, isRoot, makeOverlayTree } from './helpers.js';

const skip = isRoot ? false : 'needs root (mknod, trusted.* xattrs, chown)';
let dir: string;
let store: ContentStore;
let src: string;

before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-layer-'));
  store = new ContentStore(path.join(dir, 'store'));
  await store.init();
  src = path.join(dir, 'src');
  await fsp.mkdir(src);
  if (isRoot) await makeOverlayTree(src);
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

test('writeLayer: whiteouts, opaque dirs, hardlinks, devices, setuid, xattrs in the tar', { skip }, async () => {
  const layer = await writeLayer(src, store, { compression: 'gzip' });
  assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.match(layer.digest, /^sha256:[a-f0-9]{64}$/);
  assert.notEqual(layer.digest, layer.diffID);
  assert.equal(layer.size, (await fsp.stat(store.blobPath(layer.digest))).size);
  const blob = store.blobPath(layer.digest);

  // GNU tar's view
  const tv = (await run('tar', ['--numeric-owner', '-tvzf', blob])).stdout;
  const line = (p: string) => tv.split('\n').find((l) => l.endsWith(` ${p}`) || l.includes(` ${p} `));
  assert.match(line('.wh.gone') ?? '', /^-/);
  assert.match(line('dir/.wh.gone2') ?? '', /^-/);
  assert.match(line('opq/.wh..wh..opq') ?? '', /^-/);
  assert.match(line('dir/setuid') ?? '', /^-rwsr-xr-x 0\/0/);
  assert.match(line('dir/file.txt') ?? '', /^-rw-r--r-- 1000\/1001 +6 2020-09-13/);
  assert.match(line('dir/sub/hl2') ?? '', /^h.* dir\/sub\/hl2 link to dir\/hl1$/);
  assert.match(line('dir/link') ?? '', /^l.* dir\/link -> file\.txt$/);
  assert.match(line('fifo') ?? '', /^p/);
  assert.match(line('null') ?? '', /^crw-rw-rw- 0\/0 +1,3 /);
  assert.match(line('sticky/') ?? '', /^drwxrwxrwt/);
  assert.ok(tv.includes(`longlink -> ${'x'.repeat(150)}`));
  assert.ok(tv.includes('n'.repeat(90)));
  assert.ok(tv.includes('ünïcode.txt'));
  // a directory comes before its children; whiteouts before their siblings
  const names = tv.trim().split('\n').map((l) => l.replace(/ -> .*| link to .*/, '').split(/\s+/).slice(5).join(' '));
  assert.ok(names.indexOf('dir/') < names.indexOf('dir/file.txt'));
  assert.ok(names.indexOf('dir/.wh.gone2') < names.indexOf('dir/abslink'));
  assert.equal(names.indexOf('opq/.wh..wh..opq'), names.indexOf('opq/') + 1);
  assert.ok(!names.some((n) => n === 'gone' || n === 'dir/gone2'));

  // node-tar's view, including the PAX xattr
  const entries: { path: string; type: string; uid?: number; xattr?: boolean }[] = [];
  await tarList({
    file: blob,
    onReadEntry: (e) => {
      entries.push({ path: e.path, type: e.type, uid: e.uid });
      e.resume();
    },
  });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  assert.equal(byPath.get('dir/sub/hl2')?.type, 'Link');
  assert.equal(byPath.get('fifo')?.type, 'FIFO');
  assert.equal(byPath.get('null')?.type, 'CharacterDevice');
  assert.equal(byPath.get('dir/file.txt')?.uid, 1000);
  assert.equal(byPath.get('l'.repeat(60) + '/' + 'm'.repeat(60) + '/' + 'n'.repeat(90))?.type, 'File');
  const raw = (await run('sh', ['-c', 'gzip -dc "$1" | strings | grep -c SCHILY.xattr.security.capability', 'sh', blob])).stdout.trim();
  assert.equal(raw, '1');
});

test('writeLayer is deterministic, and sourceDateEpoch clamps mtimes', { skip }, async () => {
  const a = await writeLayer(src, store, { compression: 'gzip' });
  const b = await writeLayer(src, store, { compression: 'gzip' });
  assert.equal(a.digest, b.digest);
  assert.equal(a.diffID, b.diffID);
  const z1 = await writeLayer(src, store, { compression: 'zstd' });
  const z2 = await writeLayer(src, store, { compression: 'zstd' });
  assert.equal(z1.digest, z2.digest);
  assert.equal(z1.diffID, a.diffID);
  assert.equal(z1.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
  const n = await writeLayer(src, store, { compression: 'none' });
  assert.equal(n.digest, n.diffID);
  assert.equal(n.diffID, a.diffID);

  const epoch = 1_500_000_000;
  const c = await writeLayer(src, store, { compression: 'none', sourceDateEpoch: epoch });
  assert.notEqual(c.diffID, a.diffID);
  const mtimes: number[] = [];
  await tarList({ file: store.blobPath(c.digest), onReadEntry: (e) => (mtimes.push(e.mtime!.getTime() / 1000), e.resume()) });
  assert.ok(mtimes.length > 20);
  assert.ok(mtimes.every((t) => t === epoch), 'all mtimes clamped');
  // older files keep their mtime when under the epoch
  const d = await writeLayer(src, store, { compression: 'none', sourceDateEpoch: 1_700_000_000 });
  const seen = new Map<string, number>();
  await tarList({ file: store.blobPath(d.digest), onReadEntry: (e) => (seen.set(e.path, e.mtime!.getTime() / 1000), e.resume()) });
  assert.equal(seen.get('dir/file.txt'), 1_600_000_000);
  // a touched file changes the digest
  await fsp.utimes(path.join(src, 'big.bin'), 1_650_000_000, 1_650_000_000);
  const e2 = await writeLayer(src, store, { compression: 'none', sourceDateEpoch: 1_700_000_000 });
  assert.notEqual(e2.diffID, d.diffID);
});

test('an unchanged part of a layer reuses its gzip members, and the blob is what a fresh store writes', { skip }, async () => {
  // 2,000 files of 4 KiB (about 9 MB of tar): many segments, so one changed file touches one of them.
  const tree = path.join(dir, 'many');
  for (let d = 0; d < 20; d++) {
    await fsp.mkdir(path.join(tree, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) {
      const text = `dir ${d} file ${f} `.repeat(256).slice(0, 4096);
      await fsp.writeFile(path.join(tree, `d${d}`, `f${f}.txt`), text);
      await fsp.utimes(path.join(tree, `d${d}`, `f${f}.txt`), 1_600_000_000, 1_600_000_000);
    }
  }
  const shared = new ContentStore(path.join(dir, 'reuse-store'));
  await shared.init();
  const first = await writeLayer(tree, shared, { compression: 'gzip' });
  assert.equal(first.reusedBytes, 0);

  await fsp.writeFile(path.join(tree, 'd7/f42.txt'), 'changed, and shorter');
  await fsp.utimes(path.join(tree, 'd7/f42.txt'), 1_600_000_000, 1_600_000_000);
  const second = await writeLayer(tree, shared, { compression: 'gzip' });
  assert.notEqual(second.digest, first.digest);
  const tarBytes = (await fsp.stat(shared.blobPath((await writeLayer(tree, shared, { compression: 'none' })).digest))).size;
  assert.ok((second.reusedBytes ?? 0) > tarBytes * 0.7, `reused ${second.reusedBytes} of ${tarBytes} bytes`);

  const fresh = new ContentStore(path.join(dir, 'fresh-store'));
  await fresh.init();
  const again = await writeLayer(tree, fresh, { compression: 'gzip' });
  assert.equal(again.reusedBytes, 0);
  assert.equal(again.digest, second.digest, 'reused members give the same bytes as compressing anew');
  const listed = (await run('sh', ['-c', 'gzip -dc "$1" | tar -tf - | wc -l', 'sh', shared.blobPath(second.digest)])).stdout.trim();
  assert.equal(listed, '2020');
});

test('applyLayer overlay round-trip reproduces the snapshot and the same digest', { skip }, async () => {
  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    const layer = await writeLayer(src, store, { compression });
    const out = path.join(dir, `rt-${compression}`);
    await applyLayer({ path: store.blobPath(layer.digest), mediaType: layer.mediaType }, out, { format: 'overlay' });
    const want = await describeTree(src);
    const got = await describeTree(out);
    assert.deepEqual(got, want);
    assert.equal(got['gone']?.type, 'char');
    assert.equal(got['opq']?.opaque, true);
    assert.equal(got['dir/setuid']?.mode, 0o4755);
    assert.ok(got['cap']?.cap);
    assert.equal(got['dir/hl1']?.ino, got['dir/sub/hl2']?.ino);
    const again = await writeLayer(out, store, { compression });
    assert.equal(again.digest, layer.digest);
  }
});

test('applyLayer flat applies whiteouts and opaque dirs onto a lower rootfs', { skip }, async () => {
  const lower = path.join(dir, 'lower');
  await fsp.mkdir(path.join(lower, 'd/deep'), { recursive: true });
  await fsp.mkdir(path.join(lower, 'keep'), { recursive: true });
  await fsp.writeFile(path.join(lower, 'd/old'), 'old');
  await fsp.writeFile(path.join(lower, 'd/deep/x'), 'x');
  await fsp.writeFile(path.join(lower, 'keep/a'), 'a');
  await fsp.writeFile(path.join(lower, 'rm-me'), 'bye');
  await fsp.mkdir(path.join(lower, 'rmdir/sub'), { recursive: true });
  const upper = path.join(dir, 'upper');
  await fsp.mkdir(path.join(upper, 'd'), { recursive: true });
  await fsp.writeFile(path.join(upper, 'd/new'), 'new');
  await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'd')]);
  await run('mknod', [path.join(upper, 'rm-me'), 'c', '0', '0']);
  await run('mknod', [path.join(upper, 'rmdir'), 'c', '0', '0']);
  await fsp.writeFile(path.join(upper, 'added'), 'added');
  const l1 = await writeLayer(lower, store, { compression: 'gzip' });
  const l2 = await writeLayer(upper, store, { compression: 'zstd' });
  const rootfs = path.join(dir, 'flat');
  await applyLayer({ path: store.blobPath(l1.digest), mediaType: l1.mediaType }, rootfs, { format: 'flat' });
  await applyLayer({ path: store.blobPath(l2.digest), mediaType: l2.mediaType }, rootfs, { format: 'flat' });
  const tree = await describeTree(rootfs);
  assert.deepEqual(Object.keys(tree).sort(), ['added', 'd', 'd/new', 'keep', 'keep/a'].sort());
  assert.equal(await fsp.readFile(path.join(rootfs, 'd/new'), 'utf8'), 'new');
});

// ------------------------------------------------------------------------------------------- hostile archives

interface Ent {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'link';
  linkpath?: string;
  data?: string;
}

/** Builds a tar with node-tar's Header encoder, so our own encoder is not what writes the hostile names. */
async function hostileTar(file: string, ents: Ent[]): Promise<void> {
  const { Header } = await import('tar');
  const bufs: Buffer[] = [];
  for (const e of ents) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type === 'dir' ? 'Directory' : e.type === 'symlink' ? 'SymbolicLink' : e.type === 'link' ? 'Link' : 'File';
    const h = new Header({ path: e.path, type, mode: e.type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: type === 'File' ? data.length : 0, mtime: new Date(1e12), linkpath: e.linkpath ?? '' });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    bufs.push(block);
    if (type === 'File' && data.length) {
      bufs.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  bufs.push(Buffer.alloc(1024));
  await fsp.writeFile(file, Buffer.concat(bufs));
}

test('applyLayer refuses hostile archives and leaves nothing behind', { skip }, async () => {
  const outside = path.join(dir, 'outside');
  await fsp.mkdir(outside);
  await fsp.writeFile(path.join(outside, 'secret'), 'do not touch');
  // the dest sits two levels below `dir`, so "../../outside" would reach it
  const cases: { name: string; ents: Ent[]; msg: RegExp }[] = [
    { name: 'dotdot', ents: [{ path: 'ok', data: '1' }, { path: '../../outside/x', data: 'pwned' }], msg: /"\.\.\/\.\.\/outside\/x".*"\.\."/ },
    { name: 'absolute', ents: [{ path: path.join(outside, 'abs'), data: 'pwned' }], msg: /absolute path/ },
    {
      name: 'symlink-parent',
      ents: [{ path: 'a', type: 'symlink', linkpath: '/' }, { path: `a${outside}/via-link`, data: 'pwned' }],
      msg: /parent a is a symlink/,
    },
    {
      name: 'symlink-parent-relative',
      ents: [{ path: 'b', type: 'symlink', linkpath: '.' }, { path: 'b/c', data: 'x' }],
      msg: /parent b is a symlink/,
    },
    { name: 'hardlink-out', ents: [{ path: 'h', type: 'link', linkpath: '../../outside/secret' }], msg: /"h".*hardlink target/ },
    {
      name: 'hardlink-through-symlink',
      ents: [{ path: 'o', type: 'symlink', linkpath: outside }, { path: 'h2', type: 'link', linkpath: 'o/secret' }],
      msg: /"h2".*parent o is a symlink/,
    },
    {
      name: 'dir-replaced-by-symlink',
      ents: [{ path: 'e/', type: 'dir' }, { path: 'e/f', data: '1' }, { path: 'e', type: 'symlink', linkpath: outside }, { path: 'e/g', data: 'pwned' }],
      msg: /"e\/g".*parent e is a symlink/,
    },
    { name: 'whiteout-through-symlink', ents: [{ path: 'w', type: 'symlink', linkpath: outside }, { path: 'w/.wh.secret' }], msg: /parent w is a symlink/ },
  ];
  for (const format of ['overlay', 'flat'] as const) {
    for (const c of cases) {
      const tarFile = path.join(dir, `hostile-${c.name}.tar`);
      await hostileTar(tarFile, c.ents);
      const dest = path.join(dir, 'h', `${format}-${c.name}`);
      await assert.rejects(
        applyLayer({ path: tarFile, mediaType: 'application/vnd.oci.image.layer.v1.tar' }, dest, { format }),
        (e: Error) => e.name === 'InputError' && c.msg.test(e.message),
        `${format} ${c.name}`,
      );
      await assert.rejects(fsp.lstat(dest), { code: 'ENOENT' }, `${c.name}: dest removed`);
    }
  }
  // an existing empty snapshot dir is emptied again, not removed
  const empty = path.join(dir, 'h', 'existing-empty');
  await fsp.mkdir(empty, { recursive: true });
  await assert.rejects(applyLayer({ path: path.join(dir, 'hostile-dotdot.tar'), mediaType: '' }, empty, { format: 'overlay' }), /"\.\."/);
  assert.deepEqual(await fsp.readdir(empty), []);
  assert.deepEqual((await fsp.readdir(outside)).sort(), ['secret']);
  assert.equal(await fsp.readFile(path.join(outside, 'secret'), 'utf8'), 'do not touch');
  await assert.rejects(fsp.lstat(path.join(dir, 'x')), { code: 'ENOENT' });
  // an acceptable archive still extracts: absolute and in-root relative symlinks are fine
  const okTar = path.join(dir, 'ok.tar');
  await hostileTar(okTar, [
    { path: './usr/', type: 'dir' },
    { path: './usr/bin/', type: 'dir' },
    { path: './usr/bin/tool', data: 'x' },
    { path: './bin', type: 'symlink', linkpath: 'usr/bin' },
    { path: './usr/bin/abs', type: 'symlink', linkpath: '/etc/passwd' },
    { path: './usr/bin/up', type: 'symlink', linkpath: '../../bin/tool' },
    { path: './usr/bin/hl', type: 'link', linkpath: './usr/bin/tool' },
    // kept as BuildKit keeps it: a link is text, and nothing writes through it while applying
    { path: './usr/climb', type: 'symlink', linkpath: '../../x' },
  ]);
  const okDest = path.join(dir, 'h', 'ok');
  await applyLayer({ path: okTar, mediaType: '' }, okDest, { format: 'flat' });
  assert.equal(await fsp.readlink(path.join(okDest, 'usr/climb')), '../../x');
  assert.equal(await fsp.readlink(path.join(okDest, 'bin')), 'usr/bin');
  assert.equal((await fsp.stat(path.join(okDest, 'usr/bin/hl'))).ino, (await fsp.stat(path.join(okDest, 'usr/bin/tool'))).ino);
});
