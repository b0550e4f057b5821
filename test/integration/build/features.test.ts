import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { makeRepo } from '../../helpers/git.js';
import { run } from '../../../src/util/exec.js';

const DOCKERFILE = `# syntax=docker/dockerfile:1
ARG BASE=localhost/debian:bookworm
FROM \${BASE} AS base
RUN rm -f /etc/issue.net && rm -rf /usr/share/doc/bash

FROM base AS parallel-a
RUN date +%s%N > /a-start && sleep 2 && date +%s%N > /a-end

FROM base AS parallel-b
RUN date +%s%N > /b-start && sleep 2 && date +%s%N > /b-end

FROM base AS unused
RUN exit 1

FROM base AS with-trigger
ONBUILD ARG VERSION
ONBUILD RUN echo "triggered $VERSION" > /triggered

FROM with-trigger AS triggered
RUN test -f /triggered

FROM base
ARG VERSION=1.0
ARG GIT_URL
ENV APP_HOME=/opt/app
WORKDIR $APP_HOME
COPY --from=parallel-a /a-start /a-end /times/
COPY --from=parallel-b /b-start /b-end /times/
RUN <<A cat > /two.txt && cat <<-B >> /two.txt
first $VERSION
A
\tsecond
\tB
COPY <<'EOT' /literal.txt
$NOT_EXPANDED
EOT
COPY <<EOT /expanded.txt
home=\${APP_HOME}
EOT
RUN <<EOF
#!/bin/bash
echo "bash \${BASH_VERSINFO[0]}" > /shebang.txt
EOF
ADD files.tgz /opt/unpacked/
ADD \${GIT_URL} /opt/gitsrc
COPY --chown=nobody:nogroup --chmod=600 app.conf /etc/app.conf
COPY relative.txt ./
COPY --from=triggered /triggered /triggered
COPY . /ctx/
RUN --mount=type=bind,source=files,target=/mnt/files cp /mnt/files/data.txt /from-bind.txt
RUN --mount=type=secret,id=token,required=true test "$(cat /run/secrets/token)" = s3cret
RUN --mount=type=tmpfs,target=/scratch touch /scratch/x
RUN --network=none ls /sys/class/net > /netdevs.txt
USER nobody
RUN id -u > /tmp/uid
EXPOSE 8080 53/udp
LABEL org.example.name="stratum test"
HEALTHCHECK --interval=5s CMD true
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
`;

describe('Dockerfile features in a real build', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  let ctx: string;
  let rootfs: string;
  let buildArgs: string[];
  let buildStderr: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-features-'));
    root = path.join(tmp, 'store');
    ctx = path.join(tmp, 'ctx');
    await ensureDebianBase(root);
    await mkdir(path.join(ctx, 'files'), { recursive: true });
    await mkdir(path.join(tmp, 'tarsrc/inner'), { recursive: true });
    await writeFile(path.join(tmp, 'tarsrc/inner/packed.txt'), 'packed\n');
    await run('tar', ['-czf', path.join(ctx, 'files.tgz'), '-C', path.join(tmp, 'tarsrc'), 'inner']);
    await writeFile(path.join(ctx, 'files/data.txt'), 'from the bind mount\n');
    await writeFile(path.join(ctx, 'app.conf'), 'key=value\n');
    await writeFile(path.join(ctx, 'relative.txt'), 'relative\n');
    await writeFile(path.join(ctx, 'secret-key.pem'), 'do not ship\n');
    await writeFile(path.join(ctx, '.dockerignore'), 'secret-*\n*.tar.gz\n');
    await writeFile(path.join(ctx, 'Dockerfile'), DOCKERFILE);
    await writeFile(path.join(tmp, 'token'), 's3cret');
    await mkdir(path.join(tmp, 'gitsrc'));
    await writeFile(path.join(tmp, 'gitsrc/hello.txt'), 'from git\n');
    const commit = await makeRepo(path.join(tmp, 'gitsrc'), path.join(tmp, 'repo.git'));
    buildArgs = ['--build-arg', 'VERSION=1.0', '--build-arg', `GIT_URL=file://${tmp}/repo.git#${commit}`, '--secret', `id=token,src=${path.join(tmp, 'token')}`];
    const out = path.join(tmp, 'rootfs');
    const r = await stratum(['build', ctx, '-t', 'localhost/features:1', '--progress', 'plain', '-o', `type=local,dest=${out}`, ...buildArgs], { root });
    assert.equal(r.code, 0, r.stderr.slice(-4000));
    buildStderr = r.stderr;
    rootfs = out;
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const read = (p: string) => readFile(path.join(rootfs, p), 'utf8');
  const absent = async (p: string) => assert.equal(await stat(path.join(rootfs, p)).catch(() => undefined), undefined, `${p} should be absent`);

  it('deletes through whiteouts', async () => {
    await absent('etc/issue.net');
    await absent('usr/share/doc/bash');
    assert.ok((await stat(path.join(rootfs, 'etc/issue'))).isFile());
  });

  it('builds independent stages at the same time and skips stages the target does not need', async () => {
    const n = async (f: string) => BigInt((await read(`times/${f}`)).trim());
    const [as, ae, bs, be] = await Promise.all(['a-start', 'a-end', 'b-start', 'b-end'].map(n));
    assert.ok(as! < be! && bs! < ae!, 'the two sleeping stages overlapped');
    assert.doesNotMatch(buildStderr, /#unused/);
  });

  it('runs ONBUILD triggers when a later stage uses the stage, with that build\'s args', async () => {
    assert.equal(await read('triggered'), 'triggered 1.0\n');
  });

  it('honours .dockerignore', async () => {
    assert.equal(await read('ctx/relative.txt'), 'relative\n');
    await absent('ctx/secret-key.pem');
    assert.ok((await stat(path.join(rootfs, 'ctx/files.tgz'))).isFile());
  });

  it('runs heredocs as the reference describes', async () => {
    assert.equal(await read('two.txt'), 'first 1.0\nsecond\n');
    assert.equal(await read('literal.txt'), '$NOT_EXPANDED\n');
    assert.equal(await read('expanded.txt'), 'home=/opt/app\n');
    assert.equal(await read('shebang.txt'), 'bash 5\n');
  });

  it('ADDs archives, git sources and applies --chown/--chmod', async () => {
    assert.equal(await read('opt/unpacked/inner/packed.txt'), 'packed\n');
    assert.equal(await read('opt/gitsrc/hello.txt'), 'from git\n');
    await absent('opt/gitsrc/.git');
    const st = await stat(path.join(rootfs, 'etc/app.conf'));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 65534);
    assert.equal(st.gid, 65534);
    assert.equal(await read('opt/app/relative.txt'), 'relative\n');
  });

  it('mounts bind, secret and tmpfs for one step and leaves no trace of them', async () => {
    assert.equal(await read('from-bind.txt'), 'from the bind mount\n');
    await absent('mnt/files');
    await absent('run/secrets');
    await absent('scratch');
    assert.equal((await read('netdevs.txt')).trim(), 'lo');
    assert.equal((await read('tmp/uid')).trim(), '65534');
  });

  it('writes the image config', async () => {
    const oci = path.join(tmp, 'oci');
    const r = await stratum(['build', ctx, '--progress', 'quiet', '-o', `type=oci,dest=${oci},tar=false`, ...buildArgs], { root });
    assert.equal(r.code, 0, r.stderr);
    // skopeo checks the layout; the config is read raw because OCI's schema has no Healthcheck.
    await run('skopeo', ['inspect', `oci:${oci}`]);
    const blob = (d: string) => readFile(path.join(oci, 'blobs/sha256', d.slice(7)), 'utf8');
    const index = JSON.parse(await readFile(path.join(oci, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await blob(index.manifests[0]!.digest)) as { config: { digest: string }; layers: { digest: string }[] };
    const c = (JSON.parse(await blob(manifest.config.digest)) as { config: Record<string, unknown> }).config;
    // No layer made by a step carries runc's mount points or the step's mounts.
    for (const layer of manifest.layers.slice(1)) {
      const names = (await run('tar', ['-tzf', path.join(oci, 'blobs/sha256', layer.digest.slice(7))])).stdout.split('\n');
      const leaked = names.filter((n) => /^(\.\/)?(etc\/(hosts|resolv\.conf|hostname)|mnt\/files|run\/secrets|scratch|dev|proc|sys)\/?$/.test(n));
      assert.deepEqual(leaked, [], `layer ${layer.digest}`);
    }
    assert.equal(c.User, 'nobody');
    assert.equal(c.WorkingDir, '/opt/app');
    assert.ok((c.Env as string[]).includes('APP_HOME=/opt/app'));
    assert.deepEqual(c.ExposedPorts, { '8080/tcp': {}, '53/udp': {} });
    assert.deepEqual(c.Labels, { 'org.example.name': 'stratum test' });
    assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c']);
    assert.deepEqual(c.Cmd, ['echo hi']);
    assert.equal(c.StopSignal, 'SIGTERM');
    assert.deepEqual((c.Healthcheck as { Test: string[] }).Test, ['CMD-SHELL', 'true']);
    // The second build was all cache hits.
    assert.doesNotMatch(r.stderr, /error/i);
  });

  it('--target builds one stage; --dry-run prints the plan and runs nothing', async () => {
    const r = await stratum(['build', ctx, '--target', 'parallel-a', '--dry-run', ...buildArgs], { root });
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { target: string; stages: { name?: string; steps: { expanded: string }[] }[] };
    assert.equal(plan.target, 'parallel-a');
    assert.deepEqual(plan.stages.map((s) => s.name), ['base', 'parallel-a']);
    const full = JSON.parse((await stratum(['build', ctx, '--dry-run', ...buildArgs], { root })).stdout) as typeof plan;
    const final = full.stages.at(-1)!;
    assert.ok(final.steps.some((s) => s.expanded === 'WORKDIR /opt/app'), JSON.stringify(final.steps));
  });
});
