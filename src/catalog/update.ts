import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { StratumError } from '../util/errors.js';
import { FULL_SHA_RE, type RefSource } from './annotations.js';
import { mapLimit } from '../util/concurrency.js';
import { catalogFiles, isDockerfileName, REBUILD_TIME_RE, rfc3339Now, writeFileAtomic } from './files.js';
import { scanRefs, type PinnedRef } from './refs.js';
import { HistoryProbe, resolveRemoteRef } from './remote.js';

export { resolveRemoteRef } from './remote.js';

/**
 * - current: the pin is the branch head (or the tag's commit);
 * - behind: the pin is an ancestor of the head, `commits` behind it;
 * - not-on-branch: the repository has the commit, but not in the branch's history (`branches`
 *   lists the branches that do have it);
 * - unknown-commit: the repository has no such commit (a typo, a placeholder, a rewritten branch);
 * - unchecked: the remote could not be asked (`error` says why).
 */
export type RefState = 'current' | 'behind' | 'not-on-branch' | 'unknown-commit' | 'unchecked';

export interface RefStatus {
  ref: PinnedRef & { source: RefSource };
  state: RefState;
  /** The head the remote reports for the branch (or the commit the tag points at), when known. */
  latest?: string;
  commits?: number;
  branches?: string[];
  error?: string;
}

export interface UpdateOptions {
  /** Only report; write nothing. */
  check?: boolean;
  /** Clock for the Rebuild-Time header (tests pin it). */
  now?: Date;
  /** Per-remote timeout in ms (default 60 s; fetching history for a differing pin gets 5 times that). */
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

/** True for the states `update` rewrites (and `update --check` fails on). */
export function needsUpdate(s: RefStatus): boolean {
  return s.state === 'behind' || s.state === 'not-on-branch' || s.state === 'unknown-commit';
}


type Ref = PinnedRef & { source: RefSource };

/** Asks every remote about every ref; a remote that fails marks its refs unchecked, the rest go on. */
async function statusOf(refs: Ref[], opts: UpdateOptions): Promise<RefStatus[]> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const keyOf = (s: RefSource): string => `${s.repo}\0${s.branch ?? ''}\0${s.tag ?? ''}`;
  const sources = [...new Map(refs.map((r) => [keyOf(r.source), r.source])).values()];
  const heads = new Map<string, string | Error>();
  await mapLimit(sources, opts.concurrency ?? 4, async (s) => {
    heads.set(keyOf(s), await resolveRemoteRef(s, timeoutMs).catch((e: Error) => e));
  });
  const statuses: RefStatus[] = refs.map((ref) => {
    const head = heads.get(keyOf(ref.source))!;
    if (head instanceof Error) return { ref, state: 'unchecked', error: head.message };
    return { ref, state: head === ref.value ? 'current' : 'behind', latest: head };
  });
  // Pins that differ from their head: place them in the repository's history, one clone per repo.
  const differing = statuses.filter((s) => s.state === 'behind');
  const repos = [...new Set(differing.map((s) => s.ref.source.repo))];
  await mapLimit(repos, opts.concurrency ?? 4, async (repo) => {
    const mine = differing.filter((s) => s.ref.source.repo === repo);
    let probe: HistoryProbe;
    try {
      probe = await HistoryProbe.open(repo, timeoutMs * 5);
    } catch (e) {
      for (const s of mine) Object.assign(s, { state: 'unchecked', error: (e as Error).message });
      return;
    }
    try {
      for (const s of mine) {
        const p = await probe.place(s.ref.value, s.latest!);
        if (p.kind === 'behind') Object.assign(s, { state: 'behind', commits: p.commits });
        else if (p.kind === 'not-on-branch') Object.assign(s, { state: 'not-on-branch', branches: p.branches });
        else s.state = 'unknown-commit';
      }
    } finally {
      await probe.close();
    }
  });
  return statuses;
}

/**
 * Finds every annotated ref under `root`, asks each remote where it stands, and (unless `check`)
 * rewrites each ref that is behind, off its branch or unknown to the head, bumping the
 * Rebuild-Time header of each Dockerfile it changed.
 */
export async function updateRefs(root: string, opts: UpdateOptions = {}): Promise<UpdateResult> {
  const files = await catalogFiles(root);
  const texts = new Map<string, string>();
  const refs: Ref[] = [];
  const skipped: string[] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    texts.set(f, text);
    for (const r of scanRefs(f, text).refs) {
      if (typeof r.source === 'string') skipped.push(`${f}:${r.line}: ${r.name}: ${r.source}`);
      else refs.push(r as Ref);
    }
  }
  const statuses = await statusOf(refs, opts);
  const changedFiles: string[] = [];
  const bumpedHeaders: string[] = [];
  if (!opts.check) {
    const stamp = rfc3339Now(opts.now);
    for (const f of files) {
      const stale = statuses.filter((s) => needsUpdate(s) && s.ref.file === f);
      if (stale.length === 0) continue;
      const lines = texts.get(f)!.split('\n');
      for (const s of stale) lines[s.ref.line - 1] = rewriteValue(lines[s.ref.line - 1]!, s.ref, s.latest!);
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
