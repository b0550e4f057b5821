/**
 * What a git remote says about a pinned ref: the head of its branch (or its tag's commit), and,
 * when the pin differs, whether the pinned commit is an ancestor of that head (behind), exists in
 * the repository but elsewhere (not on the branch), or does not exist at all.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../util/exec.js';
import { StratumError } from '../util/errors.js';
import { FULL_SHA_RE, type RefSource } from './annotations.js';

const GIT_ENV = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true' };

function lastLines(s: string): string {
  return s.trim().split('\n').slice(-3).join(' ');
}

/** Asks a remote which commit a branch or tag points at. */
export async function resolveRemoteRef(src: RefSource, timeoutMs = 60_000): Promise<string> {
  const wanted = src.branch ? [`refs/heads/${src.branch}`] : [`refs/tags/${src.tag}`, `refs/tags/${src.tag}^{}`];
  const r = await run('git', ['ls-remote', '--', src.repo, ...wanted], { check: false, timeout: timeoutMs, env: GIT_ENV });
  if (r.code !== 0) throw new StratumError(`git ls-remote ${src.repo} failed (exit ${r.code}): ${lastLines(r.stderr)}`);
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

export type Placement =
  | { kind: 'behind'; commits: number }
  | { kind: 'not-on-branch'; branches: string[] }
  | { kind: 'unknown-commit' };

/**
 * Fetches a repository's history (commits only where the server can filter, no file contents)
 * once, to place several pinned commits relative to the heads they should follow.
 */
export class HistoryProbe {
  private constructor(
    private readonly parent: string,
    private readonly dir: string,
  ) {}

  static async open(repo: string, timeoutMs: number): Promise<HistoryProbe> {
    const parent = await mkdtemp(join(tmpdir(), 'stratum-update-'));
    const dir = join(parent, 'repo.git');
    // A bare clone brings every branch and tag; git drops the filter where the server cannot apply it.
    const r = await run('git', ['clone', '-q', '--bare', '--filter=tree:0', '--', repo, dir], { check: false, timeout: timeoutMs, env: GIT_ENV });
    if (r.code !== 0) {
      await rm(parent, { recursive: true, force: true });
      throw new StratumError(`git clone ${repo} failed (exit ${r.code}): ${lastLines(r.stderr)}`);
    }
    return new HistoryProbe(parent, dir);
  }

  private git(args: string[]) {
    return run('git', ['-C', this.dir, ...args], { check: false, env: GIT_ENV });
  }

  /** Where `pinned` stands relative to `head` (which the caller knows differs from it). */
  async place(pinned: string, head: string): Promise<Placement> {
    if (!FULL_SHA_RE.test(pinned) || (await this.git(['cat-file', '-e', `${pinned}^{commit}`])).code !== 0) return { kind: 'unknown-commit' };
    if ((await this.git(['merge-base', '--is-ancestor', pinned, head])).code === 0) {
      const n = await this.git(['rev-list', '--count', `${pinned}..${head}`]);
      return { kind: 'behind', commits: Number(n.stdout.trim()) };
    }
    const b = await this.git(['for-each-ref', '--contains', pinned, '--format=%(refname:short)', 'refs/heads/']);
    return { kind: 'not-on-branch', branches: b.stdout.split('\n').filter((x) => x !== '') };
  }

  async close(): Promise<void> {
    await rm(this.parent, { recursive: true, force: true });
  }
}
