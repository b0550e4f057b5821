import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvFields, keyValues, parseBuildContext, parseContextSource, parseOutput, parsePlatforms, parseSecret, parseSourceDateEpoch } from '../../../src/solver/request.js';
import { toBuildOptions } from '../../../src/cli/commands/build.js';

describe('build request parser', () => {
  it('reads every output type, and what an output adds to the request', () => {
    assert.deepEqual(parseOutput('out'), { output: { type: 'local', dest: 'out' }, tags: [], push: false });
    assert.deepEqual(parseOutput('type=oci,dest=o,tar=true').output, { type: 'oci', dest: 'o', tar: true });
    assert.deepEqual(parseOutput('type=oci,dest=o').output, { type: 'oci', dest: 'o', tar: true }, 'a tar unless tar=false, as buildx');
    assert.deepEqual(parseOutput('type=oci,dest=o,tar=false').output, { type: 'oci', dest: 'o', tar: false });
    assert.deepEqual(parseOutput('type=docker'), { tags: [], push: false }, 'docker without dest: the local store has it');
    assert.deepEqual(parseOutput('type=docker,dest=x.tar,name=a:1').output, { type: 'docker', dest: 'x.tar' });
    assert.deepEqual(parseOutput('type=tar,dest=r.tar').output, { type: 'tar', dest: 'r.tar' });
    assert.deepEqual(parseOutput('type=registry,name=reg:5000/a:1'), { tags: ['reg:5000/a:1'], push: true });
    assert.deepEqual(parseOutput('type=image,name=x:1,push=true'), { tags: ['x:1'], push: true });
    assert.deepEqual(parseOutput('type=image'), { tags: [], push: false });
  });

  it('refuses what the engine would not honour, naming it', () => {
    assert.throws(() => parseOutput('type=image,compression=zstd'), /"compression" is not supported for type=image/);
    assert.throws(() => parseOutput('type=cacheonly'), /type must be one of/);
    assert.throws(() => parseOutput('type=oci'), /dest=\.\.\. is required/);
    assert.throws(() => parseOutput('type=oci,dest=o,tar=maybe'), /expected true or false/);
    assert.throws(() => parseSecret('id=a,env=HOME'), /"env" is not supported/);
    assert.throws(() => parseContextSource('https://example.com/x.git', 'ctx'), /unsupported source/);
    assert.throws(() => parsePlatforms('linux/amd64,linux/arm64'), /one platform per build/);
    assert.throws(() => parseSourceDateEpoch('yesterday'), /must be a number of seconds/);
  });

  it('reads named contexts, including a layout named by digest', () => {
    const digest = 'sha256:' + 'a'.repeat(64);
    assert.deepEqual(parseContextSource(`oci-layout:///l@${digest}`, 'c'), { kind: 'oci-layout', path: '/l', ref: digest });
    assert.deepEqual(parseContextSource('oci-layout://rel/dir:v1', 'c'), { kind: 'oci-layout', path: 'rel/dir', ref: 'v1' });
    assert.deepEqual(parseContextSource('oci-layout:///a:b/dir', 'c'), { kind: 'oci-layout', path: '/a:b/dir' });
    assert.deepEqual(parseContextSource('docker-image://alpine:3', 'c'), { kind: 'docker-image', ref: 'alpine:3' });
    assert.deepEqual(parseBuildContext('x=./dir'), ['x', { kind: 'local', path: './dir' }]);
  });

  it('reads the small things the same everywhere', () => {
    assert.equal(parseSourceDateEpoch(undefined), undefined);
    assert.equal(parseSourceDateEpoch(''), undefined);
    assert.equal(parseSourceDateEpoch('1700000000'), 1700000000);
    assert.deepEqual(parsePlatforms('Linux/ARM64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(parseSecret('id=a,src=/f'), ['a', '/f']);
    assert.deepEqual(csvFields('a=1, b ,c=x=y'), { a: '1', b: 'true', c: 'x=y' });
    assert.deepEqual(keyValues(['A=1', 'HOME', 'NOPE'], '--build-arg', { HOME: '/root' }), { A: '1', HOME: '/root' });
  });

  it('the CLI front door builds its request with these rules', () => {
    const base = { progress: 'plain' as const, cache: true, compression: 'gzip', pull: 'missing' };
    const prev = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = '42';
    try {
      const o = toBuildOptions('.', { ...base, tag: ['a:1'], output: ['type=registry,name=b:2', 'type=tar,dest=t.tar'], secret: ['id=s,src=/x'], platform: 'linux/amd64' }, undefined);
      assert.deepEqual(o.tags, ['a:1', 'b:2']);
      assert.equal(o.push, true);
      assert.deepEqual(o.outputs, [{ type: 'tar', dest: 't.tar' }]);
      assert.deepEqual(o.secrets, { s: '/x' });
      assert.equal(o.sourceDateEpoch, 42);
      process.env.SOURCE_DATE_EPOCH = 'x';
      assert.throws(() => toBuildOptions('.', base, undefined), /SOURCE_DATE_EPOCH must be a number/);
    } finally {
      if (prev === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = prev;
    }
  });
});
