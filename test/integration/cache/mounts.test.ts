import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BASE, makeStore, readOut, runBuild, writeTree } from './harness.js';

let root: string;
let work: string;
let cleanup: () => Promise<void>;

before(async () => {
  ({ root, work, cleanup } = await makeStore('cache-mounts'));
});
after(async () => {
  await cleanup();
});

async function buildOut(name: string, dockerfile: string) {
  const ctx = path.join(work, `ctx-${name}`);
  await writeTree(ctx, { Dockerfile: dockerfile });
  const out = path.join(work, `out-${name}`);
  const r = await runBuild({ root, context: ctx, outputs: [{ type: 'local', dest: out }] });
  return { r, out };
}

/** Start and end times (seconds) written by two stages that each hold the cache for a second. */
function intervals(text: string): [[number, number], [number, number]] {
  const byName = new Map<string, number>();
  for (const line of text.trim().split('\n')) {
    const [name, t] = line.split(' ');
    byName.set(name!, Number(t));
  }
  const span = (s: string): [number, number] => [byName.get(`start-${s}`)!, byName.get(`end-${s}`)!];
  return [span('a'), span('b')];
}

function concurrentDockerfile(tag: string, sharing: string): string {
  const hold = (s: string) =>
    `RUN --mount=type=cache,id=${tag},target=/c,sharing=${sharing} echo "start-${s} $(date +%s.%N)" >> /c/log && sleep 1.5 && echo "end-${s} $(date +%s.%N)" >> /c/log && touch /done-${s}`;
  return [
    `FROM ${BASE} AS a`,
    hold('a'),
    `FROM ${BASE} AS b`,
    hold('b'),
    `FROM ${BASE}`,
    'COPY --from=a /done-a /',
    'COPY --from=b /done-b /',
    `RUN --mount=type=cache,id=${tag},target=/c cp /c/log /log`,
    '',
  ].join('\n');
}

describe('RUN --mount=type=cache', { timeout: 180_000 }, () => {
  it('persists between builds and is shared by id', async () => {
    const one = await buildOut('persist1', [`FROM ${BASE}`, 'RUN --mount=type=cache,id=pip,target=/root/.cache/pip echo first >> /root/.cache/pip/log', ''].join('\n'));
    assert.equal(one.r.ran.length, 1);
    // Another build, another target, same id: it sees what the first build left.
    const two = await buildOut('persist2', [`FROM ${BASE}`, 'RUN --mount=type=cache,id=pip,target=/var/cache/x cp /var/cache/x/log /seen', ''].join('\n'));
    assert.equal(await readOut(two.out, 'seen'), 'first\n');
    // A different id is a different directory.
    const three = await buildOut('persist3', [`FROM ${BASE}`, 'RUN --mount=type=cache,id=other,target=/var/cache/x ls -A /var/cache/x > /seen', ''].join('\n'));
    assert.equal(await readOut(three.out, 'seen'), '');
    // The cache directory is not part of the image.
    await assert.rejects(readOut(one.out, 'root/.cache/pip/log'), /ENOENT/);
  });

  it('uid, gid and mode apply to a new cache directory', async () => {
    const { out } = await buildOut(
      'perm',
      [`FROM ${BASE}`, 'RUN --mount=type=cache,id=perm,target=/c,uid=1234,gid=2345,mode=0710 stat -c "%u %g %a" /c > /perm', ''].join('\n'),
    );
    assert.equal(await readOut(out, 'perm'), '1234 2345 710\n');
  });

  it('sharing=locked: two stages never hold the cache at once', async () => {
    const { out } = await buildOut('locked', concurrentDockerfile('lk', 'locked'));
    const [[sa, ea], [sb, eb]] = intervals(await readOut(out, 'log'));
    assert.ok(ea <= sb || eb <= sa, `locked uses overlapped: a ${sa}..${ea}, b ${sb}..${eb}`);
  });

  it('sharing=shared: the same two stages do overlap (the lock test can fail)', async () => {
    const { out } = await buildOut('shared', concurrentDockerfile('sh', 'shared'));
    const [[sa, ea], [sb, eb]] = intervals(await readOut(out, 'log'));
    assert.ok(sa < eb && sb < ea, `shared uses did not overlap: a ${sa}..${ea}, b ${sb}..${eb}`);
  });
});
