import fs from 'node:fs';
import path from 'node:path';
import { copyItems, DirMaker, type CopyOptions } from './copy.js';
import { resolveInContext, resolveInRoot } from './securejoin.js';
import type { SourceItem, SourceRoot } from './sources.js';

/**
 * COPY --parents: each match lands under the destination at its path from the source root, or from the pivot
 * (`a/./b/c` keeps `b/c`: the first `./` is the pivot, as in BuildKit). Directories on the way that the copy
 * creates take their source directory's mode, times and owner, as BuildKit's parent directories do.
 */
export async function copyWithParents(items: SourceItem[], pattern: string, src: SourceRoot, o: CopyOptions): Promise<void> {
  const cut = pattern.indexOf('/./');
  const pivotDepth = cut < 0 ? 0 : segments(pattern.slice(0, cut)).length;
  const destDir = path.posix.normalize(o.dest.endsWith('/') ? o.dest : o.dest + '/');
  await new DirMaker(o.destRoot, o.owner, o.chmod?.octal).ensure(destDir);
  for (const item of items) {
    const rel = segments(item.logical).slice(pivotDepth);
    const keep = item.isDir ? rel : rel.slice(0, -1);
    for (let i = 1; i <= keep.length; i++) {
      const inDest = path.posix.join(destDir, ...keep.slice(0, i));
      const host = await resolveInRoot(o.destRoot, inDest);
      if (fs.lstatSync(host, { throwIfNoEntry: false })) continue;
      const from = segments(item.logical).slice(0, pivotDepth + i).join('/');
      const source = src.kind === 'context' ? await resolveInContext(src.root, from, o.what) : await resolveInRoot(src.root, from);
      const st = fs.statSync(source);
      const owner = o.owner ?? (o.keepOwners ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
      fs.mkdirSync(host);
      fs.lchownSync(host, owner.uid, owner.gid);
      fs.chmodSync(host, o.chmod ? o.chmod.apply(st.mode, true) : st.mode & 0o7777);
      fs.utimesSync(host, st.atime, st.mtime);
    }
    const dest = path.posix.join(destDir, ...(item.isDir ? rel : rel.slice(0, -1))) + '/';
    await copyItems([item], { ...o, dest });
    if (item.isDir && rel.length > 0) {
      // Writing the contents moved the directory's mtime: put the source's back.
      const host = await resolveInRoot(o.destRoot, dest);
      const st = item.entries[0]?.st;
      if (st) fs.utimesSync(host, st.atime, st.mtime);
    }
  }
}

function segments(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}
