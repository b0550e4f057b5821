import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeRef } from '../../../src/store/reference.js';
import { InputError } from '../../../src/util/errors.js';

const D = 'sha256:' + 'a'.repeat(64);

test('normalizeRef: valid references', () => {
  const cases: [string, Partial<ReturnType<typeof normalizeRef>>][] = [
    ['foo', { registry: undefined, repository: 'foo', tag: 'latest', full: 'localhost/foo:latest' }],
    ['foo:1.0', { repository: 'foo', tag: '1.0', full: 'localhost/foo:1.0' }],
    ['localhost/foo', { registry: 'localhost', repository: 'foo', tag: 'latest', full: 'localhost/foo:latest' }],
    ['library/debian:bookworm', { registry: undefined, repository: 'library/debian', tag: 'bookworm', full: 'localhost/library/debian:bookworm' }],
    ['example.com:5000/a/b:1.0', { registry: 'example.com:5000', repository: 'a/b', tag: '1.0', full: 'example.com:5000/a/b:1.0' }],
    ['localhost:5000/x', { registry: 'localhost:5000', repository: 'x', tag: 'latest', full: 'localhost:5000/x:latest' }],
    ['quay.io/openstack.kolla/nova-api:2024.1-ubuntu', { registry: 'quay.io', repository: 'openstack.kolla/nova-api', tag: '2024.1-ubuntu' }],
    [`foo@${D}`, { repository: 'foo', tag: undefined, digest: D, full: `localhost/foo@${D}` }],
    [`r.io/foo:t@${D}`, { registry: 'r.io', repository: 'foo', tag: 't', digest: D, full: `r.io/foo:t@${D}` }],
    ['a__b/c-d--e/f.g', { repository: 'a__b/c-d--e/f.g', tag: 'latest' }],
    ['127.0.0.1:5000/img', { registry: '127.0.0.1:5000', repository: 'img' }],
    ['[::1]:5000/img:v', { registry: '[::1]:5000', repository: 'img', tag: 'v' }],
    ['Registry/foo', { registry: 'Registry', repository: 'foo' }],
    ['foo:' + 'x'.repeat(128), { tag: 'x'.repeat(128) }],
  ];
  for (const [input, want] of cases) {
    const got = normalizeRef(input);
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual(got[k as keyof typeof got], v, `${input}: ${k}`);
    }
  }
});

test('normalizeRef: invalid references throw InputError', () => {
  const bad = [
    '',
    'Foo',
    'foo/Bar',
    'foo:',
    'foo:-tag',
    'foo:' + 'x'.repeat(129),
    'foo@sha256:abc',
    'foo@md5:' + 'a'.repeat(32),
    '/foo',
    'foo/',
    'foo//bar',
    'foo bar',
    'foo_-bar',
    '-foo',
    'foo.',
    'ex ample.com/foo',
    'example.com:port/foo',
    'a'.repeat(256),
  ];
  for (const input of bad) {
    assert.throws(() => normalizeRef(input), InputError, JSON.stringify(input));
  }
});

test('one parser, the defaults of each use: the local store and a registry read a name alike', async () => {
  const { parseReference } = await import('../../../src/registry/reference.js');
  const { parseImageName } = await import('../../../src/store/reference.js');
  for (const name of ['127.0.0.1:5000/a/b:1', `r.io/x@${D}`, 'Registry/foo', 'localhost/app:v']) {
    const local = normalizeRef(name);
    const remote = parseReference(name);
    assert.equal(remote.registry, local.registry, name);
    assert.equal(remote.repository, local.repository, name);
    assert.equal(remote.digest, local.digest, name);
  }
  // What differs is only the defaults: no host is the local store's own name, or docker.io with library/.
  assert.deepEqual(parseImageName('debian:12'), { repository: 'debian', tag: '12' });
  assert.deepEqual(parseReference('debian:12'), { registry: 'docker.io', repository: 'library/debian', tag: '12' });
  assert.equal(normalizeRef('debian').full, 'localhost/debian:latest');
  for (const bad of ['foo@md5:' + 'a'.repeat(32), 'x/y:bad tag', 'Foo']) {
    assert.throws(() => normalizeRef(bad), InputError);
    assert.throws(() => parseReference(bad), InputError);
  }
});
