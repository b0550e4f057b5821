import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { credentialsFor, parseWWWAuthenticate, readDockerConfig, removeCredentials, saveCredentials } from '../../../src/registry/index.js';

test('WWW-Authenticate: bearer with quoted params, commas inside quotes, several challenges', () => {
  assert.deepEqual(parseWWWAuthenticate('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"'), [
    { scheme: 'Bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' } },
  ]);
  assert.deepEqual(parseWWWAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'Basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseWWWAuthenticate('basic realm=x, Bearer realm="r", error="invalid_token"'), [
    { scheme: 'Basic', params: { realm: 'x' } },
    { scheme: 'Bearer', params: { realm: 'r', error: 'invalid_token' } },
  ]);
  assert.deepEqual(parseWWWAuthenticate('Bearer realm="a\\"b"'), [{ scheme: 'Bearer', params: { realm: 'a"b' } }]);
  assert.deepEqual(parseWWWAuthenticate(''), []);
});

test('docker config: base64 auth and username/password entries, keys in any of docker\'s spellings', () => {
  const cfg = {
    auths: {
      'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw:with:colons').toString('base64') },
      'reg.example.com:5000': { username: 'u', password: 'p' },
      'https://other.example.com': { auth: Buffer.from('o:q').toString('base64') },
    },
  };
  assert.deepEqual(credentialsFor(cfg, 'docker.io'), { username: 'hub', password: 'pw:with:colons' });
  assert.deepEqual(credentialsFor(cfg, 'reg.example.com:5000'), { username: 'u', password: 'p' });
  assert.deepEqual(credentialsFor(cfg, 'other.example.com'), { username: 'o', password: 'q' });
  assert.equal(credentialsFor(cfg, 'reg.example.com'), undefined);
});

test('saveCredentials writes 0600 atomically, keeps other keys, replaces an entry; removeCredentials', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stratum-auth-'));
  try {
    const file = path.join(dir, 'docker', 'config.json');
    await fs.mkdir(path.dirname(file));
    await fs.writeFile(file, JSON.stringify({ credHelpers: { 'x.io': 'pass' }, auths: { 'https://reg.io': { auth: 'b2xkOm9sZA==' } } }));
    await saveCredentials('reg.io', { username: 'new', password: 's' }, file);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    const cfg = await readDockerConfig(file);
    assert.deepEqual(cfg.credHelpers, { 'x.io': 'pass' });
    assert.deepEqual(Object.keys(cfg.auths ?? {}), ['reg.io']);
    assert.deepEqual(credentialsFor(cfg, 'reg.io'), { username: 'new', password: 's' });
    assert.deepEqual((await fs.readdir(path.dirname(file))).sort(), ['config.json']);
    assert.equal(await removeCredentials('reg.io', file), true);
    assert.equal(await removeCredentials('reg.io', file), false);
    assert.deepEqual((await readDockerConfig(file)).auths, {});
    assert.deepEqual(await readDockerConfig(path.join(dir, 'missing.json')), {});
    await fs.writeFile(file, '{not json');
    await assert.rejects(readDockerConfig(file), /config\.json: invalid JSON/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
