import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { formatFinding, lintDockerfile, lintPath, LINT_RULES, isBuildTool } from '../../../src/catalog/index.js';
import { register } from '../../../src/cli/commands/lint.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures', 'lint');
const repoRoot = join(here, '..', '..', '..');

const summary = async (dir: string) => (await lintPath(join(fixtures, dir))).map((f) => `${f.line}:${f.rule}`);

test('the good fixture passes every rule (bake contexts, stage index, cache-mounted apt lists)', async () => {
  assert.deepEqual(await lintPath(join(fixtures, 'good')), []);
});

const expected: Record<string, string[]> = {
  'bad-pinned-ref': ['8:pinned-ref', '9:pinned-ref', '25:pinned-ref'],
  'bad-ref-annotation': ['7:ref-annotation'],
  'bad-apt-no-recommends': ['22:apt-no-recommends'],
  'bad-apt-lists-cleaned': ['14:apt-lists-cleaned'],
  'bad-no-build-tools': ['16:no-build-tools'],
  'bad-copy-from': ['10:copy-from', '24:copy-from'],
  'bad-rebuild-time': ['2:rebuild-time'],
  'bad-spdx-header': ['1:spdx-header'],
};

for (const [dir, want] of Object.entries(expected)) {
  test(`${dir} fails with exactly its rule`, async () => {
    assert.deepEqual(await summary(dir), want);
  });
}

test('every rule has a failing fixture', () => {
  const covered = new Set(Object.values(expected).flat().map((s) => s.split(':')[1]));
  assert.deepEqual([...covered].sort(), Object.keys(LINT_RULES).sort());
});

test('findings say what is wrong, in file:line: rule: message form', async () => {
  const [nbt] = await lintPath(join(fixtures, 'bad-no-build-tools'));
  assert.equal(formatFinding(nbt!), `${join(fixtures, 'bad-no-build-tools', 'Dockerfile')}:16: no-build-tools: final stage installs build tools: gcc libssl-dev git`);
  const cf = await lintPath(join(fixtures, 'bad-copy-from'));
  assert.match(cf[0]!.message, /"wheelz" is neither an earlier stage, a bake context, nor an image/);
  assert.match(cf[1]!.message, /stage index 3 is not an earlier stage/);
});

test('missing Rebuild-Time, lint-disable directives, and image existence', async () => {
  const base = ['# SPDX-License-Identifier: Apache-2.0', '# stratum: lint-disable=no-build-tools', 'FROM debian', 'RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*', ''];
  assert.deepEqual((await lintDockerfile('D', base.join('\n'))).map((f) => `${f.line}:${f.rule}`), ['1:rebuild-time']);
  const perIns = [
    '# SPDX-License-Identifier: Apache-2.0',
    '# Stratum-Rebuild-Time: 2024-01-01T00:00:00Z',
    'FROM debian',
    '# stratum: lint-disable=apt-no-recommends',
    'RUN apt-get update && apt-get install -y make && rm -rf /var/lib/apt/lists/*',
    'COPY --from=registry.example.org/tools:1 /bin/x /bin/x',
    '',
  ].join('\n');
  assert.deepEqual((await lintDockerfile('D', perIns)).map((f) => `${f.line}:${f.rule}`), ['5:no-build-tools']);
  const missing = await lintDockerfile('D', perIns, { imageExists: async (ref) => ref !== 'registry.example.org/tools:1' });
  assert.deepEqual(missing.map((f) => `${f.line}:${f.rule}:${f.message}`), ['5:no-build-tools:final stage installs build tools: make', '6:copy-from:image "registry.example.org/tools:1" does not exist']);
});

test('build tool classification', () => {
  for (const p of ['gcc', 'g++', 'gcc-12', 'gcc-12-aarch64-linux-gnu', 'build-essential', 'clang-14', 'make', 'libssl-dev', 'python3-dev', 'git']) assert.ok(isBuildTool(p), p);
  for (const p of ['gcc-12-base', 'cpp-12-doc', 'libssl3', 'git-man-not', 'ceph-common', 'python3', 'makedumpfile', 'libdevmapper1.02.1', 'gettext-base']) assert.ok(!isBuildTool(p), p);
});

test('stratum lint CLI exits 1 on findings and 0 when clean', async () => {
  const out: string[] = [];
  const w = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  const prev = process.exitCode;
  try {
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    const cli = () => {
      const p = new Command().exitOverride();
      register(p);
      return p;
    };
    process.exitCode = 0;
    await cli().parseAsync(['node', 'stratum', 'lint', join(fixtures, 'good')]);
    assert.equal(process.exitCode, 0);
    await cli().parseAsync(['node', 'stratum', 'lint', join(fixtures, 'bad-spdx-header')]);
    assert.equal(process.exitCode, 1);
    // The test runner shares stdout, so look for our lines within it.
    const text = out.join('');
    const line = `${join(fixtures, 'bad-spdx-header', 'Dockerfile')}:1: spdx-header: the file does not start with "# SPDX-License-Identifier: <license>"\n`;
    assert.ok(text.includes(line), text);
    assert.equal(text.split(fixtures).length - 1, 1, 'exactly one finding printed');
  } finally {
    process.stdout.write = w;
    process.stderr.write = e;
    process.exitCode = prev;
  }
});

for (const cat of ['images', 'examples/offline']) {
  test(`the shipped catalog ${cat}/ lints clean`, { skip: !existsSync(join(repoRoot, cat)) }, async () => {
    const findings = await lintPath(join(repoRoot, cat));
    assert.deepEqual(findings.map(formatFinding), []);
    // And it is not vacuous: every Dockerfile there was read.
    assert.ok((await readFile(join(repoRoot, cat, 'docker-bake.hcl'), 'utf8')).includes('target'));
  });
}
