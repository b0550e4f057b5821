/** `--progress quiet` and `rawjson` on build and bake: what scripts read, and nothing else. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stratum } from '../../helpers/cli.js';

describe('quiet and rawjson progress', { timeout: 120_000 }, () => {
  let dir: string;
  let root: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'stratum-quiet-'));
    root = path.join(dir, 'root');
    for (const t of ['a', 'b']) {
      await mkdir(path.join(dir, t));
      await writeFile(path.join(dir, t, 'Dockerfile'), t === 'a' ? 'FROM scratch\nCOPY f /f\n' : 'FROM a\nCOPY f /g\n');
      await writeFile(path.join(dir, t, 'f'), `${t}\n`);
    }
    await writeFile(
      path.join(dir, 'docker-bake.hcl'),
      'group "default" { targets = ["b"] }\ntarget "a" { context = "a" }\ntarget "b" {\n  context = "b"\n  contexts = { a = "target:a" }\n}\n',
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('build --progress quiet prints the digest alone, as -q does', async () => {
    const r = await stratum(['build', '--progress', 'quiet', path.join(dir, 'a')], { root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(r.stderr, '');
    const q = await stratum(['build', '-q', path.join(dir, 'a')], { root });
    assert.equal(q.stdout, r.stdout);
  });

  it('build --progress rawjson is the json event stream', async () => {
    const r = await stratum(['build', '--progress', 'rawjson', path.join(dir, 'a')], { root });
    assert.equal(r.code, 0, r.stderr);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { kind: string });
    assert.ok(events.some((e) => e.kind === 'step-done'));
  });

  it('bake --progress quiet prints each built target and its digest, no table', async () => {
    const r = await stratum(['bake', '--progress', 'quiet'], { root, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^a sha256:[0-9a-f]{64}\nb sha256:[0-9a-f]{64}\n$/);
    assert.equal(r.stderr, '');
  });

  it('bake --progress rawjson is json', async () => {
    const r = await stratum(['bake', '--progress', 'rawjson'], { root, cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const first = r.stderr.split('\n')[0]!;
    assert.equal((JSON.parse(first) as { kind: string }).kind, 'run-start');
  });

  it('an unknown mode names the choices', async () => {
    const b = await stratum(['build', '--progress', 'fancy', path.join(dir, 'a')], { root });
    assert.equal(b.code, 2);
    assert.match(b.stderr, /^error: --progress fancy: expected one of auto, tty, plain, json, rawjson, quiet\n$/);
  });
});
