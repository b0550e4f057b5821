import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceError } from '../../../src/util/errors.js';
import { applyChmod, parseChmod, parseChown, parseMount } from '../../../src/frontend/index.js';

const at = { file: 'Dockerfile', line: 7 };

test('cache mount defaults: id = target, shared, 0755, writable', () => {
  assert.deepEqual(parseMount('type=cache,target=/root/.cache/pip', at), {
    type: 'cache', target: '/root/.cache/pip', readonly: false, id: '/root/.cache/pip', sharing: 'shared', mode: 0o755, uid: 0, gid: 0,
  });
  const m = parseMount('type=cache,mode=0700,target=/c,sharing=locked,id=pip,uid=1000,gid=100,from=base,source=/x,ro', at);
  assert.deepEqual([m.id, m.sharing, m.mode, m.uid, m.gid, m.from, m.source, m.readonly], ['pip', 'locked', 0o700, 1000, 100, 'base', '/x', true]);
});

test('bind mounts are read-only unless rw; type defaults to bind; dst/destination aliases', () => {
  assert.deepEqual(parseMount('target=/src', at), { type: 'bind', target: '/src', readonly: true });
  assert.equal(parseMount('type=bind,dst=/s,rw', at).readonly, false);
  assert.equal(parseMount('type=bind,destination=/s,readwrite=true,from=build,source=/out', at).from, 'build');
});

test('secret, ssh and tmpfs defaults', () => {
  assert.deepEqual(parseMount('type=secret,id=aws', at), { type: 'secret', target: '/run/secrets/aws', readonly: true, id: 'aws', mode: 0o400, uid: 0, gid: 0, required: false });
  assert.equal(parseMount('type=secret,target=/etc/creds/token', at).id, 'token');
  const env = parseMount('type=secret,id=tok,env=TOKEN,required', at);
  assert.deepEqual([env.target, env.env, env.required], ['', 'TOKEN', true]);
  assert.deepEqual(parseMount('type=ssh', at, 2), { type: 'ssh', target: '/run/buildkit/ssh_agent.2', readonly: true, id: 'default', mode: 0o600, uid: 0, gid: 0, required: false });
  assert.equal(parseMount('type=tmpfs,target=/tmp,size=64m', at).size, 64 * 1024 * 1024);
});

test('invalid mounts are SourceErrors at the given line', () => {
  for (const [v, re] of [
    ['type=nfs,target=/x', /unsupported mount type/],
    ['type=cache', /target is required/],
    ['type=cache,target=/x,sharing=maybe', /unsupported sharing value/],
    ['type=cache,target=/x,mode=999', /octal/],
    ['type=cache,target=/x,uid=-1', /non-negative integer/],
    ['type=bind,target=/x,bogus=1', /unexpected key "bogus"/],
    ['type=bind,target=/x,flag', /must be a key=value pair/],
    ['type=secret', /one of id or target/],
    ['type=bind,target=/x,mode=0755', /mode is not allowed for bind/],
    ['type=bind,target=/x,ro=perhaps', /expected true or false/],
  ] as const) {
    assert.throws(() => parseMount(v, at), (e: unknown) => e instanceof SourceError && e.line === 7 && re.test(e.message), v);
  }
});

test('quoted CSV fields', () => {
  assert.equal(parseMount('type=bind,"target=/a,b",source=x', at).target, '/a,b');
});

test('chmod: octal and symbolic', () => {
  assert.deepEqual(parseChmod('755'), { kind: 'octal', mode: 0o755 });
  assert.deepEqual(parseChmod('0644'), { kind: 'octal', mode: 0o644 });
  assert.equal(applyChmod(parseChmod('+x'), 0o644, false), 0o755);
  assert.equal(applyChmod(parseChmod('u=rwX,go=rX'), 0o600, false), 0o644);
  assert.equal(applyChmod(parseChmod('u=rwX,go=rX'), 0o700, false), 0o755);
  assert.equal(applyChmod(parseChmod('u=rwX,go=rX'), 0o700, true), 0o755);
  assert.equal(applyChmod(parseChmod('g=u'), 0o640, false), 0o660);
  assert.equal(applyChmod(parseChmod('o-rwx,u+s'), 0o755, false), 0o4750);
  assert.throws(() => parseChmod('rwx'), /expected octal/);
  assert.throws(() => parseChmod('9'), /expected octal/);
});

test('chown: names and ids', () => {
  assert.deepEqual(parseChown('55:mygroup'), { user: '55', uid: 55, group: 'mygroup' });
  assert.deepEqual(parseChown('bin'), { user: 'bin' });
  assert.deepEqual(parseChown('10:11'), { user: '10', uid: 10, group: '11', gid: 11 });
  assert.throws(() => parseChown('a:b:c'), /user\[:group\]/);
  assert.throws(() => parseChown(':g'), /user\[:group\]/);
});
