import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { git } from '../../helpers/git.js';
import { BASE, makeStore, readOut, runBuild, writeTree } from './harness.js';
import { stratum } from '../../helpers/cli.js';

let root: string;
let work: string;
let cleanup: () => Promise<void>;

before(async () => {
  ({ root, work, cleanup } = await makeStore('cache-keys'));
});
after(async () => {
  await cleanup();
});

let n = 0;
/** A fresh context directory holding `files`. */
async function context(files: Record<string, string>): Promise<string> {
  const dir = path.join(work, `ctx-${++n}`);
  await writeTree(dir, files);
  return dir;
}

describe('step cache: hits and misses by input kind', { timeout: 240_000 }, () => {
  it('unchanged rebuild, touched source, ignored file, one changed patch', async () => {
    const df = [
      `FROM ${BASE}`,
      'RUN echo keys-patches > /base',
      'COPY patches/a.patch /p/a.patch',
      'RUN cat /p/a.patch > /a.out',
      'COPY patches/b.patch /p/b.patch',
      'RUN cat /p/b.patch > /b.out',
      'COPY . /ctx',
      '',
    ].join('\n');
    const ctx = await context({
      Dockerfile: df,
      '.dockerignore': 'scratch.log\n',
      'patches/a.patch': 'A1\n',
      'patches/b.patch': 'B1\n',
      'scratch.log': 'one\n',
    });
    const first = await runBuild({ root, context: ctx });
    assert.equal(first.cached.length, 0, `cold build used the cache: ${first.cached.join(' | ')}`);
    assert.equal(first.steps.length, 6);

    const again = await runBuild({ root, context: ctx });
    assert.deepEqual(again.ran, []);
    assert.equal(again.result.manifestDigest, first.result.manifestDigest);

    // Same bytes, new times: still a hit.
    const later = new Date(Date.now() + 3_600_000);
    await utimes(path.join(ctx, 'patches/a.patch'), later, later);
    await utimes(path.join(ctx, 'patches/b.patch'), later, later);
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);

    // An ignored file is not part of any step's input.
    await writeFile(path.join(ctx, 'scratch.log'), 'two\n');
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);

    // Changing b.patch reruns its COPY and everything after; a.patch's steps stay cached.
    await writeFile(path.join(ctx, 'patches/b.patch'), 'B2\n');
    const out = path.join(work, 'out-patches');
    const changed = await runBuild({ root, context: ctx, outputs: [{ type: 'local', dest: out }] });
    assert.deepEqual(changed.ran, ['COPY patches/b.patch /p/b.patch', 'RUN cat /p/b.patch > /b.out', 'COPY . /ctx']);
    assert.equal(await readOut(out, 'b.out'), 'B2\n');
    assert.equal(await readOut(out, 'a.out'), 'A1\n');
    assert.equal(await readOut(out, 'ctx/patches/b.patch'), 'B2\n');
    await assert.rejects(readOut(out, 'ctx/scratch.log'), /ENOENT/);
  });

  it('build args: undeclared change hits, declared change misses', async () => {
    const df = [`FROM ${BASE}`, 'RUN echo keys-args > /first', 'ARG USED=1', 'RUN echo "$USED" > /used', ''].join('\n');
    const ctx = await context({ Dockerfile: df });
    const a = await runBuild({ root, context: ctx, buildArgs: { USED: '1', OTHER: 'x' } });
    assert.equal(a.ran.length, 2);
    const b = await runBuild({ root, context: ctx, buildArgs: { USED: '1', OTHER: 'y' } });
    assert.deepEqual(b.ran, [], 'an argument the Dockerfile never declares must not bust the cache');
    const out = path.join(work, 'out-args');
    const c = await runBuild({ root, context: ctx, buildArgs: { USED: '2', OTHER: 'y' }, outputs: [{ type: 'local', dest: out }] });
    assert.deepEqual(c.ran, ['RUN echo "$USED" > /used']);
    assert.deepEqual(c.cached, ['RUN echo keys-args > /first']);
    assert.equal(await readOut(out, 'used'), '2\n');
  });

  it('bind-mount source: touch hits, content change misses', async () => {
    const df = [`FROM ${BASE}`, 'RUN --mount=type=bind,source=data,target=/data cat /data/x > /x.out', ''].join('\n');
    const ctx = await context({ Dockerfile: df, 'data/x': 'one\n' });
    assert.equal((await runBuild({ root, context: ctx })).ran.length, 1);
    const later = new Date(Date.now() + 3_600_000);
    await utimes(path.join(ctx, 'data/x'), later, later);
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);
    await writeFile(path.join(ctx, 'data/x'), 'two\n');
    const out = path.join(work, 'out-bind');
    const r = await runBuild({ root, context: ctx, outputs: [{ type: 'local', dest: out }] });
    assert.equal(r.ran.length, 1);
    assert.equal(await readOut(out, 'x.out'), 'two\n');
  });

  it('ADD of a git source: same commit hits, a new commit misses', async () => {
    const repo = path.join(work, 'gitrepo');
    await mkdir(repo, { recursive: true });
    await git(['init', '-q', '-b', 'main', repo]);
    await writeFile(path.join(repo, 'version'), 'v1\n');
    await git(['-C', repo, 'add', '-A']);
    await git(['-C', repo, '-c', 'commit.gpgSign=false', 'commit', '-q', '-m', 'one']);
    const df = [`FROM ${BASE}`, `ADD file://${repo}#main /src`, 'RUN cat /src/version > /version.out', ''].join('\n');
    const ctx = await context({ Dockerfile: df });
    assert.equal((await runBuild({ root, context: ctx })).ran.length, 2);
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);
    await writeFile(path.join(repo, 'version'), 'v2\n');
    await git(['-C', repo, 'add', '-A']);
    await git(['-C', repo, '-c', 'commit.gpgSign=false', 'commit', '-q', '-m', 'two']);
    const out = path.join(work, 'out-git');
    const r = await runBuild({ root, context: ctx, outputs: [{ type: 'local', dest: out }] });
    assert.equal(r.ran.length, 2);
    assert.equal(await readOut(out, 'version.out'), 'v2\n');
  });

  it('ADD of a URL with --checksum: same checksum hits without asking the server', async () => {
    let body = 'payload one\n';
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/payload.txt`;
      const sum = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
      const dockerfile = (s: string) => [`FROM ${BASE}`, `ADD --checksum=${sum(s)} ${url} /payload.txt`, 'RUN cat /payload.txt > /p.out', ''].join('\n');
      const ctx = await context({ Dockerfile: dockerfile(body) });
      assert.equal((await runBuild({ root, context: ctx })).ran.length, 2);
      const seen = requests;
      assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);
      assert.equal(requests, seen, 'a pinned URL already downloaded must not be fetched again');
      body = 'payload two\n';
      await writeFile(path.join(ctx, 'Dockerfile'), dockerfile(body));
      const out = path.join(work, 'out-url');
      const r = await runBuild({ root, context: ctx, outputs: [{ type: 'local', dest: out }] });
      assert.equal(r.ran.length, 2);
      assert.equal(await readOut(out, 'p.out'), 'payload two\n');
    } finally {
      server.close();
    }
  });

  it('COPY --link is reused when the step under it changes', async () => {
    const df = [`FROM ${BASE}`, 'ARG V=1', 'RUN echo "keys-link $V" > /v', 'COPY --link app.txt /app/app.txt', 'RUN cat /app/app.txt /v > /both', ''].join('\n');
    const ctx = await context({ Dockerfile: df, 'app.txt': 'app\n' });
    const a = await runBuild({ root, context: ctx, buildArgs: { V: '1' } });
    assert.equal(a.ran.length, 3);
    const out = path.join(work, 'out-link');
    const b = await runBuild({ root, context: ctx, buildArgs: { V: '2' }, outputs: [{ type: 'local', dest: out }] });
    assert.deepEqual(b.cached, ['COPY --link app.txt /app/app.txt']);
    assert.deepEqual(b.ran, ['RUN echo "keys-link $V" > /v', 'RUN cat /app/app.txt /v > /both']);
    const linkLayer = (o: typeof a) => o.result.layers.find((l) => l.createdBy.includes('COPY --link'))!.digest;
    assert.equal(linkLayer(b), linkLayer(a), 'the --link layer blob is the same');
    assert.equal(await readOut(out, 'both'), 'app\nkeys-link 2\n');
  });

  it('Rebuild-Time header: moved past the entries misses, moved back hits', async () => {
    const dockerfile = (t: string) => [`# Catalog-Rebuild-Time: ${t}`, `FROM ${BASE}`, 'RUN date +%s%N > /stamp', ''].join('\n');
    const ctx = await context({ Dockerfile: dockerfile('2020-01-01T00:00:00Z') });
    assert.equal((await runBuild({ root, context: ctx })).ran.length, 1);
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);
    await new Promise((r) => setTimeout(r, 20));
    const past = new Date().toISOString();
    await writeFile(path.join(ctx, 'Dockerfile'), dockerfile(past));
    const bumped = await runBuild({ root, context: ctx });
    assert.deepEqual(bumped.ran, ['RUN date +%s%N > /stamp'], 'entries older than the header are stale');
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, [], 'the fresh entry is newer than the header');
    await writeFile(path.join(ctx, 'Dockerfile'), dockerfile('2021-06-01T00:00:00+02:00'));
    const back = await runBuild({ root, context: ctx });
    assert.deepEqual(back.ran, []);
    assert.equal(back.result.manifestDigest, bumped.result.manifestDigest);
  });

  it('a step that changes nothing is cached too, and adds no layer', async () => {
    const df = [`FROM ${BASE}`, 'RUN test -d /etc', 'RUN echo keys-nochange > /nochange', ''].join('\n');
    const ctx = await context({ Dockerfile: df });
    const first = await runBuild({ root, context: ctx });
    assert.equal(first.ran.length, 2);
    const again = await runBuild({ root, context: ctx });
    assert.deepEqual(again.ran, []);
    assert.equal(again.result.layers.length, first.result.layers.length);
    const check = await stratum(['store', 'check'], { root });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it('--no-cache reruns everything; --no-cache-filter only the named stage', async () => {
    const df = [`FROM ${BASE} AS one`, 'RUN echo keys-nocache-one > /one', `FROM one AS two`, 'RUN echo keys-nocache-two > /two', ''].join('\n');
    const ctx = await context({ Dockerfile: df });
    assert.equal((await runBuild({ root, context: ctx })).ran.length, 2);
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);
    assert.equal((await runBuild({ root, context: ctx, noCache: true })).ran.length, 2);
    const f = await runBuild({ root, context: ctx, noCacheFilter: ['two'] });
    assert.deepEqual(f.ran, ['RUN echo keys-nocache-two > /two']);
    assert.deepEqual(f.cached, ['RUN echo keys-nocache-one > /one']);
    // Rerunning a stage gives a new snapshot, so what is built on it reruns too.
    const g = await runBuild({ root, context: ctx, noCacheFilter: ['one'] });
    assert.deepEqual(g.ran, ['RUN echo keys-nocache-one > /one', 'RUN echo keys-nocache-two > /two']);
    assert.deepEqual((await runBuild({ root, context: ctx })).ran, []);
  });
});
