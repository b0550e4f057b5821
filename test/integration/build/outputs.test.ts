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
      ['build', ctx, '-t', 'localhost/out:1', '--progress', 'quiet', '-o', `type=oci,dest=${oci},tar=false`, '-o', `type=docker,dest=${tarball}`, '-o', `type=local,dest=${local}`],
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

  it('takes named contexts: a directory, docker-image:// and oci-layout://', async () => {
    const oci = path.join(tmp, 'ctx-oci');
    const built = await stratum(['build', ctx, '-t', 'localhost/out:2', '--progress', 'quiet', '-o', `type=oci,dest=${oci},tar=false`], { root });
    assert.equal(built.code, 0, built.stderr);
    const extra = path.join(tmp, 'extra');
    await mkdir(extra);
    await writeFile(path.join(extra, 'hello.txt'), 'from a named context\n');
    const dir = path.join(tmp, 'named');
    await mkdir(dir);
    await writeFile(
      path.join(dir, 'Dockerfile'),
      'FROM base\nCOPY --from=extra hello.txt /hello.txt\nCOPY --from=layout /opt/app.txt /from-layout.txt\n',
    );
    const local = path.join(tmp, 'named-rootfs');
    const r = await stratum(
      [
        'build', dir, '--platform', 'linux/amd64', '--progress', 'quiet', '-o', `type=local,dest=${local}`,
        '--build-context', 'base=docker-image://localhost/debian:bookworm',
        '--build-context', `extra=${extra}`,
        '--build-context', `layout=oci-layout://${oci}:2`,
      ],
      { root },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(path.join(local, 'hello.txt'), 'utf8'), 'from a named context\n');
    assert.equal(await readFile(path.join(local, 'from-layout.txt'), 'utf8'), 'app\n');
    assert.ok((await readFile(path.join(local, 'etc/debian_version'), 'utf8')).startsWith('12'));
  });

  it('writes zstd layers on request', async () => {
    const oci = path.join(tmp, 'zstd');
    const r = await stratum(['build', ctx, '--compression', 'zstd', '--progress', 'quiet', '-o', `type=oci,dest=${oci},tar=false`], { root });
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci:${oci}`])).stdout) as { layers: { mediaType: string }[] };
    // The base keeps its gzip layer; every layer stratum made is zstd.
    assert.deepEqual(
      manifest.layers.slice(1).map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    );
    await run('skopeo', ['copy', '-q', `oci:${oci}`, `oci:${path.join(tmp, 'zstd-copy')}:x`]);
  });
});
