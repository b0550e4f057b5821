import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readlink, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';

// COPY into a directory that does not exist yet writes the new snapshot's upper dir directly; into an existing
// directory it goes through overlayfs. Both must give the same files, owners, modes, times and links.
const DOCKERFILE = `FROM localhost/debian:bookworm AS src
RUN mkdir -p /tree/a/b /tree/empty && echo hi > /tree/a/b/f && chmod 0750 /tree/a && chown 1234:2345 /tree/a/b/f \\
 && cp /bin/true /tree/suid && chmod 4755 /tree/suid && ln -s ../suid /tree/a/rel && ln -s /etc/passwd /tree/abs \\
 && chmod 0700 /tree/empty && chown -h 7:8 /tree/abs \\
 && touch -h -d 2001-02-03T04:05:06Z /tree/a/b/f /tree/a/b /tree/a/rel /tree/abs /tree/empty /tree/a

FROM localhost/debian:bookworm
RUN mkdir -p /existing
COPY --from=src /tree /fresh
COPY --from=src /tree /existing
COPY --from=src /tree /deep/new/dir
COPY --from=src --chown=42:43 --chmod=640 /tree /chowned
COPY ctx-dir/ /from-context/
COPY --link --from=src /tree /linked
`;

interface Meta {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  link?: string;
}

async function describeTree(root: string): Promise<Record<string, Meta>> {
  const out: Record<string, Meta> = {};
  for (const rel of (await readdir(root, { recursive: true })).sort()) {
    const p = path.join(root, rel);
    const st = await lstat(p);
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other';
    out[rel] = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), link: type === 'symlink' ? await readlink(p) : undefined };
  }
  return out;
}

describe('COPY into new and existing directories', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let rootfs: string;
  let root: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-copy-'));
    root = path.join(tmp, 'store');
    const ctx = path.join(tmp, 'ctx');
    await ensureDebianBase(root);
    await mkdir(path.join(ctx, 'ctx-dir/sub'), { recursive: true });
    await writeFile(path.join(ctx, 'ctx-dir/sub/x.txt'), 'x\n', { mode: 0o640 });
    await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
    rootfs = path.join(tmp, 'rootfs');
    const r = await stratum(['build', ctx, '--progress', 'plain', '-o', `type=local,dest=${rootfs}`], { root });
    assert.equal(r.code, 0, r.stderr.slice(-4000));
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('keeps owners, modes, set-id bits, times and links, as a copy through overlayfs does', async () => {
    const fresh = await describeTree(path.join(rootfs, 'fresh'));
    assert.deepEqual(fresh, await describeTree(path.join(rootfs, 'existing')));
    assert.deepEqual(fresh, await describeTree(path.join(rootfs, 'deep/new/dir')));
    assert.deepEqual(fresh, await describeTree(path.join(rootfs, 'linked')));
    assert.deepEqual(fresh['a'], { type: 'dir', mode: 0o750, uid: 0, gid: 0, mtime: 981173106, link: undefined });
    assert.deepEqual(fresh['a/b/f'], { type: 'file', mode: 0o644, uid: 1234, gid: 2345, mtime: 981173106, link: undefined });
    assert.equal(fresh['suid']?.mode, 0o4755);
    assert.deepEqual(fresh['a/rel'], { type: 'symlink', mode: 0o777, uid: 0, gid: 0, mtime: 981173106, link: '../suid' });
    assert.deepEqual(fresh['abs'], { type: 'symlink', mode: 0o777, uid: 7, gid: 8, mtime: 981173106, link: '/etc/passwd' });
    assert.deepEqual(fresh['empty'], { type: 'dir', mode: 0o700, uid: 0, gid: 0, mtime: 981173106, link: undefined });
    assert.deepEqual(Object.keys(fresh), ['a', 'a/b', 'a/b/f', 'a/rel', 'abs', 'empty', 'suid']);
  });

  it('shares the inodes of files it keeps as they are with the source snapshot, and copies the others', async () => {
    // Every snapshot holding tree/a/b/f, and the number of links its file has.
    const found = (await run('sh', ['-c', `find "$1"/snapshots -path '*/fs/*/a/b/f' -printf '%P %n\\n'`, 'sh', root])).stdout.trim().split('\n');
    const links = (dest: string) => found.filter((l) => l.split(' ')[0]!.endsWith(`/fs/${dest}/a/b/f`)).map((l) => Number(l.split(' ')[1]));
    const source = links('tree');
    assert.equal(source.length, 1, found.join('\n'));
    // fresh, deep/new/dir and linked share it; existing (through overlayfs) and chowned are copies.
    assert.equal(source[0], 4, found.join('\n'));
    assert.deepEqual([...links('fresh'), ...links('deep/new/dir'), ...links('linked')], [4, 4, 4]);
    assert.deepEqual([...links('existing'), ...links('chowned')], [1, 1]);
  });

  it('applies --chown and --chmod to everything it copies into a new directory', async () => {
    const t = await describeTree(path.join(rootfs, 'chowned'));
    for (const [rel, m] of Object.entries(t)) {
      assert.deepEqual([m.uid, m.gid], [42, 43], rel);
      if (m.type !== 'symlink') assert.equal(m.mode, 0o640, rel);
    }
  });

  it('copies a context directory into a new directory as root-owned files', async () => {
    const t = await describeTree(path.join(rootfs, 'from-context'));
    assert.deepEqual(Object.keys(t), ['sub', 'sub/x.txt']);
    assert.deepEqual([t['sub/x.txt']?.uid, t['sub/x.txt']?.gid, t['sub/x.txt']?.mode], [0, 0, 0o640]);
  });
});
