import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
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
  // Wait until it accepts connections.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `git://127.0.0.1:${port}`, stop: () => proc.kill(), proc };
}
