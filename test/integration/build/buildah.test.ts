import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { describeTree, diffTrees } from '../../helpers/tree.js';
import { run } from '../../../src/util/exec.js';
import { Session } from '../../../src/solver/session.js';
import { exportOciLayout } from '../../../src/exporter/index.js';

// No heredocs: buildah 1.28 cannot parse them.
const DOCKERFILE = `FROM localhost/debian:bookworm
ENV APP=/opt/app LANG=C.UTF-8
WORKDIR /opt/app
COPY files/ ./
COPY --chown=1234:1234 owned.txt /opt/owned.txt
RUN useradd -u 1234 -m bob && mkdir -p /var/lib/app && chown bob:bob /var/lib/app && rm -f /etc/issue.net && ln -s /opt/app/a.txt /opt/link
RUN rm -rf /usr/share/doc/apt && mkdir -p /usr/share/doc/apt && echo replaced > /usr/share/doc/apt/README
USER bob
EXPOSE 8080 53/udp
LABEL org.example.a=b
CMD ["/bin/sh"]
`;

// Files a container runtime manages rather than the build: buildah (chroot isolation) and runc
// differ on whether the empty mount targets stay behind. Everything else must match.
const RUNTIME_FILES = new Set(['etc/hosts', 'etc/resolv.conf', 'etc/hostname', 'run/.containerenv', 'proc', 'sys', 'dev']);

describe('stratum and buildah agree on a heredoc-free Dockerfile', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  const name = `localhost/stratum-compare-${randomBytes(4).toString('hex')}`;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-buildah-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root);
    // Give buildah the very same base image.
    const session = await Session.get(root);
    const base = await session.images.resolve('localhost/debian:bookworm');
    await exportOciLayout(session.content, base!, path.join(tmp, 'base-oci'), { refName: 'bookworm' });
    await run('skopeo', ['copy', '-q', `oci:${path.join(tmp, 'base-oci')}:bookworm`, 'containers-storage:localhost/debian:bookworm']);
    const ctx = path.join(tmp, 'ctx');
    await mkdir(path.join(ctx, 'files/sub'), { recursive: true });
    await writeFile(path.join(ctx, 'files/a.txt'), 'a\n');
    await writeFile(path.join(ctx, 'files/sub/b.sh'), '#!/bin/sh\necho b\n', { mode: 0o755 });
    await writeFile(path.join(ctx, 'owned.txt'), 'owned\n', { mode: 0o640 });
    await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  });

  after(async () => {
    await run('buildah', ['rmi', '-f', name], { check: false });
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('gives the same root filesystem and config', async () => {
    const ctx = path.join(tmp, 'ctx');
    const ours = path.join(tmp, 'ours-oci');
    const r = await stratum(['build', ctx, '--progress', 'plain', '-o', `type=oci,dest=${ours},tar=false`, '-t', `${name}:1`], { root });
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    await run('buildah', ['bud', '--layers', '--isolation', 'chroot', '--pull=false', '-q', '-t', `${name}:1`, ctx]);
    const theirs = path.join(tmp, 'theirs-oci');
    await run('skopeo', ['copy', '-q', `containers-storage:${name}:1`, `oci:${theirs}:1`]);

    await run('umoci', ['unpack', '--image', `${ours}:1`, path.join(tmp, 'ours')]);
    await run('umoci', ['unpack', '--image', `${theirs}:1`, path.join(tmp, 'theirs')]);
    const skip = (rel: string) => RUNTIME_FILES.has(rel);
    const a = await describeTree(path.join(tmp, 'ours/rootfs'), skip);
    const b = await describeTree(path.join(tmp, 'theirs/rootfs'), skip);
    assert.ok(a.size > 1000, 'a whole Debian tree was compared');
    assert.deepEqual(diffTrees(a, b), []);

    const cfg = async (dir: string) =>
      (JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${dir}:1`])).stdout) as { config: Record<string, unknown> }).config;
    const [ca, cb] = await Promise.all([cfg(ours), cfg(theirs)]);
    for (const key of ['Env', 'Cmd', 'Entrypoint', 'User', 'WorkingDir', 'Labels', 'ExposedPorts']) {
      const norm = (v: unknown) => (key === 'Labels' ? Object.fromEntries(Object.entries((v ?? {}) as object).filter(([k]) => !k.startsWith('io.buildah'))) : v ?? null);
      assert.deepEqual(norm(ca[key]), norm(cb[key]), key);
    }
  });
});
