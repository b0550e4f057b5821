import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../../src/util/exec.js';
import { lintPath, scanRefs, updateRefs, formatFinding } from '../../../src/catalog/index.js';

import { freePort } from '../../helpers/net.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const offline = join(root, 'examples/offline');


async function prepared(): Promise<{ work: string; port: number; refs: Record<string, string>; stop: () => Promise<void> }> {
  const work = await mkdtemp(join(tmpdir(), 'stratum-offline-'));
  const port = await freePort();
  const r = await run('bash', [join(offline, 'prepare.sh'), '--port', String(port), work], { check: false, timeout: 60_000 });
  const stop = async (): Promise<void> => {
    const pid = Number((await readFile(join(work, 'git-daemon.pid'), 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      try {
        process.kill(pid);
      } catch {
        // already gone
      }
    }
    await rm(work, { recursive: true, force: true });
  };
  if (r.code !== 0) {
    await stop();
    assert.fail(`prepare.sh failed (${r.code}): ${r.stderr}`);
  }
  const refs = Object.fromEntries(
    (await readFile(join(work, 'refs.env'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string]),
  );
  return { work, port, refs, stop };
}

const gitEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

test('prepare.sh makes the pinned commits and serves them over git://', { timeout: 120_000 }, async () => {
  const p = await prepared();
  try {
    // Every pin in the offline Dockerfiles is a commit prepare.sh produced.
    const dockerfiles = (await readdir(offline, { recursive: true })).filter((f) => /Dockerfile/.test(f) && !f.startsWith('fixtures'));
    let pins = 0;
    for (const f of dockerfiles) {
      for (const ref of scanRefs(f, await readFile(join(offline, f), 'utf8')).refs) {
        assert.equal(ref.value, p.refs[ref.name], `${f}:${ref.line}`);
        pins++;
      }
    }
    assert.equal(pins, 8); // fastsum-missing-lib pins fastsum too
    assert.equal(p.refs.GIT_BASE, `git://127.0.0.1:${p.port}`);
    for (const project of ['requirements', 'fastsum', 'hello-svc']) {
      const url = `${p.refs.GIT_BASE}/${project}.git`;
      const ls = await run('git', ['ls-remote', url, 'refs/heads/main'], { env: gitEnv, timeout: 30_000 });
      const want = p.refs[`${project.toUpperCase().replace('-', '_')}_GIT_REF`]!;
      assert.equal(ls.stdout.split('\t')[0], want);
      // What a build does: a shallow checkout of the commit, then unshallow from the daemon.
      const dir = join(p.work, 'checkout', project);
      await run('git', ['init', '-q', dir], { env: gitEnv });
      await run('git', ['-C', dir, 'remote', 'add', 'origin', url], { env: gitEnv });
      await run('git', ['-C', dir, 'fetch', '-q', '--depth=1', 'origin', want], { env: gitEnv, timeout: 30_000 });
      await run('git', ['-C', dir, 'checkout', '-q', '--detach', want], { env: gitEnv });
      await run('git', ['-C', dir, 'fetch', '-q', '--unshallow'], { env: gitEnv, timeout: 30_000 });
      assert.equal((await run('git', ['-C', dir, 'rev-parse', '--is-shallow-repository'], { env: gitEnv })).stdout.trim(), 'false');
      if (project !== 'requirements') {
        const patches = join(offline, project, 'patches', project);
        for (const patch of await readdir(patches)) await run('git', ['-C', dir, 'apply', '--check', join(patches, patch)], { env: gitEnv });
      }
    }
    // A second run reproduces the same hashes (deterministic commits).
    const again = await run('bash', [join(offline, 'prepare.sh'), '--no-daemon', join(p.work, 'again')], { timeout: 60_000 });
    assert.equal(again.stdout.split('\n').filter((l) => l.includes('_GIT_REF=')).join('\n'), Object.entries(p.refs).filter(([k]) => k.endsWith('_GIT_REF')).map(([k, v]) => `${k}=${v}`).join('\n'));
  } finally {
    await p.stop();
  }
});

test('stratum update follows the fixture daemon: up to date, then behind, then rewritten', { timeout: 120_000 }, async () => {
  const p = await prepared();
  try {
    const cat = join(p.work, 'catalog');
    await cp(offline, cat, { recursive: true, filter: (s) => !s.includes('/fixtures') });
    // Point the annotations at this test's daemon port.
    for (const f of (await readdir(cat, { recursive: true })).filter((x) => /Dockerfile/.test(x))) {
      const path = join(cat, f);
      await writeFile(path, (await readFile(path, 'utf8')).replaceAll('git://127.0.0.1:9418/', `git://127.0.0.1:${p.port}/`));
    }
    const fresh = await updateRefs(cat, { check: true });
    assert.equal(fresh.refs.length, 8);
    assert.deepEqual(fresh.refs.filter((r) => r.state !== 'current'), []);

    // Upstream moves: a new commit on hello-svc's main, pushed to the served repository.
    const wt = join(p.work, 'src', 'hello-svc');
    const env = { ...gitEnv, HOME: p.work, GIT_AUTHOR_NAME: 'T', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 'T', GIT_COMMITTER_EMAIL: 't@x' };
    await writeFile(join(wt, 'NEWS'), 'next\n');
    await run('git', ['-C', wt, 'add', 'NEWS'], { env });
    await run('git', ['-C', wt, 'commit', '-q', '-m', 'next'], { env });
    await run('git', ['-C', wt, 'push', '-q', join(p.work, 'git', 'hello-svc.git'), 'HEAD:main'], { env });
    const head = (await run('git', ['-C', wt, 'rev-parse', 'HEAD'], { env })).stdout.trim();

    const check = await updateRefs(cat, { check: true });
    assert.deepEqual(check.refs.filter((r) => r.state === 'behind').map((r) => `${r.ref.name} -> ${r.latest}`), [`HELLO_SVC_GIT_REF -> ${head}`, `HELLO_SVC_GIT_REF -> ${head}`]);
    const res = await updateRefs(cat, { now: new Date('2030-01-02T03:04:05Z') });
    assert.deepEqual(res.changedFiles.map((f) => f.slice(cat.length + 1)).sort(), ['hello-svc/Dockerfile', 'hello-svc/Dockerfile.single']);
    const df = await readFile(join(cat, 'hello-svc', 'Dockerfile'), 'utf8');
    assert.ok(df.includes(`ARG HELLO_SVC_GIT_REF=${head}\n`));
    assert.ok(df.includes('# Stratum-Rebuild-Time: 2030-01-02T03:04:05Z\n'));
    assert.deepEqual((await lintPath(cat)).map(formatFinding), []);
  } finally {
    await p.stop();
  }
});
