import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';

/** Bad input gets a clear error, the right exit code, and leaves nothing half-written. */
describe('build errors', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-errors-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  async function context(name: string, dockerfile: string, files: Record<string, string> = {}): Promise<string> {
    const dir = path.join(tmp, name);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    for (const [f, c] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await writeFile(path.join(dir, f), c);
    }
    return dir;
  }

  async function tags(): Promise<string[]> {
    const r = await stratum(['images', '--json'], { root });
    return (JSON.parse(r.stdout) as { name: string }[]).map((i) => i.name);
  }

  it('names file, line and column of a Dockerfile error (exit 2)', async () => {
    const dir = await context('syntax', 'FROM localhost/debian:bookworm\nRUN true\nFROOM x\n');
    const r = await stratum(['build', dir, '-t', 'localhost/bad:1'], { root });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Dockerfile:3:1: .*FROOM/i);
    const heredoc = await context('heredoc', 'FROM scratch\nRUN <<EOF\necho never closed\n');
    const h = await stratum(['build', heredoc], { root });
    assert.equal(h.code, 2);
    assert.match(h.stderr, /Dockerfile:2:\d+: .*heredoc/i);
  });

  it('shows the last output and exit code of a failed RUN, and writes no tag or output', async () => {
    const dir = await context('runfail', 'FROM localhost/debian:bookworm\nRUN echo first-line && echo the-last-words >&2 && exit 7\n');
    const out = path.join(tmp, 'runfail-out');
    const r = await stratum(['build', dir, '-t', 'localhost/runfail:1', '-o', `type=oci,dest=${out},tar=false`, '--progress', 'quiet'], { root });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Dockerfile:2: RUN/);
    assert.match(r.stderr, /exited with code 7/);
    assert.match(r.stderr, /the-last-words/);
    assert.ok(!(await tags()).includes('localhost/runfail:1'));
    assert.equal(await stat(out).catch(() => undefined), undefined);
    // No staging dirs or mounts are left in the store's tmp.
    const leftovers = (await readdir(path.join(root, 'tmp'))).filter((n) => n.startsWith('snap-') || n.startsWith('ro-'));
    assert.deepEqual(leftovers, []);
    const mounts = await run('sh', ['-c', `grep -c ${root} /proc/mounts || true`]);
    assert.equal(mounts.stdout.trim(), '0');
  });

  it('refuses sources and symlinks that lead out of the context', async () => {
    const dir = await context('escape', 'FROM localhost/debian:bookworm\nCOPY link /x\n', { 'ok.txt': 'ok' });
    await symlink('/etc/shadow', path.join(dir, 'link'));
    const r = await stratum(['build', dir], { root });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /outside the build context/);
    const rel = await context('escape-rel', 'FROM localhost/debian:bookworm\nCOPY sub/up /x\n');
    await mkdir(path.join(rel, 'sub'));
    await symlink('../../../../../../etc', path.join(rel, 'sub/up'));
    const r2 = await stratum(['build', rel], { root });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /outside the build context/);
    const dots = await context('escape-dots', 'FROM localhost/debian:bookworm\nCOPY ../escape/ok.txt /x\n');
    const r3 = await stratum(['build', dots], { root });
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /outside the build context/);
  });

  it('refuses a hostile archive in ADD without writing outside', async () => {
    const dir = await context('hostile', 'FROM localhost/debian:bookworm\nADD evil.tar /opt/\n');
    await run('python3', [
      '-c',
      `import tarfile, io
t = tarfile.open(${JSON.stringify(path.join(dir, 'evil.tar'))}, 'w')
data = b'pwned'
i = tarfile.TarInfo('../../../../tmp/stratum-pwned'); i.size = len(data)
t.addfile(i, io.BytesIO(data)); t.close()`,
    ]);
    const r = await stratum(['build', dir], { root });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\.\./);
    assert.equal(await stat('/tmp/stratum-pwned').catch(() => undefined), undefined);
  });

  it('says what is missing: an unknown base image, no runc, no root', async () => {
    const dir = await context('nobase', 'FROM localhost/does-not-exist:1\nRUN true\n');
    const r = await stratum(['build', dir], { root });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /does-not-exist.*not in the local store/);

    const simple = await context('simple', 'FROM localhost/debian:bookworm\nRUN true\n');
    const emptyBin = path.join(tmp, 'empty-bin');
    await mkdir(emptyBin, { recursive: true });
    const noRunc = await stratum(['build', simple, '--no-cache'], { root, env: { PATH: emptyBin } });
    assert.equal(noRunc.code, 3);
    assert.equal(noRunc.stderr.trim().split('\n').length, 1);
    assert.match(noRunc.stderr, /runc is not installed: apt-get install runc/);

    await chmod(tmp, 0o755);
    const user = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', 'src/cli/main.ts', '--root', path.join(tmp, 'nobody-store'), 'build', simple], {
      check: false,
      env: { ...process.env, HOME: '/tmp' },
    });
    assert.equal(user.code, 3, user.stderr);
    assert.match(user.stderr, /needs root/);
  });
});

describe('an interrupted build', { timeout: 5 * 60_000 }, () => {
  it('stops its container, unmounts, and leaves no tag or output (exit 130)', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-interrupt-'));
    try {
      const root = path.join(tmp, 'store');
      await ensureDebianBase(root);
      const dir = path.join(tmp, 'ctx');
      await mkdir(dir);
      await writeFile(path.join(dir, 'Dockerfile'), 'FROM localhost/debian:bookworm\nRUN echo sleeping && sleep 60\n');
      const out = path.join(tmp, 'out');
      const { spawn } = await import('node:child_process');
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--root', root, 'build', dir, '-t', 'localhost/int:1', '--progress', 'plain', '-o', `type=oci,dest=${out},tar=false`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      const started = new Promise<void>((resolve) =>
        child.stderr.on('data', (c: Buffer) => {
          stderr += c.toString();
          if (stderr.includes('#stage-0 sleeping')) resolve();
        }),
      );
      await started;
      const t0 = Date.now();
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 130, stderr);
      assert.ok(Date.now() - t0 < 20_000, 'stopped promptly, not after the sleep');
      assert.equal(await stat(out).catch(() => undefined), undefined);
      const images = await stratum(['images', '--json'], { root });
      assert.ok(!images.stdout.includes('localhost/int:1'));
      const mounts = await run('sh', ['-c', `grep -c ${root} /proc/mounts || true`]);
      assert.equal(mounts.stdout.trim(), '0');
      // Only this store's containers: other stratum processes on the machine may be running their own.
      const runc = await run('runc', ['list', '--format', 'json']);
      const mine = ((JSON.parse(runc.stdout || '[]') ?? []) as { id: string; bundle: string }[]).filter((c) => c.bundle.startsWith(root));
      assert.deepEqual(mine, []);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
