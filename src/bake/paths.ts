/** Path handling that must match Go's (buildx cleans paths with path.Clean), and where relative paths are based. */
import path from 'node:path';
import type { RawBlock } from './syntax.js';
import type { Config } from './config.js';
import type { Target } from './target.js';

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(seg);
  }
  const s = (abs ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

/** Records the directories relative paths are rebased to (BUILDX_BAKE_FILE_RELATIVE_PATHS). */
export function setBlockSource(t: Target, b: RawBlock): void {
  const file = b.pos.file;
  if (file === '' || file === '-' || /^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return;
  const dir = path.dirname(file);
  t.base.defaultDir = dir;
  const ctx = b.body.attrs.find((a) => a.name === 'context');
  if (ctx) {
    t.base.contextDir = dir;
    const m = typeof ctx.expr === 'string' ? /^\$\{\s*target(?:\.([A-Za-z0-9_-]+)|\["([^"]+)"\])\.context\s*\}$/.exec(ctx.expr) : null;
    t.base.contextRef = m ? (m[1] ?? m[2]) : undefined;
  }
  if (b.body.attrs.some((a) => a.name === 'contexts')) for (const k of Object.keys(t.contexts ?? {})) t.base.contextsDir[k] = dir;
}

export const isRemoteUrl = (s: string) => /^(https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/.test(s) || /^[^:]+\.git(#.*)?$/.test(s);

const SPECIAL = /^(cwd:\/\/|target:|docker-image:|oci-layout:\/\/)/;

/** A context path relative to the bake file's directory (BUILDX_BAKE_FILE_RELATIVE_PATHS). */
export function rebasePath(base: string, p: string): string {
  if (base === '' || p === '' || SPECIAL.test(p) || isRemoteUrl(p) || p.startsWith('/')) return p;
  return cleanPath(`${base}/${p}`);
}

/** Rebases every target's context paths onto the directory of the file that set them. */
export function rebaseContextPaths(c: Config): void {
  const byName = new Map(c.targets.map((t) => [t.name, t]));
  for (const t of c.targets) {
    const ref = t.base.contextRef !== undefined ? byName.get(t.base.contextRef) : undefined;
    if (ref) {
      if (ref.base.contextDir !== undefined) t.base.contextDir = ref.base.contextDir;
      else if (ref.base.defaultDir !== undefined) t.base.contextDir = ref.base.defaultDir;
    }
    if (t.context !== undefined) {
      if (t.base.contextDir !== undefined) t.context = rebasePath(t.base.contextDir, t.context);
    } else if (t.base.defaultDir !== undefined) t.base.useDefault = true;
    for (const [k, v] of Object.entries(t.contexts ?? {})) {
      const dir = t.base.contextsDir[k];
      if (dir !== undefined) t.contexts![k] = rebasePath(dir, v);
    }
  }
}

/** The context as buildx passes it on: cleaned, with `cwd://` taken off. */
export function finalContext(ctx: string): string {
  if (ctx.startsWith('cwd://')) return cleanPath(ctx.slice('cwd://'.length));
  return isRemoteUrl(ctx) ? ctx : cleanPath(ctx);
}
