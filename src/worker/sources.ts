import { createHash } from 'node:crypto';
import fs, { type Stats } from 'node:fs';
import { hashFile } from '../util/hash.js';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { minimatch } from 'minimatch';
import dockerignore from '@balena/dockerignore';
import { InputError } from '../util/errors.js';
import { resolveInContext, resolveInRoot } from './securejoin.js';

/** One file, dir or link to copy; `rel` is its path under the item it belongs to ('' = the item itself). */
export interface SourceEntry {
  host: string;
  rel: string;
  st: Stats;
  link?: string;
}

/** What one source argument of COPY/ADD matched. */
export interface SourceItem {
  host: string;
  /** Base name used when a single file is copied into a directory. */
  base: string;
  isDir: boolean;
  entries: SourceEntry[];
}

export interface SourceRoot {
  root: string;
  /** A context is a host directory that must not be escaped; a rootfs clamps links at its root. */
  kind: 'context' | 'rootfs';
  /** Relative path (from the root) -> true when .dockerignore excludes it. */
  ignored?: (rel: string) => boolean;
  /** Keep walking into ignored dirs because an exception may bring children back. */
  ignoreHasExceptions?: boolean;
  /** What the root is, for "not found in ...": `stage build`, `image x`; the build context when unset. */
  label?: string;
}

/**
 * A build context directory as a source, with its .dockerignore applied (a Dockerfile-specific
 * `<Dockerfile>.dockerignore` first). Every use of a context (COPY, ADD, bind mounts, named contexts) reads it
 * through this, so what .dockerignore excludes is invisible to all of them alike.
 */
export function contextSource(dir: string, dockerfile?: string): SourceRoot {
  const root = path.resolve(dir);
  const candidates = [dockerfile ? `${dockerfile}.dockerignore` : undefined, path.join(root, '.dockerignore')];
  for (const f of candidates) {
    if (!f) continue;
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const patterns = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    // CommonJS package: under NodeNext its factory sits on `.default` (it sets that itself).
    const ig = dockerignore.default().add(patterns);
    return { root, kind: 'context', ignored: (rel: string) => ig.ignores(rel), ignoreHasExceptions: patterns.some((p) => p.startsWith('!')) };
  }
  return { root, kind: 'context' };
}

/**
 * What one matched source is, as a tree of its own under `dir` (hard links where the file system allows, else
 * copies keeping owner, mode and times), for a bind mount to show exactly what .dockerignore lets through.
 * Returns the path to mount.
 */
export function materializeSource(item: SourceItem, dir: string): string {
  const top = item.isDir ? dir : path.join(dir, item.base);
  for (const e of item.entries) {
    const host = e.rel ? path.join(top, e.rel) : top;
    if (e.st.isDirectory()) {
      if (e.rel) fs.mkdirSync(host);
      fs.chmodSync(host, e.st.mode & 0o7777);
      fs.lchownSync(host, e.st.uid, e.st.gid);
    } else if (e.st.isSymbolicLink()) {
      fs.symlinkSync(e.link!, host);
      fs.lchownSync(host, e.st.uid, e.st.gid);
    } else if (e.st.isFile()) {
      try {
        fs.linkSync(e.host, host);
        continue;
      } catch {
        fs.copyFileSync(e.host, host, fs.constants.COPYFILE_FICLONE);
        fs.lchownSync(host, e.st.uid, e.st.gid);
        fs.chmodSync(host, e.st.mode & 0o7777);
      }
    } else continue; // sockets, fifos and devices are not part of a context
    fs.lutimesSync(host, e.st.atime, e.st.mtime);
  }
  for (const e of item.entries.filter((x) => x.st.isDirectory()).reverse()) fs.lutimesSync(e.rel ? path.join(top, e.rel) : top, e.st.atime, e.st.mtime);
  return top;
}

const GLOB = /[*?[]/;

/** Expands COPY/ADD source arguments into the entries they name, refusing paths out of a context. */
export async function collectSources(src: SourceRoot, patterns: string[], what: string): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for (const pattern of patterns) {
    const matches = await expandPattern(src, pattern, what);
    if (matches.length === 0) {
      const place = src.label ?? (src.kind === 'context' ? 'the build context' : 'the source');
      throw new InputError(`${what}: ${GLOB.test(pattern) ? `no file matches ${JSON.stringify(pattern)} in` : `${JSON.stringify(pattern)} not found in`} ${place}`);
    }
    for (const host of matches) {
      const st = await lstat(host);
      const relTop = path.relative(src.root, host);
      const item: SourceItem = { host, base: path.basename(host), isDir: st.isDirectory(), entries: [] };
      if (item.isDir) {
        item.entries.push({ host, rel: '', st });
        walk(src, host, '', relTop, item.entries);
      } else {
        item.entries.push({ host, rel: '', st, link: st.isSymbolicLink() ? await readlink(host) : undefined });
      }
      items.push(item);
    }
  }
  return items;
}

async function expandPattern(src: SourceRoot, pattern: string, what: string): Promise<string[]> {
  const relative = path.posix.normalize(pattern.replace(/^\/+/, '') || '.');
  if (src.kind === 'context' && (relative === '..' || relative.startsWith('../'))) {
    throw new InputError(`${what}: ${pattern} is outside the build context`);
  }
  const clean = path.posix.normalize('/' + pattern).slice(1);
  const resolve = (p: string) => (src.kind === 'context' ? resolveInContext(src.root, p, what) : resolveInRoot(src.root, p));
  if (!GLOB.test(clean)) {
    const host = await resolve(clean);
    const rel = path.relative(src.root, host);
    if (rel && src.ignored?.(rel)) return [];
    return (await exists(host)) ? [host] : [];
  }
  // Expand one segment at a time so each directory we enter is resolved safely.
  let current = [src.root];
  const segments = clean.split('/').filter(Boolean);
  for (const seg of segments) {
    const next: string[] = [];
    for (const dir of current) {
      const relDir = path.relative(src.root, dir);
      if (GLOB.test(seg)) {
        let names: string[];
        try {
          names = await readdir(dir);
        } catch {
          continue;
        }
        for (const name of names.sort()) {
          if (minimatch(name, seg, { dot: true })) next.push(await resolve(path.join(relDir, name)));
        }
      } else {
        const host = await resolve(path.join(relDir, seg));
        if (await exists(host)) next.push(host);
      }
    }
    current = next;
  }
  return current.filter((h) => {
    const rel = path.relative(src.root, h);
    return !(rel && src.ignored?.(rel));
  });
}

/** Synchronous, as copy.ts is: a tree is thousands of entries and each async call is a thread-pool round trip. */
function walk(src: SourceRoot, dir: string, rel: string, relFromRoot: string, out: SourceEntry[]): void {
  const names = fs.readdirSync(dir).sort();
  for (const name of names) {
    const host = path.join(dir, name);
    const childRel = rel ? `${rel}/${name}` : name;
    const fromRoot = relFromRoot ? `${relFromRoot}/${name}` : name;
    const st = fs.lstatSync(host);
    const ignored = src.ignored?.(fromRoot) ?? false;
    if (st.isDirectory()) {
      if (!ignored) out.push({ host, rel: childRel, st });
      if (!ignored || src.ignoreHasExceptions) walk(src, host, childRel, fromRoot, out);
      continue;
    }
    if (ignored) continue;
    out.push({ host, rel: childRel, st, link: st.isSymbolicLink() ? fs.readlinkSync(host) : undefined });
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * A digest of what a COPY would read: names, types, modes and content. Timestamps are left out,
 * so touching a file without changing it keeps the cache. Owners count only when they are kept.
 */
export async function hashSources(items: SourceItem[], opts: { withOwners: boolean }): Promise<string> {
  const h = createHash('sha256');
  for (const item of items) {
    h.update(`item\0${item.base}\0${item.isDir}\0`);
    for (const e of item.entries) {
      const type = e.st.isDirectory() ? 'd' : e.st.isSymbolicLink() ? 'l' : e.st.isFile() ? 'f' : 'o';
      h.update(`${type}\0${e.rel}\0${(e.st.mode & 0o7777).toString(8)}\0`);
      if (opts.withOwners) h.update(`${e.st.uid}:${e.st.gid}\0`);
      if (type === 'l') h.update(`${e.link}\0`);
      if (type === 'f') h.update(`${await hashFile(e.host)}\0`);
    }
  }
  return `sha256:${h.digest('hex')}`;
}

