import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvFields, csvSplit, keyValues, parseAddHost, parseAnnotation, parseBuildContext, parseContextSource, parseEntitlement, parseOutput, parsePlatforms, parseSecret, parseSourceDateEpoch, parseSsh, secretSource } from '../../../src/solver/request.js';
import { isIP } from 'node:net';
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
    assert.throws(() => parseSecret('id=a,uid=1'), /"uid" is not supported/);
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
    assert.deepEqual(parseSecret('id=a,src=/f'), { id: 'a', src: '/f' });
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
  it('reads buildx flags as buildx does: quoted names, -o -, secrets, ssh, hosts, annotations, --allow, --pull', () => {
    assert.deepEqual(csvSplit('type=image,"name=a:1,b:1",push=true'), ['type=image', 'name=a:1,b:1', 'push=true']);
    assert.deepEqual(csvSplit('name="a:1,b:1",x="a""b"'), ['name=a:1,b:1', 'x=a"b']);
    assert.throws(() => csvSplit('name="a'), /unterminated quote/);
    assert.deepEqual(parseOutput('type=registry,"name=r:5000/a:1,r:5000/b:1"'), { tags: ['r:5000/a:1', 'r:5000/b:1'], push: true });
    assert.deepEqual(parseOutput('-').output, { type: 'tar', dest: '-' });
    assert.deepEqual(parseOutput('type=oci,dest=-').output, { type: 'oci', dest: '-', tar: true });
    assert.throws(() => parseOutput('type=local,dest=-'), /cannot go to stdout/);

    assert.deepEqual(parseSecret('env=TOKEN'), { id: 'TOKEN', env: 'TOKEN' });
    assert.deepEqual(parseSecret('id=t,type=env,src=TOKEN'), { id: 't', env: 'TOKEN' });
    assert.throws(() => parseSecret('id=t,src=f,env=V'), /not both/);
    assert.throws(() => parseSecret('type=ssh,id=x'), /type must be file or env/);
    const env = { TOKEN: 'sekrit' };
    assert.deepEqual(secretSource({ id: 'TOKEN' }, env), { value: 'sekrit' }, 'id alone: the variable when set');
    assert.deepEqual(secretSource({ id: 'f.txt' }, env), { file: 'f.txt' }, 'id alone: else the file');
    assert.equal(secretSource({ id: 'x', env: 'UNSET' }, env), undefined);

    assert.deepEqual(parseSsh('default', { SSH_AUTH_SOCK: '/a.sock' }), ['default', '/a.sock']);
    assert.deepEqual(parseSsh('gh=/b.sock', {}), ['gh', '/b.sock']);
    assert.throws(() => parseSsh('default', {}), /SSH_AUTH_SOCK is not set/);
    assert.throws(() => parseSsh('k=/a,/b', {}), /one agent socket per id/);

    const ip = (s: string) => isIP(s) !== 0;
    assert.deepEqual(parseAddHost('db:10.0.0.2', ip), { host: 'db', ip: '10.0.0.2' });
    assert.deepEqual(parseAddHost('v6:::1', ip), { host: 'v6', ip: '::1' });
    assert.deepEqual(parseAddHost('v6=fe80::1', ip), { host: 'v6', ip: 'fe80::1' });
    assert.throws(() => parseAddHost('db:nope', ip), /is not an IP address/);
    assert.throws(() => parseAddHost('db:host-gateway', ip), /host-gateway is not supported/);

    assert.deepEqual(parseAnnotation('org.opencontainers.image.title=x'), ['org.opencontainers.image.title', 'x']);
    assert.deepEqual(parseAnnotation('manifest:a=b=c'), ['a', 'b=c']);
    assert.throws(() => parseAnnotation('index:a=b'), /only manifest annotations/);
    assert.throws(() => parseAnnotation('manifest-descriptor:a=b'), /only manifest annotations/);
    assert.equal(parseEntitlement('network.host'), 'network.host');
    assert.throws(() => parseEntitlement('device'), /expected one of network.host, security.insecure/);

    const base = { progress: 'plain' as const, cache: true, compression: 'gzip' };
    assert.equal(toBuildOptions('.', base, undefined).pull, true);
    assert.equal(toBuildOptions('.', { ...base, pull: true }, undefined).pull, 'always');
    assert.equal(toBuildOptions('.', { ...base, pull: 'never' }, undefined).pull, false);
    assert.throws(() => toBuildOptions('.', { ...base, pull: 'sometimes' }, undefined), /--pull=sometimes: expected/);
    const o = toBuildOptions('.', { ...base, allow: ['security.insecure'], addHost: ['a:1.2.3.4'], annotation: ['k=v'] }, undefined);
    assert.deepEqual(o.entitlements, ['security.insecure']);
    assert.deepEqual(o.extraHosts, [{ host: 'a', ip: '1.2.3.4' }]);
    assert.deepEqual(o.annotations, { k: 'v' });
  });

  it('--no-cache-filter reaches the request (commander would read it as the negation of --cache-filter)', async () => {
    const { Command } = await import('commander');
    const { register } = await import('../../../src/cli/commands/build.js');
    const program = new Command();
    register(program);
    let seen: unknown;
    program.commands[0]!.action((ctx: string, f: Parameters<typeof toBuildOptions>[1]) => {
      seen = toBuildOptions(ctx, f, undefined).noCacheFilter;
    });
    await program.parseAsync(['node', 'stratum', 'build', '--no-cache-filter', 'a', '--no-cache-filter', 'b', '.']);
    assert.deepEqual(seen, ['a', 'b']);
    await program.parseAsync(['node', 'stratum', 'build', '.']);
    assert.equal(seen, undefined);
  });
});
