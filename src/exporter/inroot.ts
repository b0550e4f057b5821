import fs from 'node:fs';
import path from 'node:path';

/**
 * Where a user's archive entry lands when it is unpacked as if chrooted at `root` (as BuildKit's chrootarchive
 * does): symlinks among the entry's parent directories are followed, whether the image had them (`var/run -> /run`)
 * or the archive made them, but `..` and absolute targets stop at the root. The last component is not followed: the
 * entry replaces whatever stands there. Returns the path relative to `root`, every parent of which is a real
 * directory or missing.
 */
export function landingPath(root: string, rel: string): string {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  const last = parts.pop();
  if (last === undefined) return '';
  const pending = parts;
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const st = fs.lstatSync(path.join(root, ...resolved, part), { throwIfNoEntry: false });
    if (!st?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    // Past 255 links the kernel gives ELOOP; so do we, rather than loop.
    if (++hops > 255) throw Object.assign(new Error(`too many levels of symbolic links in ${rel}`), { code: 'ELOOP' });
    const target = fs.readlinkSync(path.join(root, ...resolved, part));
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== ''));
  }
  return [...resolved, last].join('/');
}
