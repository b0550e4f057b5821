import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDebianBase } from '../../helpers/base.js';
import { REPO_ROOT, stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';

const BASE = 'localhost/debian:bookworm';
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p.startsWith(dir + '/'));
}

/** What the store holds is reachable by its owner only, and what a killed build leaves is found and cleared. */
describe('the store against local users and killed builds', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-access-'));
    // Traversable by everyone, as /var/lib is: only the store's own mode may stand in the way.
    await fsp.chmod(tmp, 0o755);
    root = path.join(tmp, 'store');
    await ensureDebianBase(root, BASE);
  });
  after(async () => {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('an unprivileged user reaches no snapshot and cannot run its set-uid binaries', async () => {
    const ctx = path.join(tmp, 'ctx');
    await fsp.mkdir(ctx);
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${BASE}\nRUN true\n`);
    assert.equal((await stratum(['build', ctx, '--progress', 'quiet'], { root })).code, 0);
    assert.equal((await fsp.stat(root)).mode & 0o777, 0o700);

    const snapshots = path.join(root, 'snapshots');
    let suid = '';
    for (const id of await fsp.readdir(snapshots)) {
      const p = path.join(snapshots, id, 'fs', 'usr', 'bin', 'passwd');
      const st = await fsp.stat(p).catch(() => undefined);
      if (st && st.mode & 0o4000) suid = p;
    }
    assert.ok(suid, 'the Debian base has set-uid passwd in a snapshot (else this test proves little)');
    const ls = await run('setpriv', [...NOBODY, 'ls', snapshots], { check: false });
    assert.notEqual(ls.code, 0, `ls as nobody: ${JSON.stringify(ls)}`);
    assert.match(ls.stderr, /Permission denied/);
    // Through a shell: setpriv resolves the program it starts itself, before it has dropped root.
    const exec = await run('setpriv', [...NOBODY, '/bin/sh', '-c', `${suid} --help`], { check: false });
    assert.notEqual(exec.code, 0, `exec as nobody: ${JSON.stringify(exec)}`);
    assert.match(exec.stderr, /Permission denied/);
  });

  it('a store made world-readable is closed again at the next start; one owned by another user is refused (exit 3)', async () => {
    await fsp.chmod(root, 0o755);
    assert.equal((await stratum(['images'], { root })).code, 0);
    assert.equal((await fsp.stat(root)).mode & 0o777, 0o700);

    const other = path.join(tmp, 'others');
    await fsp.mkdir(other, { mode: 0o700 });
    await fsp.chown(other, 65534, 65534);
    const r = await stratum(['images'], { root: other });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /belongs to uid 65534, not to this user/);
  });

  it('store check clears and reports what a SIGKILLed build left: its mount, its container, its staging', async () => {
    const ctx = path.join(tmp, 'killed');
    await fsp.mkdir(ctx);
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${BASE}\nRUN echo sleeping-now && head -c 50000000 /dev/zero > /big && sleep 60\n`);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), '--root', root, 'build', '--progress', 'plain', ctx], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the build never reached the sleep:\n${log}`)), 60_000);
      child.stderr.on('data', (c: Buffer) => {
        log += c.toString();
        if (/sleeping-now/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const tmpDir = path.join(root, 'tmp');
    assert.ok((await mountsUnder(tmpDir)).length > 0, 'the killed build left its overlay mounted');

    const containers = (await fsp.readdir(path.join(tmpDir, 'bundles'))).filter((n) => n.startsWith('stratum-'));
    assert.equal(containers.length, 1);
    const check = await stratum(['store', 'check'], { root });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /cleared what killed builds left: [1-9]\d* mount\(s\), 1 container\(s\), [1-9]\d* tmp entr(y|ies) \((4\d|5\d) MiB\)/);
    assert.deepEqual(await mountsUnder(tmpDir), []);
    assert.deepEqual((await fsp.readdir(tmpDir)).filter((n) => n !== 'bundles'), []);
    const state = await run('runc', ['state', containers[0]!], { check: false });
    assert.notEqual(state.code, 0, `container ${containers[0]} is gone`);
  });
});
