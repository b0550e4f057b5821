import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReference, isLoopbackHost, normalizeRegistryHost, parseReference, registryEndpoint } from '../../../src/registry/index.js';
import { InputError } from '../../../src/util/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

test('references with a host, port, nested path, tag and digest', () => {
  assert.deepEqual(parseReference('localhost:5000/x/y:tag'), { registry: 'localhost:5000', repository: 'x/y', tag: 'tag' });
  assert.deepEqual(parseReference(`127.0.0.1:5000/a/b/c@${D}`), { registry: '127.0.0.1:5000', repository: 'a/b/c', digest: D });
  assert.deepEqual(parseReference(`registry.example.com/library/ubuntu:2024.1@${D}`), {
    registry: 'registry.example.com',
    repository: 'library/ubuntu',
    tag: '2024.1',
    digest: D,
  });
  assert.deepEqual(parseReference('localhost/app'), { registry: 'localhost', repository: 'app' });
});

test('docker.io defaults: no host means docker.io, single names get library/', () => {
  assert.deepEqual(parseReference('debian:bookworm'), { registry: 'docker.io', repository: 'library/debian', tag: 'bookworm' });
  assert.deepEqual(parseReference('user/app'), { registry: 'docker.io', repository: 'user/app' });
  assert.deepEqual(parseReference('index.docker.io/library/alpine:3'), { registry: 'docker.io', repository: 'library/alpine', tag: '3' });
  assert.equal(registryEndpoint('docker.io'), 'registry-1.docker.io');
  assert.equal(registryEndpoint('localhost:5000'), 'localhost:5000');
});

test('a port is not a tag', () => {
  assert.deepEqual(parseReference('host:5000/app'), { registry: 'host:5000', repository: 'app' });
});

test('invalid references are InputErrors naming the problem', () => {
  assert.throws(() => parseReference(''), InputError);
  assert.throws(() => parseReference('Host.com/UPPER:1'), /invalid repository name "UPPER"/);
  assert.throws(() => parseReference('x/y:bad tag'), /invalid tag/);
  assert.throws(() => parseReference('x/y@sha256:123'), /invalid digest/);
  assert.throws(() => parseReference(`x/y@sha256:${'g'.repeat(64)}`), /invalid sha256 digest/);
  assert.throws(() => parseReference('a..b/c'), InputError);
});

test('format round-trips and docker config keys normalise', () => {
  for (const s of ['localhost:5000/x/y:tag', `reg.io/a/b:1@${D}`, `reg.io/a@${D}`]) assert.equal(formatReference(parseReference(s)), s);
  assert.equal(normalizeRegistryHost('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeRegistryHost('http://Reg.Example.com:5000/'), 'reg.example.com:5000');
  assert.equal(normalizeRegistryHost('127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(isLoopbackHost('127.0.0.1:5000'), true);
  assert.equal(isLoopbackHost('localhost'), true);
  assert.equal(isLoopbackHost('[::1]:5000'), true);
  assert.equal(isLoopbackHost('reg.example.com'), false);
});
