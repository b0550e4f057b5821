import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError, SourceError } from '../../../src/util/errors.js';
import {
  automaticPlatformArgs,
  parseDockerfile,
  planStages,
  toCommands,
  type CopyCmd,
  type RunCmd,
} from '../../../src/frontend/index.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const amd64 = { os: 'linux', architecture: 'amd64' };
const arm = { os: 'linux', architecture: 'arm', variant: 'v7' };

function plan(text: string, opts: Partial<Parameters<typeof planStages>[1]> = {}) {
  return planStages(parseDockerfile(text, 'Dockerfile'), { buildArgs: {}, buildPlatform: amd64, ...opts });
}

function throwsAt(fn: () => unknown, line: number, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
    assert.equal(e.line, line, e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('global ARG in FROM, with and without build-arg', () => {
  const text = 'ARG RELEASE\nFROM reg/x:${RELEASE}\nRUN true\n';
  assert.equal(plan(text, { buildArgs: { RELEASE: '2024.1' } }).stages[0]!.baseImage, 'reg/x:2024.1');
  assert.equal(plan(text).stages[0]!.baseImage, 'reg/x:');
  const p = plan('ARG V=1.2\nFROM busybox:$V\n', { buildArgs: { OTHER: 'x' } });
  assert.equal(p.stages[0]!.baseImage, 'busybox:1.2');
  assert.deepEqual(p.globalArgs, [{ key: 'V', value: '1.2' }]);
  // undeclared build args are not visible to FROM
  assert.equal(plan('FROM busybox:${OTHER:-none}\n', { buildArgs: { OTHER: 'x' } }).stages[0]!.baseImage, 'busybox:none');
});

test('ARG FROM=... then FROM ${FROM}, defaults referencing earlier args', () => {
  const text = 'ARG RELEASE\nARG FROM=registry.example/ubuntu:${RELEASE}\nFROM ${FROM}\n';
  assert.equal(plan(text, { buildArgs: { RELEASE: 'jammy' } }).stages[0]!.baseImage, 'registry.example/ubuntu:jammy');
  assert.equal(plan(text, { buildArgs: { RELEASE: 'jammy', FROM: 'alpine' } }).stages[0]!.baseImage, 'alpine');
});

test('automatic platform args usable in FROM and --platform', () => {
  assert.deepEqual(automaticPlatformArgs(arm, amd64), {
    TARGETPLATFORM: 'linux/arm/v7', TARGETOS: 'linux', TARGETARCH: 'arm', TARGETVARIANT: 'v7',
    BUILDPLATFORM: 'linux/amd64', BUILDOS: 'linux', BUILDARCH: 'amd64', BUILDVARIANT: '',
  });
  const p = plan('FROM --platform=$BUILDPLATFORM golang AS build\nFROM alpine:${TARGETARCH}${TARGETVARIANT}\nCOPY --from=build /a /a\n', { platform: arm });
  assert.equal(p.stages[0]!.platform, 'linux/amd64');
  assert.equal(p.stages[1]!.baseImage, 'alpine:armv7');
  assert.equal(p.globalEnv.TARGETPLATFORM, 'linux/arm/v7');
});

test('stage deps, names case-insensitive, and order dependencies-first', () => {
  const text = [
    'FROM alpine AS Base',
    'FROM base AS tools',
    'RUN --mount=type=bind,from=ctx-extra,target=/e true',
    'FROM debian AS unused',
    'FROM base AS final',
    'ARG SRC=tools',
    'COPY --from=tools /bin/t /bin/t',
    'COPY --from=0 /etc/os-release /x',
    'COPY --from=docker.io/library/busybox /bin/sh /sh',
    'RUN --mount=type=cache,target=/c,from=TOOLS,source=/c true',
  ].join('\n');
  const p = plan(text);
  assert.equal(p.stages.length, 4);
  assert.equal(p.stages[0]!.name, 'base');
  assert.equal(p.stages[1]!.baseStage, 0);
  assert.deepEqual(p.stages[1]!.deps, { stages: [0], contexts: ['ctx-extra'] });
  assert.deepEqual(p.stages[3]!.deps, { stages: [0, 1], contexts: ['docker.io/library/busybox'] });
  assert.equal(p.target, 3);
  assert.deepEqual(p.order, [0, 1, 3]);
  // --target picks a stage and skips what it does not need
  const t = plan(text, { target: 'TOOLS' });
  assert.equal(t.target, 1);
  assert.deepEqual(t.order, [0, 1]);
  assert.deepEqual(plan(text, { target: 'unused' }).order, [2]);
});

test('COPY --from a later stage is refused as BuildKit refuses it (when the target needs it); cycles first', () => {
  throwsAt(() => plan('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\n', { target: 'one' }), 2, /cannot copy from stage "two", it needs to be defined before current stage "one"/);
  assert.deepEqual(plan('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\n', { target: 'two' }).order, [1]);
  throwsAt(() => plan('FROM a AS one\nCOPY --from=two /x /x\nFROM b AS two\nCOPY --from=one /y /y\n'), 3, /circular dependency detected on stage two: two -> one -> two/);
});

test('planning errors carry line numbers', () => {
  throwsAt(() => plan('FROM a AS x\nFROM later\nFROM b AS later\n'), 2, /later stage/);
  throwsAt(() => plan('FROM a AS x\nFROM x AS x\n'), 2, /duplicate stage name/);
  throwsAt(() => plan('ARG A=1\nRUN echo\nFROM a\n'), 2, /must come after a FROM/);
  throwsAt(() => plan('ARG A=1\n'), 1, /no FROM/);
  throwsAt(() => plan('FROM a\nCOPY --from=0 /a /b\n'), 2, /index/);
  throwsAt(() => plan('\n\nFROM $EMPTY\n'), 3, /should not be blank/);
  throwsAt(() => plan('FROM a AS 1bad\n'), 1, /invalid name for build stage/);
  assert.throws(() => plan('FROM a AS x\nFROM b AS y\n', { target: 'z' }), (e: unknown) => {
    assert.ok(e instanceof InputError);
    assert.match(e.message, /"z".*stages: x, y/);
    return true;
  });
});

test('toCommands validation errors', () => {
  const bad: [string, number, RegExp][] = [
    ['FROM a\nFOO bar\n', 2, /^Dockerfile:2:1: unknown instruction "FOO"; expected one of FROM, RUN, /],
    ['FROM a\n\nrunn true\n', 3, /^Dockerfile:3:1: unknown instruction "RUNN" \(did you mean RUN\?\)$/],
    ['FROM a\nCOPY --form=x a b\n', 2, /unknown flag --form for COPY \(did you mean --from\?\)/],
    ['FROM a\n\nCOPY --chmod 644 a b\n', 3, /missing a value on flag --chmod/],
    ['FROM a\nRUN --mount=type=cache,target=/x --frob=1 true\n', 2, /unknown flag --frob for RUN/],
    ['FROM a\nCOPY --keep-git-dir=true a b\n', 2, /unknown flag --keep-git-dir for COPY/],
    ['FROM a\nCOPY --link=maybe a b\n', 2, /expecting boolean/],
    ['FROM a\nCOPY --from=x --from=y a b\n', 2, /duplicate flag/],
    ['FROM a\nCOPY onlyone\n', 2, /at least two arguments/],
    ['FROM a\nONBUILD FROM b\n', 2, /FROM isn't allowed as an ONBUILD trigger/],
    ['FROM a\nONBUILD ONBUILD RUN x\n', 2, /ONBUILD ONBUILD/],
    ['FROM a\nONBUILD\n', 2, /ONBUILD requires/],
    ['FROM a\nWORKDIR\n', 2, /WORKDIR requires/],
    ['FROM a\nRUN\n', 2, /RUN requires/],
    ['FROM a\nSHELL /bin/bash -c\n', 2, /JSON form/],
    ['FROM a\nHEALTHCHECK CONNECT TCP 7000\n', 2, /unknown type "CONNECT" in HEALTHCHECK/],
    ['FROM a\nHEALTHCHECK --interval=5x CMD true\n', 2, /invalid duration/],
    ['FROM a\nHEALTHCHECK CMD\n', 2, /missing command/],
    ['FROM a\nRUN --network=bridge true\n', 2, /unsupported network mode/],
    ['FROM a\nEXPOSE\n', 2, /EXPOSE requires/],
    ['FROM a\nENV a=b c\n', 2, /can't find =/],
    ['FROM a\n  CMD --doit [ "a" ]\n', 2, /unknown flag --doit for CMD/],
    ['FROM a b\n', 1, /one argument.*or three/],
  ];
  for (const [text, line, re] of bad) throwsAt(() => toCommands(parseDockerfile(text)), line, re);
  // columns point at the keyword
  assert.throws(() => toCommands(parseDockerfile('FROM a\n   BOGUS x\n')), (e: unknown) => e instanceof SourceError && e.column === 4);
});

test('typed commands carry raw words and flags', () => {
  const cmds = toCommands(parseDockerfile([
    'FROM --platform=linux/arm64 img AS Build',
    'ENV A=1 B="two words" C=\\$x',
    'ENV LEGACY some value',
    'LABEL "org.opencontainers.image.title"="x y" v=1',
    'ARG ONE TWO=2 THREE="3 3"',
    'RUN --mount=type=cache,target=/root/.cache/pip,sharing=private --network=none --security=insecure pip install x',
    'RUN ["echo", "$HOME"]',
    'ADD --keep-git-dir=true --checksum=sha256:abc --unpack=false https://example.com/r.git#v1 /src',
    'COPY --from=build --link --chown=1:2 --exclude=*.md --exclude=*.txt --parents ["a b", "/c d/"]',
    'CMD ["run"]',
    'ENTRYPOINT exec app',
    'HEALTHCHECK --interval=1m30s --timeout=3s --start-period=0s --retries=3 CMD curl -f http://localhost/',
    'HEALTHCHECK NONE',
    'HEALTHCHECK CMD ["check", "-q"]',
    'EXPOSE 80/tcp 53/udp',
    'VOLUME ["/data", "/logs"]',
    'STOPSIGNAL SIGTERM',
    'USER app:app',
    'WORKDIR /srv/$X',
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    'MAINTAINER someone',
    'ONBUILD RUN \\',
    '    echo one && \\',
    '    echo two',
  ].join('\n')));
  const k = cmds.map((c) => c.kind);
  assert.deepEqual(k, ['from', 'env', 'env', 'label', 'arg', 'run', 'run', 'add', 'copy', 'cmd', 'entrypoint', 'healthcheck', 'healthcheck', 'healthcheck', 'expose', 'volume', 'stopsignal', 'user', 'workdir', 'shell', 'maintainer', 'onbuild']);
  const [from, env, legacy, label, arg, run, exec, add, copy, cmd, ep, hc, hcNone, hcExec, expose, vol, , user, wd, shell, , onbuild] = cmds;
  assert.deepEqual(from, { kind: 'from', ins: from!.ins, image: 'img', name: 'build', platform: 'linux/arm64' });
  assert.deepEqual(env!.kind === 'env' && env!.pairs, [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }, { key: 'C', value: '\\$x' }]);
  assert.deepEqual(legacy!.kind === 'env' && legacy!.pairs, [{ key: 'LEGACY', value: 'some value' }]);
  assert.deepEqual(label!.kind === 'label' && label!.pairs, [{ key: '"org.opencontainers.image.title"', value: '"x y"' }, { key: 'v', value: '1' }]);
  assert.deepEqual(arg!.kind === 'arg' && arg!.pairs, [{ key: 'ONE' }, { key: 'TWO', value: '2' }, { key: 'THREE', value: '"3 3"' }]);
  const r = run as RunCmd;
  assert.equal(r.shell, 'pip install x');
  assert.deepEqual(r.mounts, ['type=cache,target=/root/.cache/pip,sharing=private']);
  assert.equal(r.network, 'none');
  assert.equal(r.security, 'insecure');
  assert.deepEqual((exec as RunCmd).exec, ['echo', '$HOME']);
  assert.equal((exec as RunCmd).shell, undefined);
  const a = add as CopyCmd;
  assert.equal(a.kind, 'add');
  assert.equal(a.keepGitDir, true);
  assert.equal(a.checksum, 'sha256:abc');
  assert.equal(a.unpack, false);
  assert.deepEqual(a.sources, ['https://example.com/r.git#v1']);
  const c = copy as CopyCmd;
  assert.deepEqual([c.from, c.link, c.chown, c.exclude, c.parents, c.sources, c.dest], ['build', true, '1:2', ['*.md', '*.txt'], true, ['a b'], '/c d/']);
  assert.deepEqual(cmd!.kind === 'cmd' && cmd!.exec, ['run']);
  assert.equal(ep!.kind === 'entrypoint' && ep!.shell, 'exec app');
  assert.ok(hc!.kind === 'healthcheck');
  if (hc!.kind === 'healthcheck') {
    assert.deepEqual(hc!.test, ['CMD-SHELL', 'curl -f http://localhost/']);
    assert.equal(hc!.interval, 90e9);
    assert.equal(hc!.timeout, 3e9);
    assert.equal(hc!.startPeriod, 0);
    assert.equal(hc!.retries, 3);
  }
  assert.ok(hcNone!.kind === 'healthcheck' && hcNone!.none);
  assert.ok(hcExec!.kind === 'healthcheck' && hcExec!.test?.join(' ') === 'CMD check -q');
  assert.deepEqual(expose!.kind === 'expose' && expose!.ports, ['80/tcp', '53/udp']);
  assert.deepEqual(vol!.kind === 'volume' && vol!.paths, ['/data', '/logs']);
  assert.equal(user!.kind === 'user' && user!.user, 'app:app');
  assert.equal(wd!.kind === 'workdir' && wd!.path, '/srv/$X');
  assert.deepEqual(shell!.kind === 'shell' && shell!.exec, ['/bin/bash', '-o', 'pipefail', '-c']);
  assert.ok(onbuild!.kind === 'onbuild');
  if (onbuild!.kind === 'onbuild') {
    assert.equal(onbuild!.trigger, 'RUN     echo one &&     echo two');
    assert.equal(onbuild!.command.kind, 'run');
    assert.equal(onbuild!.ins.line, 22);
    assert.equal(onbuild!.ins.endLine, 24);
  }
});

function fixture(name: string): string {
  return fs.readFileSync(path.join(fixtures, name), 'utf8');
}

test('seed: openstack-venv-builder parses and plans', () => {
  const df = parseDockerfile(fixture('openstack-venv-builder.Dockerfile'), 'images/openstack-venv-builder/Dockerfile');
  const p = planStages(df, { buildArgs: { RELEASE: '2024.1' }, buildPlatform: amd64 });
  assert.deepEqual(p.stages.map((s) => [s.name, s.baseImage]), [
    ['requirements', 'registry.atmosphere.dev/library/ubuntu-cloud-archive:2024.1'],
    [undefined, 'registry.atmosphere.dev/library/python-base:2024.1'],
  ]);
  assert.deepEqual(p.order, [0, 1]);
  assert.deepEqual(p.stages[1]!.deps, { stages: [0], contexts: [] });
  const req = p.stages[0]!.commands;
  assert.deepEqual(req.map((c) => c.kind), ['arg', 'add', 'run', 'run']);
  const add = req[1] as CopyCmd;
  assert.equal(add.keepGitDir, true);
  assert.deepEqual(add.sources, ['https://opendev.org/openstack/requirements.git#${REQUIREMENTS_GIT_REF}']);
  const sed = req[3] as RunCmd;
  assert.equal(sed.shell, '<<EOF sh -xe');
  assert.equal(sed.heredocs[0]!.content, "sed -i '/glance-store/d' /upper-constraints.txt\nsed -i '/horizon/d' /upper-constraints.txt\n");
  const final = p.stages[1]!.commands;
  const copy = final.find((c) => c.kind === 'copy') as CopyCmd;
  assert.deepEqual([copy.from, copy.link, copy.sources, copy.dest], ['requirements', true, ['/upper-constraints.txt'], '/upper-constraints.txt']);
  const pip = final[final.length - 1] as RunCmd;
  assert.match(pip.shell!, /^pip3 install {5}--constraint \/upper-constraints.txt {9}cryptography/);
  assert.ok(pip.shell!.endsWith('uwsgi'));
});

test('seed: openstack-runtime (ARG FROM + ONBUILD) parses and plans', () => {
  const df = parseDockerfile(fixture('openstack-runtime.Dockerfile'), 'images/openstack-runtime/Dockerfile');
  const p = planStages(df, { buildArgs: { RELEASE: '2024.1' }, buildPlatform: amd64 });
  assert.equal(p.stages.length, 1);
  assert.equal(p.stages[0]!.baseImage, 'registry.atmosphere.dev/library/ubuntu-cloud-archive:2024.1');
  const triggers = p.stages[0]!.commands.map((c) => (c.kind === 'onbuild' ? c.trigger : c.kind));
  assert.equal(triggers[0], 'ARG PROJECT');
  assert.equal(triggers[1], 'ARG SHELL=/usr/sbin/nologin');
  assert.match(triggers[2]!, /^RUN {5}groupadd -g 42424 \$\{PROJECT\} && {5}useradd/);
  assert.ok(!triggers[2]!.includes('\n'));
});

test('seed: nova parses and plans, with --target', () => {
  const df = parseDockerfile(fixture('nova.Dockerfile'), 'images/nova/Dockerfile');
  const p = planStages(df, { buildArgs: { RELEASE: '2024.1' }, buildPlatform: amd64 });
  assert.deepEqual(p.stages.map((s) => s.name), ['build', undefined]);
  assert.deepEqual(p.order, [0, 1]);
  assert.deepEqual(p.stages[1]!.deps.stages, [0]);
  const build = p.stages[0]!.commands;
  const pip = build.find((c) => c.kind === 'run' && c.mounts.length > 0) as RunCmd;
  assert.deepEqual(pip.mounts, ['type=cache,mode=0755,target=/root/.cache/pip,sharing=private']);
  assert.equal(pip.shell, '<<EOF bash -xe');
  const addChmod = build[build.length - 1] as CopyCmd;
  assert.equal(addChmod.chmod, '644');
  assert.equal(addChmod.dest, '/var/lib/openstack/lib/python3.10/site-packages/os_brick/initiator/connectors/storpool.py');
  assert.deepEqual(planStages(df, { buildArgs: {}, target: 'BUILD', buildPlatform: amd64 }).order, [0]);
});
