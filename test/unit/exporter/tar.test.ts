import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { t as tarList } from 'tar';
import { encodeHeader, TarReader, type TarHeader } from '../../../src/exporter/tar.js';
import { padding, ZERO_BLOCKS } from '../../../src/exporter/tar.js';
import { quoteAttrPath, unquoteAttrPath } from '../../../src/exporter/xattr.js';
import { run } from '../../../src/util/exec.js';

let dir: string;
before(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-tar-'));
});
after(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

function archive(entries: { h: TarHeader; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { h, data } of entries) {
    parts.push(encodeHeader(h));
    if (data) parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(ZERO_BLOCKS);
  return Buffer.concat(parts);
}

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000 };
const longPath = 'a'.repeat(120) + '/' + 'b'.repeat(120) + '/' + 'c'.repeat(120);
const cap = Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0x0a, 0x3d, 0xff]);

const entries = [
  { h: { ...base, path: 'd/', type: 'dir' as const, mode: 0o1777 } },
  { h: { ...base, path: 'd/file', type: 'file' as const, size: 5, uid: 3_000_000, gid: 70_000, mode: 0o4755 }, data: Buffer.from('hello') },
  { h: { ...base, path: longPath, type: 'file' as const, size: 1, xattrs: new Map([['security.capability', cap]]) }, data: Buffer.from('x') },
  { h: { ...base, path: 'd/ünï', type: 'symlink' as const, linkpath: 'ö'.repeat(80) } },
  { h: { ...base, path: 'd/hard', type: 'link' as const, linkpath: 'd/file' } },
  { h: { ...base, path: 'dev/sda', type: 'block' as const, devmajor: 8, devminor: 1 } },
  { h: { ...base, path: 'p', type: 'fifo' as const, mtime: 9_000_000_000 } },
];

test('encodeHeader output reads back through our reader, including binary PAX xattrs', async () => {
  const buf = archive(entries);
  assert.equal(buf.length % 512, 0);
  const r = new TarReader([buf.subarray(0, 700), buf.subarray(700, 3000), buf.subarray(3000)]);
  const got = [];
  for (;;) {
    const e = await r.next();
    if (!e) break;
    const chunks: Buffer[] = [];
    for await (const c of r.body()) chunks.push(c);
    got.push({ e, data: Buffer.concat(chunks).toString() });
  }
  assert.deepEqual(got.map((g) => g.e.path), ['d/', 'd/file', longPath, 'd/ünï', 'd/hard', 'dev/sda', 'p']);
  assert.deepEqual(got.map((g) => g.e.type), ['5', '0', '0', '2', '1', '4', '6']);
  assert.equal(got[0]!.e.mode, 0o1777);
  assert.equal(got[1]!.e.uid, 3_000_000);
  assert.equal(got[1]!.e.gid, 70_000);
  assert.equal(got[1]!.e.mode, 0o4755);
  assert.equal(got[1]!.data, 'hello');
  assert.ok(got[2]!.e.xattrs.get('security.capability')?.equals(cap));
  assert.equal(got[2]!.data, 'x');
  assert.equal(got[3]!.e.linkpath, 'ö'.repeat(80));
  assert.equal(got[4]!.e.linkpath, 'd/file');
  assert.deepEqual([got[5]!.e.devmajor, got[5]!.e.devminor], [8, 1]);
  assert.equal(got[6]!.e.mtime, 9_000_000_000);
});

test('encodeHeader output is accepted by GNU tar and node-tar', async () => {
  const file = path.join(dir, 'a.tar');
  await fsp.writeFile(file, archive(entries));
  const gnu = (await run('tar', ['--numeric-owner', '-tvf', file])).stdout;
  assert.match(gnu, /^drwxrwxrwt 0\/0 .* d\/$/m);
  assert.match(gnu, /^-rwsr-xr-x 3000000\/70000 +5 .* d\/file$/m);
  assert.ok(gnu.includes(longPath));
  assert.match(gnu, /^h.* d\/hard link to d\/file$/m);
  assert.match(gnu, /^brw-r--r-- .* 8,1 .* dev\/sda$/m);
  const seen: string[] = [];
  await tarList({ file, onReadEntry: (e) => (seen.push(`${e.type}:${e.path}`), e.resume()) });
  assert.deepEqual(seen, ['Directory:d/', 'File:d/file', `File:${longPath}`, 'SymbolicLink:d/ünï', 'Link:d/hard', 'BlockDevice:dev/sda', 'FIFO:p']);
});

test('TarReader reads GNU tar archives (long names, ./ prefixes) and rejects garbage', async () => {
  const src = path.join(dir, 'src');
  const deep = path.join(src, 'x'.repeat(100), 'y'.repeat(100));
  await fsp.mkdir(deep, { recursive: true });
  await fsp.writeFile(path.join(deep, 'z'.repeat(100)), 'deep');
  await fsp.symlink('t'.repeat(200), path.join(src, 'longlink'));
  for (const format of ['gnu', 'posix']) {
    const file = path.join(dir, `${format}.tar`);
    await run('tar', [`--format=${format}`, '-C', src, '-cf', file, '.']);
    const r = new TarReader([await fsp.readFile(file)]);
    const paths: string[] = [];
    const links: string[] = [];
    for (let e = await r.next(); e; e = await r.next()) {
      paths.push(e.path);
      if (e.type === '2') links.push(e.linkpath);
      if (e.path.endsWith('z'.repeat(100))) {
        const chunks: Buffer[] = [];
        for await (const c of r.body()) chunks.push(c);
        assert.equal(Buffer.concat(chunks).toString(), 'deep');
      }
    }
    assert.ok(paths.includes(`./${'x'.repeat(100)}/${'y'.repeat(100)}/${'z'.repeat(100)}`), format);
    assert.deepEqual(links, ['t'.repeat(200)]);
  }
  const bad = new TarReader([Buffer.alloc(512, 0x41)]);
  await assert.rejects(bad.next(), /checksum/);
  const truncated = archive(entries).subarray(0, 1200);
  const tr = new TarReader([truncated]);
  await assert.rejects(
    (async () => {
      for (let e = await tr.next(); e; e = await tr.next()) for await (const _ of tr.body());
    })(),
    /truncated/,
  );
});

test('getfattr path quoting round-trips', () => {
  for (const p of ['/a/b', '/we ird\ndir', '/back\\slash', '/eq=ual', '/ünï/\t']) {
    const q = quoteAttrPath(p);
    assert.ok(!q.includes('\n'));
    assert.equal(unquoteAttrPath(q), p);
  }
  assert.equal(unquoteAttrPath('/tmp/we ird\\012dir'), '/tmp/we ird\ndir');
});
