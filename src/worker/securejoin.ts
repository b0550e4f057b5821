import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../util/errors.js';

interface Policy {
  followFinal: boolean;
  /** clamp: `..` and absolute link targets stop at the root (a container's view); refuse: they are errors. */
  escape: 'clamp' | 'refuse';
  what: string;
}

/**
 * Resolves `p` inside `root` the way a process chrooted at `root` would, following symlinks
 * but never leaving `root`: `..` and absolute link targets are clamped to the root. Missing
 * components are kept as they are (the caller may create them).
 */
export function resolveInRoot(root: string, p: string, opts: { followFinal?: boolean } = {}): Promise<string> {
  return resolve(root, p, { followFinal: opts.followFinal ?? true, escape: 'clamp', what: p });
}

/**
 * Resolves `p` inside a host directory that must not be escaped (a build context). A path or
 * symlink that leads outside is an error rather than clamped: the user meant a host path we
 * refuse to read.
 */
export function resolveInContext(root: string, p: string, what: string): Promise<string> {
  return resolve(root, p, { followFinal: true, escape: 'refuse', what });
}

async function resolve(root: string, p: string, policy: Policy): Promise<string> {
  const pending = splitPath(p);
  const resolved: string[] = [];
  let via: string | undefined; // the last symlink followed, for error messages
  let hops = 0;
  const outside = () =>
    new InputError(`${policy.what}: ${p} leads outside the build context${via ? ` (through the symlink ${via})` : ''}`);
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      if (resolved.length === 0 && policy.escape === 'refuse') throw outside();
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    const st = await lstat(candidate).catch(() => undefined);
    if (!st?.isSymbolicLink() || (pending.length === 0 && !policy.followFinal)) {
      resolved.push(part);
      continue;
    }
    if (++hops > 255) throw new InputError(`${policy.what}: too many levels of symbolic links in ${p}`);
    const target = await readlink(candidate);
    via = `${path.join(...resolved, part)} -> ${target}`;
    if (path.isAbsolute(target)) {
      if (policy.escape === 'refuse') throw outside();
      resolved.length = 0;
    }
    pending.unshift(...splitPath(target));
  }
  return path.join(root, ...resolved);
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}
