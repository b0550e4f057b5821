import { createHash } from 'node:crypto';
import { constants as C, promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { InputError, StratumError } from '../util/errors.js';
import { run } from '../util/exec.js';
import { checkBlobDigest, hashing, openLayerStream, type LayerBlob } from './layer-stream.js';
import { landingPath } from './inroot.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './layer.js';
import { TarReader, type TarEntry } from './tar.js';
import { restoreXattrs } from './xattr.js';

export interface ApplyOptions {
  /**
   * 'overlay': dest is a fresh snapshot dir; whiteouts become char devices 0/0 and opaque markers the
   * trusted.overlay.opaque=y xattr. 'flat': apply onto an existing rootfs (whiteouts delete).
   */
  format: 'overlay' | 'flat';
  /**
   * A user's archive (ADD), not an image layer: `.wh.` names are plain files. Whiteouts exist only in layers; an
   * archive that could delete files would reach what lies above its destination.
   */
  archive?: boolean;
  /** ADD --chown on an archive: every entry gets this owner instead of the one recorded in the archive. */
  owner?: { uid: number; gid: number };
  /** Counts the blob's stored bytes as they are read (progress). */
  onRead?: (bytes: number) => void;
}

/**
 * Extracts a (compressed) layer tar into `dest`, refusing any entry that could write outside it: absolute paths,
 * `..`, paths through symlinks (in a layer; a user's archive follows them inside the root) and hardlinks leaving
 * the root. When this call created `dest`, any failure removes it.
 */
export type { LayerBlob };

export async function applyLayer(blob: LayerBlob, dest: string, opts: ApplyOptions): Promise<void> {
  const root = path.resolve(dest);
  let created = false;
  const st = await fsp.lstat(root).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!st) {
    await fsp.mkdir(path.dirname(root), { recursive: true });
    await fsp.mkdir(root, { mode: 0o755 });
    created = true;
  } else if (!st.isDirectory()) {
    throw new InputError(`${root} is not a directory`);
  } else if (opts.format === 'overlay' && (await fsp.readdir(root)).length > 0) {
    throw new InputError(`snapshot dir ${root} is not empty`);
  }
  const name = blob.digest ?? blob.path;
  if (blob.digest) await checkBlobDigest(blob.path, blob.digest);
  const { stream, close } = await openLayerStream(blob.path, opts.onRead);
  const diffHash = blob.diffID ? createHash('sha256') : undefined;
  const reader = new TarReader(diffHash ? hashing(stream, diffHash) : stream);
  try {
    const applier = new Applier(root, opts.format, name, opts.archive ?? false, opts.owner);
    for (;;) {
      const e = await reader.next();
      if (!e) break;
      await applier.entry(e, reader);
    }
    if (diffHash) {
      await reader.drain(); // the diff_id covers the end-of-archive blocks and any padding after them
      const actual = `sha256:${diffHash.digest('hex')}`;
      if (actual !== blob.diffID) {
        throw new InputError(`layer ${name}: its uncompressed content hashes to ${actual}, but the image config claims diff_id ${blob.diffID}; refusing the image`);
      }
    }
    await applier.finish();
  } catch (e) {
    close();
    if (created) await fsp.rm(root, { recursive: true, force: true });
    else if (opts.format === 'overlay') {
      // the snapshot dir was empty when we started: leave it empty again
      for (const n of await fsp.readdir(root).catch(() => [])) await fsp.rm(path.join(root, n), { recursive: true, force: true });
    }
    throw e;
  } finally {
    await reader.close().catch(() => undefined);
  }
}

async function writeAll(fh: fsp.FileHandle, chunk: Buffer, position?: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position === undefined ? null : position + off);
    off += bytesWritten;
  }
}

/** Exact reads from an entry's data (the reader hands out chunks of whatever size arrives). */
class BodyBytes {
  #it: AsyncIterator<Buffer>;
  #buf: Buffer = Buffer.alloc(0);
  #left: number;
  constructor(src: AsyncIterable<Buffer>, size: number) {
    this.#it = src[Symbol.asyncIterator]();
    this.#left = size;
  }
  /** Up to n bytes; fewer only at the end of the data. */
  async read(n: number): Promise<Buffer> {
    while (this.#buf.length < n && this.#left > 0) {
      const r = await this.#it.next();
      if (r.done) break;
      this.#left -= r.value.length;
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, r.value]) : r.value;
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }
}


class Applier {
  readonly #root: string;
  readonly #format: 'overlay' | 'flat';
  readonly #layer: string;
  readonly #archive: boolean;
  /** Relative paths known to be real directories (every ancestor of a member is a member too). */
  readonly #dirs = new Set<string>(['']);
  /** Paths this layer wrote: whiteouts and opaque markers only hide what lower layers had. */
  readonly #mine = new Set<string>();
  readonly #dirTimes: { rel: string; mtime: number }[] = [];
  readonly #whiteouts = new Map<string, number>();
  readonly #opaque: string[] = [];
  readonly #xattrs: { path: string; xattrs: Map<string, Buffer> }[] = [];

  readonly #owner?: { uid: number; gid: number };

  constructor(root: string, format: 'overlay' | 'flat', layer: string, archive: boolean, owner?: { uid: number; gid: number }) {
    this.#root = root;
    this.#format = format;
    this.#layer = layer;
    this.#archive = archive;
    this.#owner = owner;
  }

  #refuse(e: TarEntry, why: string): never {
    throw new InputError(`${this.#archive ? 'archive' : 'layer'} ${this.#layer}: refusing entry ${JSON.stringify(e.path)}: ${why}`);
  }

  /** Normalises an archive path to a relative one, refusing absolute paths and `..`. */
  #clean(e: TarEntry, p: string, what = 'path'): string {
    if (p.startsWith('/')) this.#refuse(e, `absolute ${what}`);
    if (p.includes('\0')) this.#refuse(e, `NUL in ${what}`);
    const parts = p.split('/').filter((x) => x !== '' && x !== '.');
    if (parts.includes('..')) this.#refuse(e, `${what} contains a ".." component`);
    // Linux's limits; past them every call on the path fails, so say which entry rather than what the call met.
    if (Buffer.byteLength(p) >= 4096) this.#refuse(e, `${what} is longer than the 4096 bytes a Linux path may have`);
    if (parts.some((x) => Buffer.byteLength(x) > 255)) this.#refuse(e, `${what} has a name longer than the 255 bytes Linux allows`);
    return parts.join('/');
  }

  #abs(rel: string): string {
    return rel === '' ? this.#root : path.join(this.#root, rel);
  }

  async #lstat(rel: string): Promise<Stats | undefined> {
    try {
      return await fsp.lstat(this.#abs(rel));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /** Makes sure every directory above `rel` is a real directory (creating missing ones), never a symlink. */
  async #parents(e: TarEntry, rel: string, create = true): Promise<void> {
    const parts = rel.split('/');
    parts.pop();
    let cur = '';
    for (const part of parts) {
      cur = cur ? `${cur}/${part}` : part;
      if (this.#dirs.has(cur)) continue;
      const st = await this.#lstat(cur);
      if (!st) {
        if (!create) this.#refuse(e, `${cur} does not exist`);
        await fsp.mkdir(this.#abs(cur), { mode: 0o755 });
        this.#mine.add(cur);
      } else if (st.isSymbolicLink()) {
        this.#refuse(e, `its parent ${cur} is a symlink`);
      } else if (!st.isDirectory()) {
        this.#refuse(e, `its parent ${cur} is not a directory`);
      }
      this.#dirs.add(cur);
    }
  }

  /** Forget cached directories at or below `rel` (it is being replaced or removed). */
  #forget(rel: string): void {
    if (!this.#dirs.has(rel)) return;
    const prefix = rel + '/';
    for (const d of this.#dirs) if (d === rel || d.startsWith(prefix)) this.#dirs.delete(d);
  }

  async #remove(rel: string): Promise<void> {
    this.#forget(rel);
    await fsp.rm(this.#abs(rel), { recursive: true, force: true });
  }

  async entry(e: TarEntry, reader: TarReader): Promise<void> {
    let rel = this.#clean(e, e.path);
    if (this.#archive) {
      // An archive unpacks as if chrooted at its destination: writes follow the symlinks on their way, inside it.
      rel = landingPath(this.#root, rel);
      if (this.#owner) {
        e.uid = this.#owner.uid;
        e.gid = this.#owner.gid;
      }
    }
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';

    if (base.startsWith(WHITEOUT_PREFIX) && !this.#archive) {
      await this.#parents(e, rel);
      if (base === OPAQUE_MARKER) {
        if (this.#format === 'overlay') this.#opaque.push(this.#abs(parent));
        else await this.#clearDir(parent);
      } else if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) {
        // other aufs metadata (.wh..wh.plnk etc.): meaningless here
      } else {
        const name = base.slice(WHITEOUT_PREFIX.length);
        // `.wh.` alone or `.wh..` would name the parent or the grandparent: a whiteout hides one entry of its own dir.
        if (name === '' || name === '.' || name === '..') this.#refuse(e, `whiteout ${JSON.stringify(base)} names no entry of its directory`);
        const target = (parent ? parent + '/' : '') + name;
        if (this.#mine.has(target)) return;
        if (this.#format === 'overlay') this.#whiteouts.set(this.#abs(target), e.mtime);
        else await this.#remove(target);
      }
      return;
    }

    if (rel === '') {
      // the root itself ("./"): take its metadata
      if (e.type === '5') await this.#meta(this.#root, e, true);
      return;
    }
    await this.#parents(e, rel);
    const abs = this.#abs(rel);
    const existing = this.#format === 'flat' || this.#mine.has(rel) ? await this.#lstat(rel) : undefined;
    this.#mine.add(rel);

    if (e.type === '5') {
      if (existing && !existing.isDirectory()) await this.#remove(rel);
      if (!existing || !existing.isDirectory()) await fsp.mkdir(abs, { mode: 0o700 });
      this.#dirs.add(rel);
      await this.#meta(abs, e, true);
      this.#keepXattrs(abs, e);
      return;
    }
    if (existing) {
      if (existing.isDirectory()) await this.#remove(rel);
      else await fsp.unlink(abs);
    }

    if (e.unsupported) this.#refuse(e, `it is ${e.unsupported}`);
    switch (e.type) {
      case '0': {
        const fh = await fsp.open(abs, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
        try {
          if (e.sparse) await this.#writeSparse(e, e.sparse, reader, fh);
          else {
            let written = 0;
            for await (const chunk of reader.body()) {
              await writeAll(fh, chunk);
              written += chunk.length;
            }
            if (written !== e.size) throw new StratumError(`layer ${this.#layer}: truncated data for ${e.path}`);
          }
          await fh.chown(e.uid, e.gid);
          await fh.chmod(e.mode & 0o7777);
          await fh.utimes(e.mtime, e.mtime);
        } finally {
          await fh.close();
        }
        break;
      }
      case '1': {
        let target = this.#clean(e, e.linkpath, 'hardlink target');
        if (this.#archive) target = landingPath(this.#root, target);
        if (target === '') this.#refuse(e, 'hardlink to the root directory');
        await this.#parents(e, target, false);
        const tst = await this.#lstat(target);
        if (!tst) this.#refuse(e, `hardlink target ${target} does not exist`);
        if (tst.isDirectory()) this.#refuse(e, `hardlink target ${target} is a directory`);
        // link(2) does not follow a symlink target, so this never reaches outside the root.
        await fsp.link(this.#abs(target), abs);
        break;
      }
      case '2': {
        const t = e.linkpath;
        if (!t) this.#refuse(e, 'empty symlink target');
        // Any target is kept, `../x` above the root included, as BuildKit and containerd keep it: what must stay
        // inside is where writes land, and no write here follows a symlink (parents are checked, files O_NOFOLLOW).
        await fsp.symlink(t, abs);
        await fsp.lchown(abs, e.uid, e.gid);
        await fsp.lutimes(abs, e.mtime, e.mtime);
        break;
      }
      case '3':
      case '4':
      case '6': {
        const args = ['-m', (e.mode & 0o7777).toString(8), '--', abs];
        if (e.type === '6') args.push('p');
        else args.push(e.type === '3' ? 'c' : 'b', String(e.devmajor), String(e.devminor));
        await run('mknod', args);
        await fsp.lchown(abs, e.uid, e.gid);
        await fsp.chmod(abs, e.mode & 0o7777);
        await fsp.lutimes(abs, e.mtime, e.mtime);
        break;
      }
      default:
        this.#refuse(e, `unsupported entry type ${JSON.stringify(e.type)}`);
    }
    if (e.type !== '2') this.#keepXattrs(abs, e);
  }

  /**
   * A GNU sparse file: each (offset, size) region of the map is written where it belongs, and the holes between
   * stay holes. Format 1.0 keeps the map, as decimal lines, in the first blocks of the data.
   */
  async #writeSparse(e: TarEntry, sparse: NonNullable<TarEntry['sparse']>, reader: TarReader, fh: fsp.FileHandle): Promise<void> {
    const body = new BodyBytes(reader.body(), e.size);
    let map = sparse.map;
    if (!map) {
      const nums: number[] = [];
      let text = '';
      let want = 1;
      while (nums.length < want) {
        const block = await body.read(512);
        if (block.length === 0) this.#refuse(e, 'its data ends inside its sparse map');
        text += block.toString('latin1');
        const lines = text.split('\n');
        text = lines.pop()!;
        for (const l of lines) {
          const n = Number(l);
          if (l === '' || !Number.isSafeInteger(n) || n < 0) this.#refuse(e, 'its sparse map is malformed');
          nums.push(n);
          if (nums.length === 1) want = 1 + 2 * n;
        }
        if (want > 1 + 2 * Math.ceil(e.size / 2)) this.#refuse(e, 'its sparse map is larger than its data');
      }
      map = [];
      for (let i = 1; i < want; i += 2) map.push([nums[i]!, nums[i + 1]!]);
    }
    let end = 0;
    for (const [offset, size] of map) {
      if (offset < end || offset + size > sparse.realSize) this.#refuse(e, 'its sparse map has overlapping regions or regions past its size');
      for (let done = 0; done < size; ) {
        const chunk = await body.read(Math.min(size - done, 1 << 20));
        if (chunk.length === 0) throw new StratumError(`layer ${this.#layer}: truncated data for ${e.path}`);
        await writeAll(fh, chunk, offset + done);
        done += chunk.length;
      }
      end = offset + size;
    }
    await fh.truncate(sparse.realSize);
  }

  /** Only capabilities and user.* xattrs: trusted.overlay.* from an archive could steer overlayfs. */
  #keepXattrs(abs: string, e: TarEntry): void {
    const keep = new Map([...e.xattrs].filter(([k]) => k === 'security.capability' || k.startsWith('user.')));
    if (keep.size) this.#xattrs.push({ path: abs, xattrs: keep });
  }

  async #meta(abs: string, e: TarEntry, dir: boolean): Promise<void> {
    await fsp.lchown(abs, e.uid, e.gid);
    await fsp.chmod(abs, e.mode & 0o7777);
    if (dir) this.#dirTimes.push({ rel: abs, mtime: e.mtime });
  }

  /** Opaque marker in flat mode: drop what lower layers had in the directory, keep this layer's entries. */
  async #clearDir(rel: string): Promise<void> {
    const names = await fsp.readdir(this.#abs(rel));
    for (const n of names) {
      const child = rel ? `${rel}/${n}` : n;
      if (!this.#mine.has(child)) await this.#remove(child);
    }
  }

  async finish(): Promise<void> {
    if (this.#whiteouts.size) {
      // One xargs instead of one process per whiteout; paths are absolute so none looks like an option.
      await run('xargs', ['-0', '-r', '-I{}', 'mknod', '{}', 'c', '0', '0'], { input: [...this.#whiteouts.keys()].join('\0') + '\0' });
      for (const [p, t] of this.#whiteouts) await fsp.lutimes(p, t, t);
    }
    if (this.#opaque.length) {
      await restoreXattrs(this.#opaque.map((p) => ({ path: p, xattrs: new Map([['trusted.overlay.opaque', Buffer.from('y')]]) })));
    }
    // capabilities last: chown clears security.capability
    await restoreXattrs(this.#xattrs);
    // directory mtimes after everything inside them was written, deepest first
    this.#dirTimes.sort((a, b) => b.rel.length - a.rel.length);
    for (const d of this.#dirTimes) await fsp.utimes(d.rel, d.mtime, d.mtime);
  }
}
