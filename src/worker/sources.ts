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
  /** The matched path relative to the root, as written (symlinks not resolved): what COPY --parents keeps. */
  logical: string;
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
    const lines = text.split('\n').map((l) => l.trim());
    // As BuildKit's pattern matcher: an exclusion naming nothing is an error, not a line to skip.
    const bang = lines.findIndex((l) => /^!\s*$/.test(l));
    if (bang >= 0) throw new InputError(`${f}:${bang + 1}: illegal exclusion pattern: "!"`);
    const patterns = lines.filter((l) => l && !l.startsWith('#'));
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

export interface CollectOptions {
  /** COPY/ADD: a wildcard that matches nothing adds nothing (BuildKit's AllowEmptyWildcard); else it is an error. */
  allowEmptyWildcard?: boolean;
  /** `--exclude` patterns (.dockerignore syntax), matched against paths inside each matched directory. */
  exclude?: string[];
}

/** Expands COPY/ADD source arguments into the entries they name, refusing paths out of a context. */
export async function collectSources(src: SourceRoot, patterns: string[], what: string, opts: CollectOptions = {}): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  const excluder = opts.exclude?.length ? dockerignore.default().add(opts.exclude) : undefined;
  const excluded = excluder ? (rel: string) => excluder.ignores(rel) : undefined;
  const excludeHasExceptions = opts.exclude?.some((p) => p.startsWith('!')) ?? false;
  for (const pattern of patterns) {
    const matches = await expandPattern(src, pattern, what);
    if (matches.length === 0) {
      if (GLOB.test(pattern) && opts.allowEmptyWildcard) continue;
      const place = src.label ?? (src.kind === 'context' ? 'the build context' : 'the source');
      throw new InputError(`${what}: ${GLOB.test(pattern) ? `no file matches ${JSON.stringify(pattern)} in` : `${JSON.stringify(pattern)} not found in`} ${place}`);
    }
    for (const { host, name, logical } of matches) {
      const st = await lstat(host);
      // A symlink source is followed, and what it points to lands under the link's own name (BuildKit's FollowSymlinks).
      const item: SourceItem = { host, base: name || path.basename(host), isDir: st.isDirectory(), entries: [], logical };
      if (item.isDir) {
        item.entries.push({ host, rel: '', st });
        walk(src, host, '', path.relative(src.root, host), item.entries, excluded ? { excluded, hasExceptions: excludeHasExceptions } : undefined);
      } else {
        item.entries.push({ host, rel: '', st, link: st.isSymbolicLink() ? await readlink(host) : undefined });
      }
      items.push(item);
    }
  }
  return items;
}

/** A matched path, resolved inside the root, and the name it was matched by (a symlink's own name). */
interface Match {
  host: string;
  name: string;
  logical: string;
}

async function expandPattern(src: SourceRoot, pattern: string, what: string): Promise<Match[]> {
  const relative = path.posix.normalize(pattern.replace(/^\/+/, '') || '.');
  if (src.kind === 'context' && (relative === '..' || relative.startsWith('../'))) {
    throw new InputError(`${what}: ${pattern} is outside the build context`);
  }
  const clean = path.posix.normalize('/' + pattern).slice(1);
  const resolve = (p: string) => (src.kind === 'context' ? resolveInContext(src.root, p, what) : resolveInRoot(src.root, p));
  const visible = (h: string) => {
    const rel = path.relative(src.root, h);
    return !(rel && src.ignored?.(rel));
  };
  if (!GLOB.test(clean)) {
    const host = await resolve(clean);
    if (!visible(host)) return [];
    return (await exists(host)) ? [{ host, name: path.posix.basename(clean), logical: clean }] : [];
  }
  // Expand one segment at a time so each directory we enter is resolved safely.
  let current: Match[] = [{ host: src.root, name: '', logical: '' }];
  const segments = clean.split('/').filter(Boolean);
  for (const seg of segments) {
    const next: Match[] = [];
    for (const { host: dir, logical } of current) {
      const relDir = path.relative(src.root, dir);
      const under = (rel: string) => (logical ? `${logical}/${rel}` : rel);
      if (seg === '**') {
        // Zero or more directories, as in BuildKit's patterns: this one and every directory below it.
        next.push({ host: dir, name: path.basename(dir), logical });
        for (const sub of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
          const host = path.join(sub.parentPath, sub.name);
          if (sub.isDirectory()) next.push({ host, name: sub.name, logical: under(path.relative(dir, host)) });
        }
      } else if (GLOB.test(seg)) {
        let names: string[];
        try {
          names = await readdir(dir);
        } catch {
          continue;
        }
        for (const name of names.sort()) {
          if (minimatch(name, seg, { dot: true })) next.push({ host: await resolve(path.join(relDir, name)), name, logical: under(name) });
        }
      } else {
        const host = await resolve(path.join(relDir, seg));
        if (await exists(host)) next.push({ host, name: seg, logical: under(seg) });
      }
    }
    current = next;
  }
  const seen = new Set<string>();
  return current.filter((m) => visible(m.host) && !seen.has(m.host) && seen.add(m.host));
}

/** Synchronous, as copy.ts is: a tree is thousands of entries and each async call is a thread-pool round trip. */
type Excluder = { excluded: (rel: string) => boolean; hasExceptions: boolean };

function walk(src: SourceRoot, dir: string, rel: string, relFromRoot: string, out: SourceEntry[], ex?: Excluder): void {
  const names = fs.readdirSync(dir).sort();
  for (const name of names) {
    const host = path.join(dir, name);
    const childRel = rel ? `${rel}/${name}` : name;
    const fromRoot = relFromRoot ? `${relFromRoot}/${name}` : name;
    const st = fs.lstatSync(host);
    const ignored = src.ignored?.(fromRoot) ?? false;
    // --exclude is matched against the path inside the copied directory, not inside the context.
    const excluded = ex?.excluded(childRel) ?? false;
    if (st.isDirectory()) {
      if (!ignored && !excluded) out.push({ host, rel: childRel, st });
      if ((!ignored || src.ignoreHasExceptions) && (!excluded || ex?.hasExceptions)) walk(src, host, childRel, fromRoot, out, ex);
      continue;
    }
    if (excluded) continue;
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

