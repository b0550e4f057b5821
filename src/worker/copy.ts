import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import type { Chmod } from './filemode.js';
import { resolveInRoot } from './securejoin.js';
import type { SourceEntry, SourceItem } from './sources.js';

export interface CopyOptions {
  /** The root the files land in: a mounted overlay, or an empty dir for COPY --link. */
  destRoot: string;
  /**
   * The dir the new snapshot is made in: the overlay's upper dir when destRoot is a mounted overlay (or destRoot
   * itself for COPY --link). A directory this copy creates had nothing under
   * it in the lower layers, so its contents can be written to the upper dir directly: the same result without
   * overlayfs in the way of every call (three times faster for a venv).
   */
  upper?: string;
  /** Absolute destination inside destRoot, WORKDIR already applied; a trailing '/' means a directory. */
  dest: string;
  owner?: { uid: number; gid: number };
  /** Keep the sources' owners (copies from another stage or image); else files belong to root. */
  keepOwners: boolean;
  /** --chmod (or ADD's 0600 for a URL): what a copied entry's mode becomes. */
  chmod?: Chmod;
  what: string;
  /**
   * For a source read through a read-only overlay of snapshots: the mount and its layer dirs, topmost first.
   * A file copied into a new directory with its owner, mode and times kept is hard-linked from the layer it
   * lives in rather than copied: snapshots never change once made, so the two can share the inode.
   */
  sourceLayers?: { root: string; layers: string[] };
}

type Owner = { uid: number; gid: number };

/**
 * COPY semantics of the Dockerfile reference: directories copy their contents, files land in or at dest.
 *
 * The copy itself uses synchronous calls: a COPY is thousands of small files, each needing several calls, and a
 * round trip through the thread pool per call (shared with gzip) cost more than the calls themselves.
 */
export async function copyItems(items: SourceItem[], o: CopyOptions): Promise<void> {
  // An octal --chmod is also the mode of every directory the copy creates, as BuildKit gives it.
  const dirs = new DirMaker(o.destRoot, o.owner, o.chmod?.octal);
  const destPath = path.posix.normalize(o.dest);
  const existingDest = await resolveInRoot(o.destRoot, destPath);
  const destIsExistingDir = isDir(existingDest);
  const wantsDir = o.dest.endsWith('/') || destIsExistingDir;
  if (items.length > 1 && !wantsDir) {
    throw new InputError(`${o.what}: with more than one source file, the destination must be a directory and end with a /`);
  }
  const ownerOf = (e: SourceEntry): Owner => o.owner ?? (o.keepOwners ? { uid: e.st.uid, gid: e.st.gid } : { uid: 0, gid: 0 });
  for (const [i, item] of items.entries()) {
    const target = item.isDir ? destPath : wantsDir ? path.posix.join(destPath, item.base) : destPath;
    if (item.isDir) {
      const host = await dirs.ensure(target);
      const direct = o.upper && items.length === 1 && dirs.made(target) ? path.join(o.upper, path.relative(o.destRoot, host)) : undefined;
      if (direct && isDir(direct)) {
        copyIntoFreshDir(item, direct, o, ownerOf);
        continue;
      }
    }
    for (const e of item.entries) {
      const inContainer = e.rel ? path.posix.join(target, e.rel) : target;
      const owner = ownerOf(e);
      if (e.st.isDirectory()) {
        if (e.rel === '') continue; // the item dir itself: only its contents are copied
        const host = await dirs.ensure(inContainer, owner);
        fs.chmodSync(host, modeOf(e, o));
        fs.lchownSync(host, owner.uid, owner.gid);
        continue;
      }
      const parentDir = path.posix.dirname(inContainer);
      const parent = await dirs.ensure(parentDir);
      const host = path.join(parent, path.posix.basename(inContainer));
      // Nothing stands in a directory this copy made, until a second source item copies into it.
      if (i > 0 || !dirs.made(parentDir)) replaceable(host);
      writeEntry(e, host, owner, o);
    }
    // Directory mtimes change as children are added: restore them last.
    if (!item.isDir) continue;
    for (const e of subdirsDeepestFirst(item)) {
      const host = await resolveInRoot(o.destRoot, path.posix.join(target, e.rel));
      fs.lutimesSync(host, e.st.atime, e.st.mtime);
    }
  }
}

/** A directory item's contents into a directory that holds nothing yet: no lookups, nothing to replace. */
function copyIntoFreshDir(item: SourceItem, dir: string, o: CopyOptions, ownerOf: (e: SourceEntry) => Owner): void {
  for (const e of item.entries) {
    if (e.rel === '') continue;
    const host = path.join(dir, e.rel);
    const owner = ownerOf(e);
    if (e.st.isDirectory()) {
      fs.mkdirSync(host);
      fs.chmodSync(host, modeOf(e, o));
      fs.lchownSync(host, owner.uid, owner.gid);
    } else if (!(o.chmod === undefined && owner.uid === e.st.uid && owner.gid === e.st.gid && linkFromLayer(e, host, o.sourceLayers))) {
      writeEntry(e, host, owner, o);
    }
  }
  for (const e of subdirsDeepestFirst(item)) {
    fs.lutimesSync(path.join(dir, e.rel), e.st.atime, e.st.mtime);
  }
}

/** A directory item's subdirectories, children before parents: the order to restore their mtimes in. */
function subdirsDeepestFirst(item: SourceItem): SourceEntry[] {
  return item.entries.filter((x) => x.st.isDirectory() && x.rel !== '').reverse();
}

/** Hard-links a file from the snapshot layer it lives in (the very inode the overlay showed); false if it cannot. */
function linkFromLayer(e: SourceEntry, host: string, src: CopyOptions['sourceLayers']): boolean {
  if (!src || !e.st.isFile()) return false;
  const rel = path.relative(src.root, e.host);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  for (const layer of src.layers) {
    const real = path.join(layer, rel);
    const st = fs.lstatSync(real, { throwIfNoEntry: false });
    if (!st) continue;
    if (!st.isFile() || st.ino !== e.st.ino || st.size !== e.st.size || st.mtimeMs !== e.st.mtimeMs) return false;
    try {
      fs.linkSync(real, host);
      return true;
    } catch {
      return false; // another file system, or too many links: copy instead
    }
  }
  return false;
}

function modeOf(e: SourceEntry, o: CopyOptions): number {
  return o.chmod ? o.chmod.apply(e.st.mode, e.st.isDirectory()) : e.st.mode & 0o7777;
}

/** One file, symlink or special file, at a path where nothing stands. */
function writeEntry(e: SourceEntry, host: string, owner: Owner, o: CopyOptions): void {
  const forced = o.chmod ? modeOf(e, o) : undefined;
  if (e.st.isSymbolicLink()) {
    fs.symlinkSync(e.link!, host);
    fs.lchownSync(host, owner.uid, owner.gid);
  } else if (e.st.isFile()) {
    // copyFile gives the new file the source's mode; chown clears set-id bits, so the mode goes on after it.
    fs.copyFileSync(e.host, host, fs.constants.COPYFILE_FICLONE);
    const mode = forced ?? e.st.mode & 0o7777;
    if (owner.uid !== 0 || owner.gid !== 0) fs.lchownSync(host, owner.uid, owner.gid);
    if (forced !== undefined || mode & 0o7000) fs.chmodSync(host, mode);
  } else if (e.st.isSocket()) {
    // A context sends a socket as an empty regular file (BuildKit's fsutil drops the socket bit). A socket in
    // a stage's rootfs cannot reach an image either (tar has no socket type), so it is left out there.
    if (o.keepOwners) return;
    fs.writeFileSync(host, '', { mode: 0o600, flag: 'wx' });
    fs.lchownSync(host, owner.uid, owner.gid);
    fs.chmodSync(host, forced ?? e.st.mode & 0o7777);
  } else {
    // FIFOs and devices are recreated, as BuildKit's copy does.
    const type = e.st.isFIFO() ? ['p'] : [e.st.isCharacterDevice() ? 'c' : 'b', String(Math.floor(e.st.rdev / 256) & 0xfff), String((e.st.rdev & 0xff) | ((e.st.rdev >> 12) & 0xfff00))];
    execFileSync('mknod', ['-m', (forced ?? e.st.mode & 0o7777).toString(8), '--', host, ...type], { stdio: 'ignore' });
    fs.lchownSync(host, owner.uid, owner.gid);
  }
  fs.lutimesSync(host, e.st.atime, e.st.mtime);
}

/** Removes what stands at a file's destination (never following a symlink there). */
function replaceable(host: string): void {
  const st = fs.lstatSync(host, { throwIfNoEntry: false });
  if (!st) return;
  fs.rmSync(host, { recursive: st.isDirectory(), force: true });
}

function isDir(p: string): boolean {
  return fs.lstatSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Creates directories inside a root, resolving symlinks within it; remembers what it resolved. */
export class DirMaker {
  private readonly known = new Map<string, string>();
  constructor(
    private readonly root: string,
    private readonly owner?: { uid: number; gid: number },
    private readonly mode = 0o755,
  ) {}

  private readonly created = new Set<string>();

  /** True when this maker created the directory (so it held nothing before this copy). */
  made(inContainer: string): boolean {
    return this.created.has(path.posix.normalize('/' + inContainer));
  }

  async ensure(inContainer: string, owner = this.owner): Promise<string> {
    const norm = path.posix.normalize('/' + inContainer);
    const cached = this.known.get(norm);
    if (cached) return cached;
    if (norm === '/') return this.root;
    const parent = await this.ensure(path.posix.dirname(norm), this.owner);
    let host = path.join(parent, path.posix.basename(norm));
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) host = await resolveInRoot(this.root, norm);
    const after = st?.isSymbolicLink() ? fs.lstatSync(host, { throwIfNoEntry: false }) : st;
    if (!after) {
      fs.mkdirSync(host);
      fs.chmodSync(host, this.mode);
      fs.lchownSync(host, owner?.uid ?? 0, owner?.gid ?? 0);
      this.created.add(norm);
    } else if (!after.isDirectory()) {
      throw new InputError(`cannot create directory ${norm}: a file is in the way`);
    }
    this.known.set(norm, host);
    return host;
  }
}
