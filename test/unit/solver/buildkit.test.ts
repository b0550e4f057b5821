import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { buildkitEngine } from '../../../src/solver/buildkit.js';
import { parseBuilder, pickNode } from '../../../src/solver/buildkit-nodes.js';
import { RawJsonProgress } from '../../../src/solver/buildkit-progress.js';
import type { ProgressEvent } from '../../../src/solver/types.js';
import { InputError } from '../../../src/util/errors.js';

describe('--builder buildkit://', () => {
  it('parses unix and tcp nodes, and a platform tie', () => {
    const nodes = parseBuilder('buildkit://unix:///run/a.sock,buildkit://tcp://10.0.0.2:1234?platform=linux/arm64');
    assert.equal(nodes.length, 2);
    assert.equal(nodes[0]!.addr, 'unix:///run/a.sock');
    assert.equal(nodes[0]!.platform, undefined);
    assert.equal(nodes[1]!.addr, 'tcp://10.0.0.2:1234');
    assert.deepEqual(nodes[1]!.platform, { os: 'linux', architecture: 'arm64' });
  });

  it('refuses what it cannot read', () => {
    for (const bad of ['', 'unix:///x', 'buildkit://', 'buildkit://http://h:1', 'buildkit://tcp://h', 'buildkit://unix:///a,,buildkit://unix:///b', 'buildkit://unix:///a?arch=x', 'buildkit://unix:///a,buildkit://unix:///a']) {
      assert.throws(() => parseBuilder(bad), InputError, bad);
    }
  });

  it('picks the least busy node, spreads idle ones, and keeps tied nodes to their platform', () => {
    const nodes = parseBuilder('buildkit://unix:///a,buildkit://unix:///b,buildkit://unix:///arm?platform=linux/arm64');
    const [a, b, arm] = nodes;
    assert.equal(pickNode(nodes, undefined), a);
    a!.given++;
    assert.equal(pickNode(nodes, undefined), b, 'idle nodes take turns');
    a!.busy = 1;
    b!.busy = 2;
    assert.equal(pickNode(nodes, undefined), a, 'least busy');
    assert.equal(pickNode(nodes, { os: 'linux', architecture: 'arm64' }), arm);
    assert.equal(pickNode(nodes, { os: 'linux', architecture: 'amd64' }), a, 'an untied node for other platforms');
    assert.throws(() => pickNode([arm!], { os: 'linux', architecture: 's390x' }), /no BuildKit node can build for linux\/s390x/);
  });

  it('refuses a request it cannot carry, naming the field', async () => {
    const engine = buildkitEngine({ builder: 'buildkit://unix:///nowhere.sock', buildctl: '/bin/false' });
    await assert.rejects(engine.build({ context: os.tmpdir(), outputs: [{ type: 'local', dest: '/tmp/x' }] }), /output type=local is not supported with --builder/);
    await assert.rejects(engine.build({ context: os.tmpdir(), afterExport: [{ name: 'verify', run: async () => {} }] }), /--verify is not supported/);
    await assert.rejects(engine.build({ context: os.tmpdir(), contexts: { b: { kind: 'oci-layout', path: '/x' } } }), /context b=oci-layout:\/\/ is not supported/);
    await assert.rejects(engine.build({ context: os.tmpdir(), tags: ['localhost/bake/x:run'] }), /--builder-registry/);
    await assert.rejects(engine.build({ context: os.tmpdir(), cacheTo: [{ type: 'registry', ref: 'r/c:cache' }] }), /--cache-to is not supported/);
    assert.throws(() => buildkitEngine({ builder: 'buildkit://unix:///a', registry: 'bad registry' }), InputError);
    assert.throws(() => buildkitEngine({ builder: 'buildkit://unix:///a', tls: { ca: '/etc/hostname' } }), /TLS is for tcp:\/\/ nodes/);
    assert.throws(() => buildkitEngine({ builder: 'buildkit://tcp://h:1', tls: { ca: '/nonexistent/ca.pem' } }), /--builder-tls-ca \/nonexistent\/ca.pem: no such file/);
  });
});

describe('buildctl --progress rawjson', () => {
  it('turns vertexes and logs into step events, split across chunks', () => {
    const events: ProgressEvent[] = [];
    const p = new RawJsonProgress((e) => events.push(e));
    const v = 'sha256:' + '1'.repeat(64);
    const lines = [
      JSON.stringify({ vertexes: [{ digest: 'sha256:' + '0'.repeat(64), name: '[internal] load build definition from Dockerfile', started: '2026-01-01T00:00:00Z', completed: '2026-01-01T00:00:01Z' }] }),
      JSON.stringify({ vertexes: [{ digest: v, name: '[stage-1 2/3] RUN echo "{hi}"', started: '2026-01-01T00:00:01Z' }] }, null, 2),
      JSON.stringify({ logs: [{ vertex: v, stream: 1, data: Buffer.from('hi\n').toString('base64') }] }),
      JSON.stringify({ vertexes: [{ digest: v, name: '[stage-1 2/3] RUN echo "{hi}"', started: '2026-01-01T00:00:01Z', completed: '2026-01-01T00:00:03Z' }] }),
      JSON.stringify({ vertexes: [{ digest: 'sha256:' + '2'.repeat(64), name: '[3/3] COPY a /a', started: '2026-01-01T00:00:03Z', completed: '2026-01-01T00:00:03Z', cached: true }] }),
      JSON.stringify({ vertexes: [{ digest: 'sha256:' + '3'.repeat(64), name: 'exporting to image', started: '2026-01-01T00:00:03Z', completed: '2026-01-01T00:00:04Z' }] }),
    ];
    const text = lines.join('\n') + '\nerror: failed to solve\n';
    for (let i = 0; i < text.length; i += 7) p.write(text.slice(i, i + 7));
    const kinds = events.map((e) => `${e.kind}${'step' in e ? ` ${e.stage}#${e.step}` : ''}`);
    assert.deepEqual(kinds, ['step-start stage-1#2', 'step-log stage-1#2', 'step-done stage-1#2', 'step-start build#3', 'step-done build#3', 'export']);
    const start = events[0] as Extract<ProgressEvent, { kind: 'step-start' }>;
    assert.equal(start.text, 'RUN echo "{hi}"');
    assert.equal(start.total, 3);
    assert.equal((events[1] as Extract<ProgressEvent, { kind: 'step-log' }>).data, 'hi\n');
    assert.equal((events[2] as Extract<ProgressEvent, { kind: 'step-done' }>).durationMs, 2000);
    assert.equal((events[4] as Extract<ProgressEvent, { kind: 'step-done' }>).cached, true);
    assert.equal(p.stepsTotal, 2);
    assert.equal(p.stepsCached, 1);
    assert.match(p.text, /error: failed to solve/);
  });
});
