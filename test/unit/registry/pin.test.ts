import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { imageReferenceIn, pinBake, pinDockerfile, pinFile, pinKind, pinYaml, type ImageReference } from '../../../src/registry/index.js';
import { SourceError } from '../../../src/util/errors.js';

const digestOf = (name: string) => `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)}`;
const resolver = (asked: string[]) => async (ref: ImageReference) => {
  asked.push(`${ref.registry}/${ref.repository}:${ref.tag}`);
  return digestOf(`${ref.repository}:${ref.tag}`);
};

test('which values are image references', () => {
  assert.ok(imageReferenceIn('reg.io/a/b:1', 'x'));
  assert.ok(imageReferenceIn('localhost:5000/a:1', undefined));
  assert.ok(imageReferenceIn('debian:bookworm', 'base_image'));
  assert.equal(imageReferenceIn('debian:bookworm', 'release'), undefined);
  assert.equal(imageReferenceIn('reg.io/a/b', 'image'), undefined); // no tag
  assert.equal(imageReferenceIn('{{ reg }}/a:1', 'image'), undefined);
  assert.equal(imageReferenceIn('${REG}/a:1', 'image'), undefined);
  assert.equal(imageReferenceIn('http://reg.io/a:1', 'image'), undefined);
  assert.equal(imageReferenceIn('1.2.3', 'image'), undefined);
});

test('pinYaml edits only the values: comments, quoting, flow maps, anchors, lists and documents stay', async () => {
  const old = `sha256:${'f'.repeat(64)}`;
  const text = [
    '---',
    '# header comment',
    'images:   # trailing comment',
    '  keystone: reg.io/os/keystone:2024.1    # aligned comment',
    `  nova: "reg.io/os/nova:2024.1@${old}"`,
    "  glance: 'reg.io/os/glance:2024.1'",
    '  flow: { a: reg.io/os/a:1, b: "not an image" }',
    '  anchored: &base reg.io/os/base:1',
    '  alias: *base',
    '  templ: "{{ registry }}/os/x:1"',
    'list:',
    '  - reg.io/os/a:1',
    '  - plain',
    'block: |',
    '  reg.io/os/inside-block:1',
    '---',
    'second: reg.io/os/b:2 # in doc 2',
    '',
  ].join('\n');
  const asked: string[] = [];
  const res = await pinYaml(text, 'vars.yml', resolver(asked));
  assert.equal(res.found, 7);
  assert.equal(res.changes.length, 7);
  const expected = text
    .replace('reg.io/os/keystone:2024.1 ', `reg.io/os/keystone:2024.1@${digestOf('os/keystone:2024.1')} `)
    .replace(`reg.io/os/nova:2024.1@${old}`, `reg.io/os/nova:2024.1@${digestOf('os/nova:2024.1')}`)
    .replace("'reg.io/os/glance:2024.1'", `'reg.io/os/glance:2024.1@${digestOf('os/glance:2024.1')}'`)
    .replace('a: reg.io/os/a:1,', `a: reg.io/os/a:1@${digestOf('os/a:1')},`)
    .replace('&base reg.io/os/base:1', `&base reg.io/os/base:1@${digestOf('os/base:1')}`)
    .replace('  - reg.io/os/a:1', `  - reg.io/os/a:1@${digestOf('os/a:1')}`)
    .replace('second: reg.io/os/b:2', `second: reg.io/os/b:2@${digestOf('os/b:2')}`);
  assert.equal(res.text, expected);
  const nova = res.changes.find((c) => c.key === 'images.nova')!;
  assert.equal(nova.line, 5);
  assert.equal(nova.from, `reg.io/os/nova:2024.1@${old}`);
  // Re-pinning the output changes nothing.
  const again = await pinYaml(res.text, 'vars.yml', resolver([]));
  assert.equal(again.changes.length, 0);
  assert.equal(again.text, res.text);
});

test('a YAML syntax error is a SourceError with file:line', async () => {
  await assert.rejects(pinYaml('a: b\n  c: [unclosed\n', 'bad.yml', resolver([])), (e: unknown) => {
    assert.ok(e instanceof SourceError);
    assert.match(e.message, /^bad\.yml:\d+:\d+: /);
    return true;
  });
});

test('pinFile writes in place keeping the mode; --check leaves the file alone; a failed lookup changes nothing', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stratum-pin-'));
  try {
    const file = path.join(dir, 'vars.yml');
    const text = '# c\nimage: reg.io/a/b:1\n';
    await fs.writeFile(file, text, { mode: 0o640 });
    const check = await pinFile(file, resolver([]), { check: true });
    assert.equal(check.changes.length, 1);
    assert.equal(await fs.readFile(file, 'utf8'), text);
    await assert.rejects(pinFile(file, async () => Promise.reject(new Error('registry down'))), /registry down/);
    assert.equal(await fs.readFile(file, 'utf8'), text);
    await pinFile(file, resolver([]));
    assert.equal(await fs.readFile(file, 'utf8'), `# c\nimage: reg.io/a/b:1@${digestOf('a/b:1')}\n`);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o640);
    assert.deepEqual(await fs.readdir(dir), ['vars.yml']);
    await assert.rejects(pinFile(path.join(dir, 'missing.yml'), resolver([])), /missing\.yml: no such file/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('pinDockerfile pins literal FROMs and the ARG defaults FROM uses, not stages, scratch or templated names', async () => {
  const old = `sha256:${'e'.repeat(64)}`;
  const text = [
    '# SPDX-License-Identifier: Apache-2.0',
    'ARG BASE_IMAGE=docker.io/library/ubuntu:24.04',
    'ARG REGISTRY=registry.example.org/os',
    'ARG RELEASE=2025.2',
    'ARG TOOLS="reg.io/tools/x:1"',
    'FROM ${BASE_IMAGE} AS base',
    'FROM --platform=$BUILDPLATFORM reg.io/os/builder:1 AS build',
    `FROM reg.io/os/pinned:2@${old}`,
    'FROM ${REGISTRY}/python-base:${RELEASE}',
    'FROM base',
    'FROM scratch',
    'FROM ${TOOLS}',
    'COPY --from=reg.io/os/untouched:1 /a /a',
    '',
  ].join('\n');
  const asked: string[] = [];
  const res = await pinDockerfile(text, 'Dockerfile', resolver(asked));
  assert.equal(res.found, 4);
  assert.deepEqual(res.changes.map((c) => [c.line, c.key]), [[2, 'ARG BASE_IMAGE'], [5, 'ARG TOOLS'], [7, 'FROM'], [8, 'FROM']]);
  const expected = text
    .replace('ubuntu:24.04\n', `ubuntu:24.04@${digestOf('library/ubuntu:24.04')}\n`)
    .replace('"reg.io/tools/x:1"', `"reg.io/tools/x:1@${digestOf('tools/x:1')}"`)
    .replace('reg.io/os/builder:1 AS', `reg.io/os/builder:1@${digestOf('os/builder:1')} AS`)
    .replace(`reg.io/os/pinned:2@${old}`, `reg.io/os/pinned:2@${digestOf('os/pinned:2')}`);
  assert.equal(res.text, expected);
  // Pinned again with the same digests: nothing to change.
  assert.deepEqual((await pinDockerfile(res.text, 'Dockerfile', resolver([]))).changes, []);
});

test('pinBake pins image variable defaults, keeping comments and the rest of the file', async () => {
  const text = [
    '# The distribution images',
    'variable "UBUNTU_IMAGE" {',
    '  default = "docker.io/library/ubuntu:24.04" # pinned by stratum pin',
    '}',
    'variable "RELEASE" { default = "2025.2" }',
    'variable "REGISTRY" {',
    '  default = "registry.example.org/os"',
    '}',
    'variable "BASE_IMAGE" {',
    '  default = ""',
    '}',
    'variable "MIRROR" {',
    '  default = "reg.io/mirror/debian:12"',
    '}',
    'target "x" {',
    '  args = { IMAGE = "reg.io/not/a-variable:1" }',
    '}',
    '',
  ].join('\n');
  const res = await pinBake(text, 'docker-bake.hcl', resolver([]));
  assert.deepEqual(res.changes.map((c) => [c.line, c.key]), [[3, 'variable UBUNTU_IMAGE'], [13, 'variable MIRROR']]);
  assert.equal(
    res.text,
    text
      .replace('ubuntu:24.04" #', `ubuntu:24.04@${digestOf('library/ubuntu:24.04')}" #`)
      .replace('reg.io/mirror/debian:12"', `reg.io/mirror/debian:12@${digestOf('mirror/debian:12')}"`),
  );
});

test('pinFile tells Dockerfiles, bake files and YAML apart by name', async () => {
  assert.equal(pinKind('images/nova/Dockerfile'), 'dockerfile');
  assert.equal(pinKind('x/Dockerfile.single'), 'dockerfile');
  assert.equal(pinKind('x/app.Dockerfile'), 'dockerfile');
  assert.equal(pinKind('images/docker-bake.hcl'), 'bake');
  assert.equal(pinKind('vars.yml'), 'yaml');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stratum-pin-kinds-'));
  try {
    const df = path.join(dir, 'Dockerfile');
    await fs.writeFile(df, 'FROM reg.io/os/base:1\n');
    const res = await pinFile(df, resolver([]));
    assert.equal(await fs.readFile(df, 'utf8'), `FROM reg.io/os/base:1@${digestOf('os/base:1')}\n`);
    assert.equal(res.changes.length, 1);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
