import { chmod, copyFile, lchown, lstat, mkdir, rm, symlink, lutimes, constants } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import { resolveInRoot } from './securejoin.js';
import type { SourceEntry, SourceItem } from './sources.js';

export interface CopyOptions {
  /** The root the files land in: a mounted overlay, or an empty dir for COPY --link. */
  destRoot: string;
  /** Absolute destination inside destRoot, WORKDIR already applied; a trailing '/' means a directory. */
  dest: string;
  owner?: { uid: number; gid: number };
  /** Keep the sources' owners (copies from another stage or image); else files belong to root. */
  keepOwners: boolean;
  mode?: number;
  what: string;
}

/** COPY semantics of the Dockerfile reference: directories copy their contents, files land in or at dest. */
export async function copyItems(items: SourceItem[], o: CopyOptions): Promise<void> {
  const dirs = new DirMaker(o.destRoot, o.owner);
  const destPath = path.posix.normalize(o.dest);
  const existingDest = await resolveInRoot(o.destRoot, destPath);
  const destIsExistingDir = await isDir(existingDest);
  const wantsDir = o.dest.endsWith('/') || destIsExistingDir;
  if (items.length > 1 && !wantsDir) {
    throw new InputError(`${o.what}: with more than one source file, the destination must be a directory and end with a /`);
  }
  for (const item of items) {
    const target = item.isDir ? destPath : wantsDir ? path.posix.join(destPath, item.base) : destPath;
    if (item.isDir) await dirs.ensure(target);
    const files: { e: SourceEntry; host: string; owner: { uid: number; gid: number } }[] = [];
    for (const e of item.entries) {
      const inContainer = e.rel ? path.posix.join(target, e.rel) : target;
      const owner = o.owner ?? (o.keepOwners ? { uid: e.st.uid, gid: e.st.gid } : { uid: 0, gid: 0 });
      if (e.st.isDirectory()) {
        if (e.rel === '') continue; // the item dir itself: only its contents are copied
        const host = await dirs.ensure(inContainer, owner);
        await chmod(host, o.mode ?? e.st.mode & 0o7777);
        await lchown(host, owner.uid, owner.gid);
        await lutimes(host, e.st.atime, e.st.mtime);
        continue;
      }
      if (!e.st.isSymbolicLink() && !e.st.isFile()) continue; // sockets, fifos and devices are not copied, as in Docker
      const parent = await dirs.ensure(path.posix.dirname(inContainer));
      files.push({ e, host: path.join(parent, path.posix.basename(inContainer)), owner });
    }
    // Once their directories exist the files are independent: copy several at a time (each waits on the disk).
    await forEachLimit(files, 16, async ({ e, host, owner }) => {
      await replaceable(host);
      if (e.st.isSymbolicLink()) {
        await symlink(e.link!, host);
        await lchown(host, owner.uid, owner.gid);
      } else {
        await copyFile(e.host, host, constants.COPYFILE_FICLONE);
        await lchown(host, owner.uid, owner.gid);
        await chmod(host, o.mode ?? e.st.mode & 0o7777);
      }
      await lutimes(host, e.st.atime, e.st.mtime);
    });
  }
  // Directory mtimes change as children are added: restore them last.
  for (const item of items) {
    if (!item.isDir) continue;
    for (const e of item.entries.filter((x) => x.st.isDirectory() && x.rel !== '').reverse()) {
      const host = await resolveInRoot(o.destRoot, path.posix.join(destPath, e.rel));
      await lutimes(host, e.st.atime, e.st.mtime);
    }
  }
}

async function forEachLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Removes what stands at a file's destination (never following a symlink there). */
async function replaceable(host: string): Promise<void> {
  const st = await lstat(host).catch(() => undefined);
  if (!st) return;
  await rm(host, { recursive: st.isDirectory(), force: true });
}

async function isDir(p: string): Promise<boolean> {
  const st = await lstat(p).catch(() => undefined);
  return st?.isDirectory() ?? false;
}

/** Creates directories inside a root, resolving symlinks within it; remembers what it resolved. */
export class DirMaker {
  private readonly known = new Map<string, string>();
  constructor(
    private readonly root: string,
    private readonly owner?: { uid: number; gid: number },
  ) {}

  async ensure(inContainer: string, owner = this.owner): Promise<string> {
    const norm = path.posix.normalize('/' + inContainer);
    const cached = this.known.get(norm);
    if (cached) return cached;
    if (norm === '/') return this.root;
    const parent = await this.ensure(path.posix.dirname(norm), this.owner);
    let host = path.join(parent, path.posix.basename(norm));
    const st = await lstat(host).catch(() => undefined);
    if (st?.isSymbolicLink()) host = await resolveInRoot(this.root, norm);
    const after = st?.isSymbolicLink() ? await lstat(host).catch(() => undefined) : st;
    if (!after) {
      await mkdir(host);
      await chmod(host, 0o755);
      await lchown(host, owner?.uid ?? 0, owner?.gid ?? 0);
    } else if (!after.isDirectory()) {
      throw new InputError(`cannot create directory ${norm}: a file is in the way`);
    }
    this.known.set(norm, host);
    return host;
  }
}
