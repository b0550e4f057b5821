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
  // Inner-shell variables and a command substitution; build args, ENV, $HOME, \$, quoted
  // delimiters and a heredoc that is the whole command are fine.
  'bad-heredoc-expansion': ['10:heredoc-expansion', '11:heredoc-expansion', '11:heredoc-expansion'],
  'bad-final-from-builder': ['9:final-from-builder'],
  // A one-package ARG is read through its default; a list ARG and $(...) are not.
  'bad-apt-install-variable': ['9:apt-install-variable', '12:apt-install-variable'],
  'bad-pip-unpinned': ['8:pip-unpinned', '9:pip-unpinned', '10:pip-unpinned'],
  'bad-add-checksum': ['6:add-checksum'],
  // No tag, a codename tag, an ARG without default; a bake *_IMAGE variable on latest.
  'bad-floating-base': ['7:floating-base', '8:floating-base', '9:floating-base', '2:floating-base'],
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

test('findings of the new rules say what to do', async () => {
  const [h] = await lintPath(join(fixtures, 'bad-heredoc-expansion'));
  assert.match(h!.message, /\$\{VERSION_CODENAME\} is expanded by the shell that starts the script.*quote the delimiter \(<<'EOF'\)/);
  const [f] = await lintPath(join(fixtures, 'bad-final-from-builder'));
  assert.match(f!.message, /built on registry\.example\.org\/library\/openstack-venv-builder:2025\.2, a build environment/);
  const [a] = await lintPath(join(fixtures, 'bad-add-checksum'));
  assert.match(a!.message, /tool-1\.4\.0\.tar\.gz without --checksum/);
});

test('a final stage on a stage named build, or on a stage built from a builder, is caught through the chain', async () => {
  const head = ['# SPDX-License-Identifier: Apache-2.0', '# Stratum-Rebuild-Time: 2024-01-01T00:00:00Z'];
  const viaStage = [...head, 'FROM registry.example.org/x/builder:1 AS tools', 'FROM tools AS mid', 'FROM mid', ''].join('\n');
  assert.deepEqual((await lintDockerfile('D', viaStage)).map((x) => `${x.line}:${x.rule}`), ['5:final-from-builder']);
  const named = [...head, 'FROM registry.example.org/x/base:1 AS build', 'FROM build', ''].join('\n');
  assert.deepEqual((await lintDockerfile('D', named)).map((x) => `${x.line}:${x.rule}`), ['4:final-from-builder']);
  const runtime = [...head, 'FROM registry.example.org/x/builder:1 AS build', 'FROM registry.example.org/x/python-runtime:1', 'COPY --from=build /a /a', ''].join('\n');
  assert.deepEqual(await lintDockerfile('D', runtime), []);
});

test('pip-unpinned checks --constraint installs against the constraints lint is given', async () => {
  const pinned = new Set(['pymysql', 'oslo-config']);
  const found = await lintPath(join(fixtures, 'bad-pip-unpinned'), { constraints: pinned });
  assert.deepEqual(found.map((x) => `${x.line}:${x.message}`).filter((m) => m.startsWith('6:')), ['6:pip installs keystone-keycloak-backend, which the constraints do not pin: pin it (keystone-keycloak-backend==<version>)']);
  // ENV PIP_CONSTRAINT constrains every pip run of the stage.
  const env = ['# SPDX-License-Identifier: Apache-2.0', '# Stratum-Rebuild-Time: 2024-01-01T00:00:00Z', 'FROM registry.example.org/x/base:1', 'ENV PIP_CONSTRAINT=/upper-constraints.txt', 'RUN pip install pymysql', ''].join('\n');
  assert.deepEqual(await lintDockerfile('D', env), []);
});

test('missing Rebuild-Time, lint-disable directives, and image existence', async () => {
  const base = ['# SPDX-License-Identifier: Apache-2.0', '# stratum: lint-disable=no-build-tools', 'FROM debian:12', 'RUN apt-get update && apt-get install -y --no-install-recommends gcc && rm -rf /var/lib/apt/lists/*', ''];
  assert.deepEqual((await lintDockerfile('D', base.join('\n'))).map((f) => `${f.line}:${f.rule}`), ['1:rebuild-time']);
  const perIns = [
    '# SPDX-License-Identifier: Apache-2.0',
    '# Stratum-Rebuild-Time: 2024-01-01T00:00:00Z',
    'FROM debian:12',
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
  for (const p of ['gcc', 'g++', 'gcc-12', 'gcc-12-aarch64-linux-gnu', 'build-essential', 'clang-14', 'make', 'libssl-dev', 'python3-dev', 'git', 'git-core', 'golang-go', 'golang-1.21-go', 'cmake', 'ninja-build', 'binutils', 'gcc-multilib', 'dpkg-dev', 'cargo']) assert.ok(isBuildTool(p), p);
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
