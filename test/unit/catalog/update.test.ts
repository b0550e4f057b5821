import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { updateRefs, scanRefs } from '../../../src/catalog/index.js';
import { EXIT_UNCHECKED, register } from '../../../src/cli/commands/update.js';
import { FixtureRepo, tempDir } from './helpers.js';

const OLD_TIME = '2020-01-01T00:00:00Z';

async function world() {
  const t = await tempDir('update');
  const nova = await FixtureRepo.create(t.dir, 'nova.git', 'master');
  const n1 = await nova.commit('a.txt', 'one');
  const n2 = await nova.commit('a.txt', 'two');
  await nova.git('branch', 'stable/2024.1', 'HEAD~1');
  const reqs = await FixtureRepo.create(t.dir, 'requirements.git', 'master');
  const r1 = await reqs.commit('upper-constraints.txt', 'foo===1\n');
  const r2 = await reqs.commit('upper-constraints.txt', 'foo===2\n');
  const vnc = await FixtureRepo.create(t.dir, 'novnc.git', 'master');
  const v1 = await vnc.commit('vnc.html', 'v1');
  await vnc.git('tag', '-a', '-m', 'release', 'v1.4.0');
  await vnc.commit('vnc.html', 'v2');
  const cat = join(t.dir, 'catalog');
  await mkdir(join(cat, 'nova'), { recursive: true });
  await mkdir(join(cat, 'keystone'), { recursive: true });
  const novaDf = [
    '# SPDX-License-Identifier: Apache-2.0',
    `# Stratum-Rebuild-Time: ${OLD_TIME}`,
    '',
    'FROM base AS build',
    `# stratum: repo=${nova.url} branch=master`,
    `ARG NOVA_GIT_REF=${n1}`,
    `# stratum: repo=${vnc.url} tag=v1.4.0`,
    `ARG NOVNC_GIT_REF=${n1}`,
    'RUN true',
    '',
  ].join('\n');
  const keystoneDf = [
    '# SPDX-License-Identifier: Apache-2.0',
    `# Stratum-Rebuild-Time: ${OLD_TIME}`,
    'FROM base',
    '# this ref is current',
    `# stratum: repo=${nova.url} branch=stable/2024.1`,
    `ARG KEYSTONE_GIT_REF="${n1}"`,
    '',
  ].join('\n');
  const bake = [
    'variable "RELEASE" {',
    '  default = "2024.1"',
    '}',
    `# stratum: repo=${reqs.url} branch=master`,
    'variable "REQUIREMENTS_GIT_REF" {',
    `  default = "${r1}"`,
    '}',
    '',
  ].join('\n');
  await writeFile(join(cat, 'nova', 'Dockerfile'), novaDf);
  await writeFile(join(cat, 'keystone', 'Dockerfile'), keystoneDf);
  await writeFile(join(cat, 'docker-bake.hcl'), bake);
  // Annotated tags must resolve to the commit (peeled), not the tag object.
  const tagObject = await vnc.git('rev-parse', 'v1.4.0');
  assert.notEqual(tagObject, v1);
  return { t, cat, nova, n1, n2, r1, r2, v1, novaDf, keystoneDf, bake, reqsUrl: reqs.url };
}

test('scanRefs finds annotated ARGs and bake variables', async () => {
  const w = await world();
  try {
    const df = scanRefs('nova/Dockerfile', w.novaDf);
    assert.deepEqual(df.refs.map((r) => [r.name, r.line, r.value]), [['NOVA_GIT_REF', 6, w.n1], ['NOVNC_GIT_REF', 8, w.n1]]);
    const hcl = scanRefs('docker-bake.hcl', w.bake);
    assert.deepEqual(hcl.refs.map((r) => [r.name, r.line, r.value, r.kind]), [['REQUIREMENTS_GIT_REF', 6, w.r1, 'bake-variable']]);
    assert.deepEqual(hcl.orphans, []);
  } finally {
    await w.t.cleanup();
  }
});

test('update --check reports stale refs and writes nothing', async () => {
  const w = await world();
  try {
    const res = await updateRefs(w.cat, { check: true });
    const stale = res.refs.filter((r) => r.state !== 'current').map((r) => [r.ref.name, r.state, r.latest]).sort();
    // NOVNC_GIT_REF holds a nova commit: that repository has no such commit.
    assert.deepEqual(stale, [['NOVA_GIT_REF', 'behind', w.n2], ['NOVNC_GIT_REF', 'unknown-commit', w.v1], ['REQUIREMENTS_GIT_REF', 'behind', w.r2]]);
    assert.equal(res.refs.find((r) => r.ref.name === 'NOVA_GIT_REF')!.commits, 1);
    assert.deepEqual(res.changedFiles, []);
    assert.equal(await readFile(join(w.cat, 'nova', 'Dockerfile'), 'utf8'), w.novaDf);
    assert.equal(await readFile(join(w.cat, 'docker-bake.hcl'), 'utf8'), w.bake);
  } finally {
    await w.t.cleanup();
  }
});

test('update rewrites stale refs and bumps only the changed Dockerfiles', async () => {
  const w = await world();
  try {
    const now = new Date('2025-03-04T05:06:07.890Z');
    const res = await updateRefs(w.cat, { now });
    assert.deepEqual(res.changedFiles.sort(), [join(w.cat, 'docker-bake.hcl'), join(w.cat, 'nova', 'Dockerfile')]);
    assert.deepEqual(res.bumpedHeaders, [join(w.cat, 'nova', 'Dockerfile')]);
    const nova = await readFile(join(w.cat, 'nova', 'Dockerfile'), 'utf8');
    assert.equal(
      nova,
      w.novaDf
        .replace(`# Stratum-Rebuild-Time: ${OLD_TIME}`, '# Stratum-Rebuild-Time: 2025-03-04T05:06:07Z')
        .replace(`NOVA_GIT_REF=${w.n1}`, `NOVA_GIT_REF=${w.n2}`)
        .replace(`NOVNC_GIT_REF=${w.n1}`, `NOVNC_GIT_REF=${w.v1}`),
    );
    assert.equal(await readFile(join(w.cat, 'keystone', 'Dockerfile'), 'utf8'), w.keystoneDf);
    assert.equal(await readFile(join(w.cat, 'docker-bake.hcl'), 'utf8'), w.bake.replace(w.r1, w.r2));
    const again = await updateRefs(w.cat, { check: true });
    assert.deepEqual(again.refs.map((r) => r.state), ['current', 'current', 'current', 'current']);
  } finally {
    await w.t.cleanup();
  }
});

test('every ref is reported: a missing branch or remote marks its refs unchecked, the others are still placed', async () => {
  const w = await world();
  try {
    const f = join(w.cat, 'keystone', 'Dockerfile');
    await writeFile(f, w.keystoneDf.replace('branch=stable/2024.1', 'branch=stable/1999.1'));
    await writeFile(join(w.cat, 'docker-bake.hcl'), w.bake.replace(w.reqsUrl, 'file:///nonexistent/requirements.git'));
    const res = await updateRefs(w.cat, { check: true });
    const by = Object.fromEntries(res.refs.map((r) => [r.ref.name, r]));
    assert.equal(by.KEYSTONE_GIT_REF!.state, 'unchecked');
    assert.match(by.KEYSTONE_GIT_REF!.error!, /no branch stable\/1999\.1/);
    assert.equal(by.REQUIREMENTS_GIT_REF!.state, 'unchecked');
    assert.match(by.REQUIREMENTS_GIT_REF!.error!, /nonexistent/);
    assert.equal(by.NOVA_GIT_REF!.state, 'behind');
  } finally {
    await w.t.cleanup();
  }
});

test('a commit of another branch is "not on the branch", with the branches that have it', async () => {
  const w = await world();
  try {
    // stable/2024.1 forks at n1; a commit only on the fork is not in master's history.
    const fork = await w.nova.git('rev-parse', 'stable/2024.1');
    await w.nova.git('checkout', '-q', 'stable/2024.1');
    const onFork = await w.nova.commit('b.txt', 'fork');
    await w.nova.git('checkout', '-q', 'master');
    assert.equal(fork, w.n1);
    await writeFile(join(w.cat, 'nova', 'Dockerfile'), w.novaDf.replace(`NOVA_GIT_REF=${w.n1}`, `NOVA_GIT_REF=${onFork}`));
    const res = await updateRefs(w.cat, { check: true });
    const nova = res.refs.find((r) => r.ref.name === 'NOVA_GIT_REF')!;
    assert.equal(nova.state, 'not-on-branch');
    assert.deepEqual(nova.branches, ['stable/2024.1']);
    // update moves it to the branch head like any other stale ref.
    await updateRefs(w.cat, { now: new Date('2025-01-01T00:00:00Z') });
    assert.ok((await readFile(join(w.cat, 'nova', 'Dockerfile'), 'utf8')).includes(`NOVA_GIT_REF=${w.n2}`));
  } finally {
    await w.t.cleanup();
  }
});

test('stratum update CLI: --check exits 1 when behind, then update brings it to 0', async () => {
  const w = await world();
  const out: string[] = [];
  const origWrite = process.stdout.write.bind(process.stdout);
  const prevExit = process.exitCode;
  try {
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    const cli = () => {
      const p = new Command().exitOverride();
      register(p);
      return p;
    };
    process.exitCode = 0;
    await cli().parseAsync(['node', 'stratum', 'update', '--check', w.cat]);
    assert.equal(process.exitCode, 1);
    assert.ok(out.some((l) => l.includes('NOVA_GIT_REF behind branch master by 1 commit(s)')), out.join(''));
    assert.ok(out.some((l) => /NOVNC_GIT_REF unknown commit: .* has no commit/.test(l)), out.join(''));
    process.exitCode = 0;
    await cli().parseAsync(['node', 'stratum', 'update', w.cat]);
    assert.equal(process.exitCode, 0);
    await cli().parseAsync(['node', 'stratum', 'update', '--check', w.cat]);
    assert.equal(process.exitCode, 0);
    assert.match(out.join(''), /4 ref\(s\) checked: 4 current\n$/);
    // A remote that cannot be asked, and nothing stale: the distinct exit code.
    const bake = join(w.cat, 'docker-bake.hcl');
    await writeFile(bake, (await readFile(bake, 'utf8')).replace(w.reqsUrl, 'file:///nonexistent/requirements.git'));
    const err: string[] = [];
    const errWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      process.exitCode = 0;
      await cli().parseAsync(['node', 'stratum', 'update', '--check', w.cat]);
    } finally {
      process.stderr.write = errWrite;
    }
    assert.equal(process.exitCode, EXIT_UNCHECKED);
    assert.match(err.join(''), /REQUIREMENTS_GIT_REF could not be checked: git ls-remote file:\/\/\/nonexistent/);
  } finally {
    process.stdout.write = origWrite;
    process.exitCode = prevExit;
    await w.t.cleanup();
  }
});
