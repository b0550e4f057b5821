import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { freePort, portFree, waitForPort } from './net.js';
import { run } from '../../src/util/exec.js';

const FIXED = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Stratum Tests',
  GIT_AUTHOR_EMAIL: 'tests@stratum.invalid',
  GIT_COMMITTER_NAME: 'Stratum Tests',
  GIT_COMMITTER_EMAIL: 'tests@stratum.invalid',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
};

export function git(args: string[], cwd?: string) {
  return run('git', args, { cwd, env: { ...process.env, ...FIXED } });
}

/** A bare repository at `dir` holding one commit of the files in `src` (tagged `tag`, if given); returns the commit. */
export async function makeRepo(src: string, dir: string, tag?: string): Promise<string> {
  const work = `${dir}.work`;
  await mkdir(work, { recursive: true });
  await cp(src, work, { recursive: true });
  await git(['init', '-q', '-b', 'main', work]);
  await git(['-C', work, 'add', '-A']);
  await git(['-C', work, '-c', 'commit.gpgSign=false', 'commit', '-q', '-m', 'import']);
  if (tag) await git(['-C', work, '-c', 'tag.gpgSign=false', 'tag', '-a', '-m', tag, tag]);
  await git(['clone', '-q', '--bare', work, dir]);
  return (await git(['-C', work, 'rev-parse', 'HEAD'])).stdout.trim();
}



/**
 * Serves every repository under `base` over git:// on 127.0.0.1, on `preferredPort` when it is free (the URL is
 * part of a git source's cache key, so a fixed port lets a rerun hit the cache), else on any free port.
 */
export async function gitDaemon(base: string, preferredPort?: number): Promise<{ url: string; stop: () => void; proc: ChildProcess }> {
  const port = preferredPort !== undefined && (await portFree(preferredPort)) ? preferredPort : await freePort();
  const proc = spawn('git', ['daemon', '--export-all', '--reuseaddr', `--base-path=${path.resolve(base)}`, '--listen=127.0.0.1', `--port=${port}`, path.resolve(base)], {
    stdio: 'ignore',
  });
  await waitForPort(port, { what: 'git daemon', child: proc, timeoutMs: 5_000, intervalMs: 50 });
  return { url: `git://127.0.0.1:${port}`, stop: () => proc.kill(), proc };
}
