import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../util/errors.js';

/**
 * Resolves `p` inside `root` the way a process chrooted at `root` would, following symlinks
 * but never leaving `root`: `..` and absolute link targets are clamped to the root. Missing
 * components are kept as they are (the caller may create them).
 */
export async function resolveInRoot(root: string, p: string, opts: { followFinal?: boolean } = {}): Promise<string> {
  const followFinal = opts.followFinal ?? true;
  const pending = splitPath(p);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    const isFinal = pending.length === 0;
    let st;
    try {
      st = await lstat(candidate);
    } catch {
      resolved.push(part);
      continue;
    }
    if (st.isSymbolicLink() && (!isFinal || followFinal)) {
      if (++hops > 255) throw new InputError(`too many levels of symbolic links resolving ${p}`);
      const target = await readlink(candidate);
      if (path.isAbsolute(target)) resolved.length = 0;
      pending.unshift(...splitPath(target));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/**
 * Resolves `p` inside a host directory that must not be escaped (a build context). Unlike
 * resolveInRoot, a symlink that leads outside is an error rather than clamped: the user meant a
 * host path we refuse to read.
 */
export async function resolveInContext(root: string, p: string, what: string): Promise<string> {
  const pending = splitPath(p);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.' || part === '') continue;
    if (part === '..') {
      if (resolved.length === 0) throw new InputError(`${what}: path ${p} leads outside the build context`);
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let st;
    try {
      st = await lstat(candidate);
    } catch {
      resolved.push(part);
      continue;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 255) throw new InputError(`${what}: too many levels of symbolic links in ${p}`);
      const target = await readlink(candidate);
      if (path.isAbsolute(target)) {
        throw new InputError(`${what}: ${path.join(...resolved, part)} is a symlink to ${target}, outside the build context`);
      }
      if (escapes(resolved.length, target)) {
        throw new InputError(`${what}: ${path.join(...resolved, part)} is a symlink to ${target}, outside the build context`);
      }
      pending.unshift(...splitPath(target));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

function escapes(depth: number, target: string): boolean {
  let d = depth;
  for (const seg of splitPath(target)) {
    if (seg === '..') d--;
    else if (seg !== '.' && seg !== '') d++;
    if (d < 0) return true;
  }
  return false;
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}
