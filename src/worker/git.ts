import { createHash } from 'node:crypto';
import { mkdir, rm, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../util/exec.js';
import { StratumError } from '../util/errors.js';

export interface GitSource {
  url: string;
  ref?: string;
  subdir?: string;
}

/** Recognises the git forms ADD accepts: `*.git` URLs, git://, git@host:, and `URL#ref[:subdir]`. */
export function parseGitSource(src: string): GitSource | undefined {
  const [base = '', fragment] = splitFragment(src);
  const gitProtocol = /^(git|ssh):\/\//.test(base) || /^git@[^:]+:/.test(base);
  const repoUrl = /^(https?|file):\/\//.test(base) && (base.endsWith('.git') || (base.startsWith('file://') && fragment !== undefined));
  if (!gitProtocol && !repoUrl) return undefined;
  const [ref, subdir] = (fragment ?? '').split(':', 2);
  return { url: base, ref: ref || undefined, subdir: subdir || undefined };
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
  const r = await run('git', ['-C', mirror, 'rev-parse', '--verify', '-q', `${ref}^{commit}`], { check: false, env: gitEnv });
  if (r.code !== 0) throw new StratumError(`git ref ${ref} not found in ${src.url}`);
  return { mirror, commit: r.stdout.trim() };
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
    const isTag = await run('git', ['-C', mirror, 'show-ref', '--verify', '-q', `refs/tags/${src.ref}`], { check: false, env: gitEnv });
    if (isTag.code === 0) await git(['-C', dest, 'tag', src.ref, commit]);
    else await git(['-C', dest, 'checkout', '-q', '-B', src.ref]);
  }
  if (!opts.keepGitDir) await rm(path.join(dest, '.git'), { recursive: true, force: true });
  return { dir: src.subdir ? path.join(dest, src.subdir) : dest, commit };
}
