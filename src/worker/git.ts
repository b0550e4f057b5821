import { createHash } from 'node:crypto';
import { mkdir, rm, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../util/exec.js';
import { InputError, StratumError } from '../util/errors.js';

export interface GitSource {
  url: string;
  ref?: string;
  subdir?: string;
  /** A hex prefix the commit (or an annotated tag object) must have: `--checksum` or `?checksum=`/`?commit=`. */
  checksum?: string;
  /** `?submodules=false` skips them; BuildKit checks submodules out by default. */
  submodules?: boolean;
  /** `?keep-git-dir=`; the ADD flag must agree with it. */
  keepGitDir?: boolean;
}

/**
 * Recognises the git forms ADD accepts: `*.git` URLs, git://, git@host:, `URL#ref[:subdir]`, and BuildKit's query
 * form `URL?ref=|tag=|branch=|subdir=|checksum=|commit=|submodules=|keep-git-dir=` (with or without a fragment).
 */
export function parseGitSource(src: string): GitSource | undefined {
  const [beforeFragment = '', fragment] = splitFragment(src);
  const q = beforeFragment.indexOf('?');
  const base = q < 0 ? beforeFragment : beforeFragment.slice(0, q);
  const query = q < 0 ? undefined : beforeFragment.slice(q + 1);
  const gitProtocol = /^(git|ssh):\/\//.test(base) || /^git@[^:]+:/.test(base);
  const marked = fragment !== undefined || query !== undefined;
  const repoUrl = /^(https?|file):\/\//.test(base) && (base.endsWith('.git') || (base.startsWith('file://') && marked));
  if (!gitProtocol && !repoUrl) return undefined;
  const [ref, subdir] = (fragment ?? '').split(':', 2);
  const out: GitSource = { url: base, ref: ref || undefined, subdir: subdir || undefined };
  if (query !== undefined) applyQuery(out, new URLSearchParams(query), src);
  return out;
}

const FLAG_KEYS = new Set(['submodules', 'keep-git-dir']);

/** BuildKit's git URL query: each key once, refs named once (fragment and query must agree). */
function applyQuery(out: GitSource, params: URLSearchParams, src: string): void {
  const bad = (msg: string): never => {
    throw new InputError(`git source ${src}: ${msg}`);
  };
  const setRef = (ref: string) => {
    if (out.ref !== undefined && out.ref !== ref) bad(`ref conflicts: "${out.ref}" vs "${ref}"`);
    out.ref = ref;
  };
  const keys = [...params.keys()];
  let tag: string | undefined;
  let branch: string | undefined;
  for (const k of new Set(keys)) {
    if (keys.filter((x) => x === k).length > 1) bad(`query "${k}" has multiple values`);
    const v = params.get(k) ?? '';
    if (v === '' && !FLAG_KEYS.has(k)) bad(`query "${k}" has no value`);
    const flag = () => (v === '' ? true : /^(1|t|true)$/i.test(v) ? true : /^(0|f|false)$/i.test(v) ? false : bad(`invalid ${k} value: "${v}"`));
    switch (k) {
      case 'ref':
        setRef(v);
        break;
      case 'tag':
        tag = v;
        break;
      case 'branch':
        branch = v;
        break;
      case 'subdir':
        if (out.subdir !== undefined && out.subdir !== v) bad(`subdir conflicts: "${out.subdir}" vs "${v}"`);
        out.subdir = v;
        break;
      case 'checksum':
      case 'commit':
        out.checksum = v;
        break;
      case 'submodules':
        out.submodules = flag();
        break;
      case 'keep-git-dir':
        out.keepGitDir = flag();
        break;
      default:
        bad(`unexpected query "${k}" (expected ref, tag, branch, subdir, checksum, commit, submodules or keep-git-dir)`);
    }
  }
  if (tag !== undefined && branch !== undefined) bad('branch conflicts with tag');
  if (tag !== undefined) setRef(tag.startsWith('refs/tags/') ? tag : `refs/tags/${tag}`);
  if (branch !== undefined) setRef(branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`);
}

function splitFragment(s: string): [string, string | undefined] {
  const i = s.indexOf('#');
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' };

function git(args: string[], cwd?: string) {
  return run('git', args, { cwd, env: gitEnv });
}

/**
 * Keeps a bare mirror per remote under `cacheDir`, so a pinned commit already seen needs no
 * network and a rebuild is cheap.
 */
async function mirrorFor(cacheDir: string, url: string, ref: string | undefined): Promise<string> {
  const mirror = path.join(cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 24) + '.git');
  const fresh = !(await stat(mirror).catch(() => undefined));
  if (fresh) {
    const tmp = `${mirror}.${process.pid}.${Date.now()}.tmp`;
    await mkdir(cacheDir, { recursive: true });
    await git(['init', '-q', '--bare', tmp]);
    await git(['-C', tmp, 'config', 'uploadpack.allowAnySHA1InWant', 'true']);
    await rename(tmp, mirror).catch(async () => rm(tmp, { recursive: true, force: true }));
  }
  if (ref && /^[0-9a-f]{40}$/.test(ref) && !fresh) {
    const has = await run('git', ['-C', mirror, 'cat-file', '-e', `${ref}^{commit}`], { check: false, env: gitEnv });
    if (has.code === 0) return mirror;
  }
  try {
    await git(['-C', mirror, 'fetch', '-q', '--prune', '--tags', '--force', url, '+refs/heads/*:refs/heads/*']);
  } catch (e) {
    throw new StratumError(`cannot fetch git repository ${url}: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
  }
  if (!ref) {
    // No ref means the remote's default branch, which the mirror's own HEAD (git init's default) need not name.
    const head = await run('git', ['ls-remote', '--symref', url, 'HEAD'], { check: false, env: gitEnv });
    const branch = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(head.stdout)?.[1];
    if (branch) await git(['-C', mirror, 'symbolic-ref', 'HEAD', branch]);
  }
  return mirror;
}

export interface Checkout {
  dir: string;
  commit: string;
}

/** Resolves a ref to its commit (for cache keys), fetching when needed. */
export async function resolveGitCommit(cacheDir: string, src: GitSource): Promise<{ mirror: string; commit: string }> {
  const mirror = await mirrorFor(cacheDir, src.url, src.ref);
  const ref = src.ref ?? 'HEAD';
  // Only what the remote advertises names a commit, as in BuildKit: a full commit id, a ref, or a branch or tag
  // name; not a short id or `main~1`, which rev-parse alone would take.
  const candidates = ref === 'HEAD' || ref.startsWith('refs/') || /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(ref) ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`];
  let commit: string | undefined;
  for (const c of candidates) {
    const r = await run('git', ['-C', mirror, 'rev-parse', '--verify', '-q', `${c}^{commit}`], { check: false, env: gitEnv });
    if (r.code === 0) {
      commit = r.stdout.trim();
      break;
    }
  }
  if (commit === undefined) throw new StratumError(`git ref ${ref} not found in ${src.url}: the repository does not contain it`);
  if (src.checksum !== undefined) {
    const want = src.checksum.toLowerCase();
    if (!/^[0-9a-f]+$/.test(want)) throw new InputError(`invalid checksum ${src.checksum} for git source ${src.url}: expected a hex commit hash`);
    // An annotated tag may be pinned by its own object id, as BuildKit allows.
    const obj = await run('git', ['-C', mirror, 'rev-parse', '--verify', '-q', candidates.length > 1 ? `refs/tags/${ref}` : ref], { check: false, env: gitEnv });
    const tagObject = obj.code === 0 && obj.stdout.trim() !== commit ? obj.stdout.trim() : undefined;
    if (!commit.startsWith(want) && !tagObject?.startsWith(want)) {
      throw new SourceChecksumError(`git source ${src.url}${src.ref ? `#${src.ref}` : ''}: expected checksum to match ${src.checksum}, got ${commit}${tagObject ? ` or ${tagObject}` : ''}`);
    }
  }
  return { mirror, commit };
}

/** The source is not what the Dockerfile pinned: the work failed, not the input. */
class SourceChecksumError extends StratumError {}

/** The name a ref is checked out under: `refs/tags/v1` and `refs/heads/main` as git shows them. */
function shortRef(ref: string): { name: string; tag?: boolean } {
  if (ref.startsWith('refs/tags/')) return { name: ref.slice(10), tag: true };
  if (ref.startsWith('refs/heads/')) return { name: ref.slice(11), tag: false };
  return { name: ref };
}

/**
 * Checks a commit out into `dest`. With keepGitDir the result is a shallow clone whose origin is
 * the real URL, as BuildKit gives, so `git fetch --unshallow` works inside the build.
 */
export async function checkoutGit(
  cacheDir: string,
  src: GitSource,
  dest: string,
  opts: { keepGitDir: boolean },
): Promise<Checkout> {
  const { mirror, commit } = await resolveGitCommit(cacheDir, src);
  await mkdir(dest, { recursive: true });
  await git(['init', '-q', dest]);
  await git(['-C', dest, 'remote', 'add', 'origin', src.url]);
  await git(['-C', dest, 'fetch', '-q', '--depth=1', `file://${mirror}`, commit]);
  await git(['-C', dest, 'checkout', '-q', '--detach', commit]);
  if (src.ref && !/^[0-9a-f]{40}$/.test(src.ref)) {
    const { name, tag } = shortRef(src.ref);
    const isTag = tag ?? (await run('git', ['-C', mirror, 'show-ref', '--verify', '-q', `refs/tags/${name}`], { check: false, env: gitEnv })).code === 0;
    if (isTag) await git(['-C', dest, 'tag', name, commit]);
    else await git(['-C', dest, 'checkout', '-q', '-B', name]);
  }
  if (src.submodules !== false && (await stat(path.join(dest, '.gitmodules')).catch(() => undefined))) {
    try {
      await git(['-C', dest, 'submodule', 'update', '--init', '--recursive', '--depth=1']);
    } catch (e) {
      throw new StratumError(`cannot check out the submodules of ${src.url}: ${(e as Error).message.split('\n').slice(-2).join(' ')}`);
    }
  }
  if (!opts.keepGitDir) {
    // Each submodule keeps a `.git` file pointing into the top-level .git: both go.
    if (src.submodules !== false) {
      const subs = await run('git', ['-C', dest, 'submodule', 'status', '--recursive'], { check: false, env: gitEnv });
      for (const line of subs.stdout.split('\n')) {
        const sub = /^.[0-9a-f]+ (.+?)(?: \(.*\))?$/.exec(line)?.[1];
        if (sub) await rm(path.join(dest, sub, '.git'), { recursive: true, force: true });
      }
    }
    await rm(path.join(dest, '.git'), { recursive: true, force: true });
  }
  return { dir: src.subdir ? path.join(dest, src.subdir) : dest, commit };
}
