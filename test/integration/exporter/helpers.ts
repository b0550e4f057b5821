import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { run } from '../../../src/util/exec.js';

export const isRoot = process.getuid?.() === 0;

/**
 * A snapshot dir in overlayfs upper-dir format with one of each kind of entry, including a whiteout (char 0/0)
 * and an opaque dir (trusted.overlay.opaque=y).
 */
export async function makeOverlayTree(root: string): Promise<void> {
  const w = (p: string, data: string | Buffer, mode = 0o644) => fsp.writeFile(path.join(root, p), data, { mode });
  await fsp.mkdir(path.join(root, 'dir/sub'), { recursive: true });
  await w('dir/file.txt', 'hello\n');
  await fsp.chown(path.join(root, 'dir/file.txt'), 1000, 1001);
  await w('dir/setuid', '#!/bin/sh\n', 0o755);
  await fsp.chmod(path.join(root, 'dir/setuid'), 0o4755);
  await w('dir/hl1', 'shared inode');
  await fsp.link(path.join(root, 'dir/hl1'), path.join(root, 'dir/sub/hl2'));
  await fsp.symlink('file.txt', path.join(root, 'dir/link'));
  await fsp.symlink('/etc/passwd', path.join(root, 'dir/abslink'));
  await fsp.symlink('../dir/file.txt', path.join(root, 'dir/sub/uplink'));
  await run('mknod', ['-m', '0600', path.join(root, 'fifo'), 'p']);
  await run('mknod', ['-m', '0666', path.join(root, 'null'), 'c', '1', '3']);
  await run('mknod', [path.join(root, 'gone'), 'c', '0', '0']);
  await run('mknod', [path.join(root, 'dir/gone2'), 'c', '0', '0']);
  await fsp.mkdir(path.join(root, 'opq'));
  await w('opq/keep.txt', 'kept');
  await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(root, 'opq')]);
  await fsp.mkdir(path.join(root, 'sticky'));
  await fsp.chmod(path.join(root, 'sticky'), 0o1777);
  await w('cap', 'binary');
  await run('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', path.join(root, 'cap')]);
  const big = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  await w('big.bin', big);
  const longDir = 'l'.repeat(60) + '/' + 'm'.repeat(60);
  await fsp.mkdir(path.join(root, longDir), { recursive: true });
  await w(longDir + '/' + 'n'.repeat(90), 'long path');
  await w('ünïcode.txt', 'utf8 name');
  await fsp.symlink('x'.repeat(150), path.join(root, 'longlink'));
  await fsp.utimes(path.join(root, 'dir/file.txt'), 1_600_000_000, 1_600_000_000);
}

export interface TreeEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime?: number;
  size?: number;
  rdev?: number;
  target?: string;
  sha?: string;
  opaque?: boolean;
  cap?: string;
  ino?: number;
}

/** A comparable description of a directory tree (inode numbers replaced by hardlink group ids). */
export async function describeTree(root: string, opts: { mtimes?: boolean } = {}): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  const inodes = new Map<number, number>();
  const xr = await run('getfattr', ['-R', '-P', '-h', '--absolute-names', '-d', '-e', 'hex', '-m', '^(trusted\\.overlay\\.opaque|security\\.capability)$', root], { check: false });
  const xattrs = new Map<string, string[]>();
  let cur = '';
  for (const line of xr.stdout.split('\n')) {
    if (line.startsWith('# file: ')) cur = line.slice(8);
    else if (line.includes('=')) xattrs.set(cur, [...(xattrs.get(cur) ?? []), line]);
  }
  async function walk(abs: string, rel: string) {
    for (const name of (await fsp.readdir(abs)).sort()) {
      const p = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.lstat(p);
      const e: TreeEntry = {
        type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : 'other',
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
      };
      if (opts.mtimes !== false && !st.isSymbolicLink()) e.mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isFile()) {
        e.size = st.size;
        e.sha = createHash('sha256').update(await fsp.readFile(p)).digest('hex');
        if (st.nlink > 1) {
          if (!inodes.has(st.ino)) inodes.set(st.ino, inodes.size + 1);
          e.ino = inodes.get(st.ino);
        }
      }
      if (st.isCharacterDevice() || st.isBlockDevice()) e.rdev = st.rdev;
      if (st.isSymbolicLink()) e.target = await fsp.readlink(p);
      const xa = xattrs.get(p) ?? [];
      if (xa.some((l) => l.startsWith('trusted.overlay.opaque=0x79'))) e.opaque = true;
      const cap = xa.find((l) => l.startsWith('security.capability='));
      if (cap) e.cap = cap;
      out[r] = e;
      if (st.isDirectory()) await walk(p, r);
    }
  }
  await walk(root, '');
  return out;
}
