import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';

const DOCKERFILE = `FROM localhost/debian:bookworm AS build
RUN mkdir -p /out && echo built > /out/artifact && chmod 640 /out/artifact
FROM localhost/debian:bookworm
COPY --from=build --link /out /opt/out
COPY app.txt /opt/app.txt
RUN echo ran > /ran && rm -f /etc/issue
CMD ["cat", "/opt/app.txt"]
`;

describe('build outputs', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  let ctx: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-outputs-'));
    root = path.join(tmp, 'store');
    ctx = path.join(tmp, 'ctx');
    await ensureDebianBase(root);
    await mkdir(ctx);
    await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
    await writeFile(path.join(ctx, 'app.txt'), 'app\n');
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('writes an OCI layout skopeo accepts, a docker tar skopeo copies, and a local rootfs', async () => {
    const oci = path.join(tmp, 'oci');
    const tarball = path.join(tmp, 'image.tar');
    const local = path.join(tmp, 'rootfs');
    const r = await stratum(
      ['build', ctx, '-t', 'localhost/out:1', '--progress', 'quiet', '-o', `type=oci,dest=${oci}`, '-o', `type=docker,dest=${tarball}`, '-o', `type=local,dest=${local}`],
      { root },
    );
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse((await run('skopeo', ['inspect', `oci:${oci}:1`])).stdout) as { Layers: string[] };
    assert.equal(info.Layers.length, 4);
    const copied = path.join(tmp, 'from-docker');
    await run('skopeo', ['copy', '-q', `docker-archive:${tarball}`, `oci:${copied}:x`]);
    const viaDocker = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${copied}:x`])).stdout) as { rootfs: { diff_ids: string[] } };
    const ours = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${oci}:1`])).stdout) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(viaDocker.rootfs.diff_ids, ours.rootfs.diff_ids);
    assert.equal(await readFile(path.join(local, 'opt/out/artifact'), 'utf8'), 'built\n');
    assert.equal(await readFile(path.join(local, 'ran'), 'utf8'), 'ran\n');
    await assert.rejects(readFile(path.join(local, 'etc/issue')));
  });

  it('gives the same manifest digest for two builds with the same SOURCE_DATE_EPOCH', async () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const first = await stratum(['build', ctx, '-q', '--no-cache'], { root, env });
    assert.equal(first.code, 0, first.stderr);
    // A second store: nothing is shared but the base image.
    const other = path.join(tmp, 'store2');
    await ensureDebianBase(other);
    const second = await stratum(['build', ctx, '-q', '--no-cache'], { root: other, env });
    assert.equal(second.code, 0, second.stderr);
    assert.match(first.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(second.stdout.trim(), first.stdout.trim());
    // Without the epoch, `created` differs, so the digest does too: the test above is not vacuous.
    const third = await stratum(['build', ctx, '-q'], { root });
    assert.notEqual(third.stdout.trim(), first.stdout.trim());
  });
});
