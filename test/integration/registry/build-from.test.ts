import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { RegistryClient, pullAndTag } from '../../../src/registry/index.js';
import { build } from '../../../src/solver/build.js';
import { Session } from '../../../src/solver/session.js';
import type { Manifest } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';
import { stratum } from '../../helpers/cli.js';
import { makeImage, skopeoInspect, startRegistry, tempDir, writeOciLayout, type RegistryInstance } from './harness.js';

let reg: RegistryInstance;
let work: string;
before(async () => {
  work = await tempDir('stratum-regbuild-');
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

test('an image pushed by skopeo is pulled, built FROM, and the result pushed reads back through skopeo', { timeout: 180_000 }, async () => {
  const base = makeImage({ layers: [4000] });
  const layout = path.join(work, 'layout');
  await writeOciLayout(layout, base, 'v1');
  await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/sk/base:v1`], { timeout: 60_000 });

  const root = path.join(work, 'root');
  const session = await Session.get(root);
  const client = new RegistryClient({ env: {}, insecureRegistries: [reg.host], dockerConfigFile: path.join(work, 'none.json') });
  try {
    const pulled = await pullAndTag(client, `${reg.host}/sk/base:v1`, session.content, session.images);
    assert.equal(pulled.manifest.digest, base.manifest.digest);

    const ctx = path.join(work, 'ctx');
    await fs.mkdir(ctx);
    await fs.writeFile(path.join(ctx, 'hello.txt'), 'hello from stratum\n');
    const result = await build({
      root,
      context: ctx,
      dockerfileInline: `FROM ${reg.host}/sk/base:v1\nCOPY hello.txt /hello.txt\n`,
      tags: ['built:1'],
    });
    const manifest = await session.content.readJSON<Manifest>(result.manifestDigest);
    assert.deepEqual(manifest.layers.slice(0, 1).map((l) => l.digest), base.layers.map((l) => l.digest));
    assert.equal(manifest.layers.length, 2);

    const desc = await session.images.resolve('built:1');
    assert.ok(desc);
    const pushed = await client.push(session.content, desc, `${reg.host}/built/app:1`);
    assert.equal(pushed.digest, result.manifestDigest);
    assert.equal((await skopeoInspect(`${reg.host}/built/app:1`, ['--tls-verify=false'])).Digest, result.manifestDigest);
    // skopeo can copy it out again, byte for byte the same manifest.
    const out = path.join(work, 'out');
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/built/app:1`, `oci:${out}:x`], { timeout: 60_000 });
    const idx = JSON.parse(await fs.readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(idx.manifests[0]?.digest, result.manifestDigest);
  } finally {
    client.close();
  }
});

test('stratum build pulls a missing FROM image from its registry and --push sends the result', { timeout: 180_000 }, async () => {
  const base = makeImage({ layers: [3000] });
  const layout = path.join(work, 'layout2');
  await writeOciLayout(layout, base, 'v2');
  await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v2`, `docker://${reg.host}/sk/base:v2`], { timeout: 60_000 });
  const ctx = path.join(work, 'ctx2');
  await fs.mkdir(ctx);
  await fs.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${reg.host}/sk/base:v2\nCOPY hello.txt /hello.txt\n`);
  await fs.writeFile(path.join(ctx, 'hello.txt'), 'pushed by stratum build\n');
  const root = path.join(work, 'root2');
  const env = { DOCKER_CONFIG: path.join(work, 'no-docker-config') };
  const flags = ['--insecure-registry', reg.host, '--progress', 'plain'];
  const never = await stratum(['build', ctx, '--pull', 'never', ...flags], { root, env });
  assert.equal(never.code, 2, never.stderr);
  assert.match(never.stderr, /not in the local store/);
  const r = await stratum(['build', ctx, '-q', '-t', `${reg.host}/cli/app:1`, '--push', ...flags], { root, env });
  assert.equal(r.code, 0, r.stderr);
  const digest = r.stdout.trim();
  assert.match(digest, /^sha256:/);
  assert.equal((await skopeoInspect(`${reg.host}/cli/app:1`, ['--tls-verify=false'])).Digest, digest);
  // The base was pulled into the store under its name.
  const images = await stratum(['images', '--json'], { root });
  assert.ok((JSON.parse(images.stdout) as { name: string }[]).some((i) => i.name === `${reg.host}/sk/base:v2`));
  // A second push sends no blob.
  const again = await stratum(['build', ctx, '-t', `${reg.host}/cli/app:1`, '--push', ...flags], { root, env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /0 blob\(s\) uploaded/);
  // The summary names what the registry now serves under the tag.
  assert.ok(again.stdout.includes(`\ntagged ${reg.host}/cli/app:1\npushed ${reg.host}/cli/app:1@${digest}\n`), again.stdout);
});
