import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { REPO_ROOT, stratum } from '../../helpers/cli.js';
import { gitDaemon, makeRepo } from '../../helpers/git.js';
import { run } from '../../../src/util/exec.js';

const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/seed-shape');

/**
 * The seed's pattern end to end: a venv builder with compilers, a runtime whose ONBUILD makes the
 * service user, and a service that compiles a C extension from a pinned git ref with a patch and
 * copies only the venv into the runtime.
 */
describe('seed-shaped multi-stage build', { timeout: 20 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  let daemon: Awaited<ReturnType<typeof gitDaemon>>;
  let rootfs: string;
  let oci: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-seed-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root);
    const commit = await makeRepo(path.join(FIXTURES, 'project'), path.join(tmp, 'git', 'cprobe.git'));
    daemon = await gitDaemon(path.join(tmp, 'git'));
    for (const [dir, tag] of [
      ['venv-builder', 'localhost/seed/venv-builder:latest'],
      ['runtime', 'localhost/seed/runtime:latest'],
    ] as const) {
      const r = await stratum(['build', path.join(FIXTURES, dir), '-t', tag, '--progress', 'plain'], { root });
      assert.equal(r.code, 0, `${dir} build failed:\n${r.stderr.slice(-3000)}`);
    }
    oci = path.join(tmp, 'service-oci');
    const r = await stratum(
      [
        'build',
        path.join(FIXTURES, 'service'),
        '-t',
        'localhost/seed/cprobe:latest',
        '--build-arg',
        'PROJECT=cprobe',
        '--build-arg',
        `GIT_BASE=${daemon.url}`,
        '--build-arg',
        `CPROBE_GIT_REF=${commit}`,
        '--progress',
        'plain',
        '--output',
        `type=oci,dest=${oci},tar=false`,
      ],
      { root },
    );
    assert.equal(r.code, 0, `service build failed:\n${r.stderr.slice(-3000)}`);
    // The ONBUILD trigger of the runtime ran in the service build, with its PROJECT arg.
    assert.match(r.stderr, /groupadd -g 42424/);
    await run('umoci', ['unpack', '--image', `${oci}:latest`, path.join(tmp, 'unpacked')]);
    rootfs = path.join(tmp, 'unpacked', 'rootfs');
  });

  after(async () => {
    daemon?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('has the venv with the compiled extension, patched, importable', async () => {
    const so = await run('sh', ['-c', `ls ${rootfs}/var/lib/openstack/lib/python3*/site-packages/cprobe/_native*.so`]);
    assert.match(so.stdout, /_native\.cpython-\d+-x86_64-linux-gnu\.so/);
    const out = await run('chroot', [rootfs, '/var/lib/openstack/bin/cprobe']);
    assert.equal(out.stdout.trim(), 'patched 42');
    const imp = await run('chroot', [rootfs, '/var/lib/openstack/bin/python3', '-c', 'import cprobe._native as n; print(n.mul(3, 5))']);
    assert.equal(imp.stdout.trim(), '15');
  });

  it('has the service user and its directories with the right owners', async () => {
    const passwd = await readFile(path.join(rootfs, 'etc/passwd'), 'utf8');
    assert.match(passwd, /^cprobe:x:42424:42424:cprobe User:\/var\/lib\/cprobe:\/usr\/sbin\/nologin$/m);
    const group = await readFile(path.join(rootfs, 'etc/group'), 'utf8');
    assert.match(group, /^cprobe:x:42424:$/m);
    for (const d of ['etc/cprobe', 'var/log/cprobe', 'var/lib/cprobe', 'var/cache/cprobe']) {
      const st = await stat(path.join(rootfs, d));
      assert.ok(st.isDirectory(), d);
      assert.equal(st.uid, 42424, `${d} owner`);
      assert.equal(st.gid, 42424, `${d} group`);
    }
  });

  it('carries no compiler, -dev package or git', async () => {
    const pkgs = (await run('dpkg-query', [`--admindir=${rootfs}/var/lib/dpkg`, '-W', '-f', '${Package}\\n'])).stdout.split('\n').filter(Boolean);
    assert.ok(pkgs.includes('python3'), 'python3 is installed in the runtime');
    const forbidden = pkgs.filter((p) => /^(gcc(-\d+)?|g\+\+(-\d+)?|cpp(-\d+)?|build-essential|make|git)$/.test(p) || p.endsWith('-dev'));
    assert.deepEqual(forbidden, []);
    for (const bin of ['usr/bin/gcc', 'usr/bin/cc', 'usr/bin/git', 'usr/bin/make']) {
      await assert.rejects(stat(path.join(rootfs, bin)), `${bin} must be absent`);
    }
  });

  it('is accepted by skopeo', async () => {
    const r = await run('skopeo', ['inspect', `oci:${oci}:latest`]);
    const info = JSON.parse(r.stdout) as { Layers: string[]; Os: string };
    assert.equal(info.Os, 'linux');
    assert.equal(info.Layers.length, 4, 'debian, python3, the ONBUILD user, the venv');
  });
});
