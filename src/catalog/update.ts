import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { run } from '../util/exec.js';
import { StratumError } from '../util/errors.js';
import { FULL_SHA_RE, type RefSource } from './annotations.js';
import { catalogFiles, isDockerfileName, REBUILD_TIME_RE, rfc3339Now, writeFileAtomic } from './files.js';
import { scanRefs, type PinnedRef } from './refs.js';

export interface RefStatus {
  ref: PinnedRef & { source: RefSource };
  /** The head the remote reports for the branch (or the commit the tag points at). */
  latest: string;
  behind: boolean;
}

export interface UpdateOptions {
  /** Only report; write nothing. */
  check?: boolean;
  /** Clock for the Rebuild-Time header (tests pin it). */
  now?: Date;
  /** Per-remote timeout in ms (default 60 s). */
  timeoutMs?: number;
  /** How many remotes to query at once (default 4). */
  concurrency?: number;
}

export interface UpdateResult {
  refs: RefStatus[];
  /** Files rewritten (empty with check). */
  changedFiles: string[];
  /** Dockerfiles whose Rebuild-Time header was bumped. */
  bumpedHeaders: string[];
  /** Refs whose annotation is missing or malformed: `file:line: message`. */
  skipped: string[];
}

/** Asks a remote which commit a branch or tag points at. */
export async function resolveRemoteRef(src: RefSource, timeoutMs = 60_000): Promise<string> {
  const wanted = src.branch ? [`refs/heads/${src.branch}`] : [`refs/tags/${src.tag}`, `refs/tags/${src.tag}^{}`];
  const r = await run('git', ['ls-remote', '--', src.repo, ...wanted], {
    check: false,
    timeout: timeoutMs,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true' },
  });
  if (r.code !== 0) {
    throw new StratumError(`git ls-remote ${src.repo} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  const found = new Map<string, string>();
  for (const l of r.stdout.split('\n')) {
    const [sha, name] = l.split('\t');
    if (sha && name) found.set(name, sha);
  }
  // A peeled annotated tag names the commit; the tag object itself would not check out as a tree.
  const sha = src.branch ? found.get(wanted[0]!) : (found.get(wanted[1]!) ?? found.get(wanted[0]!));
  if (!sha) throw new StratumError(`${src.repo}: no ${src.branch ? `branch ${src.branch}` : `tag ${src.tag}`}`);
  return sha;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Finds every annotated ref under `root`, asks each remote for its branch head, and (unless
 * `check`) rewrites stale refs and bumps the Rebuild-Time header of each Dockerfile it changed.
 */
export async function updateRefs(root: string, opts: UpdateOptions = {}): Promise<UpdateResult> {
  const files = await catalogFiles(root);
  const texts = new Map<string, string>();
  const refs: (PinnedRef & { source: RefSource })[] = [];
  const skipped: string[] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    texts.set(f, text);
    for (const r of scanRefs(f, text).refs) {
      if (typeof r.source === 'string') skipped.push(`${f}:${r.line}: ${r.name}: ${r.source}`);
      else refs.push(r as PinnedRef & { source: RefSource });
    }
  }
  const keyOf = (s: RefSource): string => `${s.repo}\0${s.branch ?? ''}\0${s.tag ?? ''}`;
  const unique = [...new Map(refs.map((r) => [keyOf(r.source), r.source])).values()];
  const heads = new Map<string, string>();
  await mapLimit(unique, opts.concurrency ?? 4, async (s) => {
    try {
      heads.set(keyOf(s), await resolveRemoteRef(s, opts.timeoutMs));
    } catch (e) {
      const where = refs.filter((r) => keyOf(r.source) === keyOf(s)).map((r) => `${r.file}:${r.line}`);
      throw new StratumError(`${where.join(', ')}: ${(e as Error).message}`, 1, { cause: e });
    }
  });
  const statuses: RefStatus[] = refs.map((r) => {
    const latest = heads.get(keyOf(r.source))!;
    return { ref: r, latest, behind: latest !== r.value };
  });
  const changedFiles: string[] = [];
  const bumpedHeaders: string[] = [];
  if (!opts.check) {
    const stamp = rfc3339Now(opts.now);
    for (const f of files) {
      const stale = statuses.filter((s) => s.behind && s.ref.file === f);
      if (stale.length === 0) continue;
      const lines = texts.get(f)!.split('\n');
      for (const s of stale) lines[s.ref.line - 1] = rewriteValue(lines[s.ref.line - 1]!, s.ref, s.latest);
      if (isDockerfileName(basename(f)) && bumpHeader(lines, stamp)) bumpedHeaders.push(f);
      await writeFileAtomic(f, lines.join('\n'));
      changedFiles.push(f);
    }
  }
  return { refs: statuses, changedFiles, bumpedHeaders, skipped };
}

function rewriteValue(line: string, ref: PinnedRef, latest: string): string {
  if (ref.kind === 'arg') {
    const re = new RegExp(`(\\b${ref.name}=)(["']?)${escapeRe(ref.value)}\\2`);
    if (!re.test(line)) throw new StratumError(`${ref.file}:${ref.line}: cannot find ${ref.name}=${ref.value} to rewrite`);
    return line.replace(re, `$1$2${latest}$2`);
  }
  const needle = `"${ref.value}"`;
  const at = line.lastIndexOf(needle);
  if (at < 0) throw new StratumError(`${ref.file}:${ref.line}: cannot find "${ref.value}" to rewrite`);
  return line.slice(0, at) + `"${latest}"` + line.slice(at + needle.length);
}

/** Sets the `*-Rebuild-Time:` header (in the comment block before the first instruction). */
export function bumpHeader(lines: string[], stamp: string): boolean {
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i]!.trim();
    if (t !== '' && !t.startsWith('#')) break;
    const m = REBUILD_TIME_RE.exec(t);
    if (m) {
      lines[i] = `${m[1]}${stamp}`;
      return true;
    }
  }
  return false;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function isFullSha(s: string): boolean {
  return FULL_SHA_RE.test(s);
}
