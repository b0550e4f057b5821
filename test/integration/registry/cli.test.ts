import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ContentStore, ImageStore } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';
import { makeImage, skopeoInspect, startRegistry, tempDir, type RegistryInstance } from './harness.js';

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.ts');

describe('registry commands (push, pull, tag, login, logout, pin)', { timeout: 180_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const stratum = (args: string[], input?: string) =>
    run(process.execPath, ['--import', 'tsx', entry, ...args], { check: false, env, ...(input !== undefined ? { input } : {}), timeout: 60_000 });

  before(async () => {
    work = await tempDir('stratum-regcli-');
    reg = await startRegistry({ users: { bob: 'hunter22' } });
    env = { ...process.env, DOCKER_CONFIG: path.join(work, 'docker'), STRATUM_ROOT: path.join(work, 'root'), STRATUM_INSECURE_REGISTRIES: reg.host };
  });
  after(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('login checks credentials and writes a 0600 docker config', async () => {
    const bad = await stratum(['login', '-u', 'bob', '--password-stdin', reg.host], 'wrong\n');
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, new RegExp(`error: registry ${reg.host}: login refused: unauthorized \\(401\\)`));
    await assert.rejects(fs.access(path.join(work, 'docker', 'config.json')));

    const noUser = await stratum(['login', '--password-stdin', reg.host], 'x');
    assert.equal(noUser.code, 2);

    const ok = await stratum(['login', '-u', 'bob', '--password-stdin', reg.host], 'hunter22\n');
    assert.equal(ok.code, 0, ok.stderr);
    const file = path.join(work, 'docker', 'config.json');
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    const cfg = JSON.parse(await fs.readFile(file, 'utf8')) as { auths: Record<string, { auth: string }> };
    assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString(), 'bob:hunter22');
  });

  test('tag, push, pull and pin through the CLI', async () => {
    const root = path.join(work, 'root');
    const content = new ContentStore(root);
    await content.init();
    const img = makeImage({ layers: [2000] });
    for (const b of img.blobs.values()) await content.putBytes(b);
    await new ImageStore(content).tag('app:dev', img.manifest);

    const t = await stratum(['tag', 'app:dev', `${reg.host}/cli/app:1.0`]);
    assert.equal(t.code, 0, t.stderr);
    const missing = await stratum(['tag', 'nope:1', 'x:1']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /image "nope:1" is not in the local store/);

    const p = await stratum(['push', `${reg.host}/cli/app:1.0`]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`pushed ${reg.host}/cli/app:1.0@${img.manifest.digest} \\(2 uploaded, 0 mounted, 0 already there\\)`));
    assert.equal((await skopeoInspect(`${reg.host}/cli/app:1.0`, ['--tls-verify=false', '--creds', 'bob:hunter22'])).Digest, img.manifest.digest);

    // NAME DEST form, into a second repository: blobs are mounted from the first.
    const p2 = await stratum(['push', 'app:dev', `${reg.host}/cli/other:2.0`]);
    assert.equal(p2.code, 0, p2.stderr);
    assert.match(p2.stdout, /\(0 uploaded, 2 mounted, 0 already there\)/);

    const otherRoot = path.join(work, 'root2');
    const pl = await stratum(['--root', otherRoot, 'pull', `${reg.host}/cli/other:2.0`]);
    assert.equal(pl.code, 0, pl.stderr);
    assert.match(pl.stdout, new RegExp(`pulled ${reg.host}/cli/other:2.0: ${img.manifest.digest}`));
    const c2 = new ContentStore(otherRoot);
    assert.equal((await new ImageStore(c2).resolve(`${reg.host}/cli/other:2.0`))?.digest, img.manifest.digest);
    for (const d of img.blobs.keys()) assert.equal(await c2.has(d), true);

    const notFound = await stratum(['pull', `${reg.host}/cli/absent:1`]);
    assert.equal(notFound.code, 1);
    assert.match(notFound.stderr, new RegExp(`error: registry ${reg.host}/cli/absent: pull manifest 1 failed: not found \\(404\\)`));

    const vars = path.join(work, 'images.yml');
    await fs.writeFile(vars, `# pinned by CI\nimages:\n  app: ${reg.host}/cli/app:1.0 # main image\n`);
    const check = await stratum(['pin', '--check', vars]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`images.yml:3: images.app: ${reg.host}/cli/app:1.0 -> ${reg.host}/cli/app:1.0@${img.manifest.digest}`));
    const pinned = await stratum(['pin', vars]);
    assert.equal(pinned.code, 0, pinned.stderr);
    assert.equal(await fs.readFile(vars, 'utf8'), `# pinned by CI\nimages:\n  app: ${reg.host}/cli/app:1.0@${img.manifest.digest} # main image\n`);
    assert.equal((await stratum(['pin', '--check', vars])).code, 0);
  });

  test('logout removes the credentials, then reports there are none', async () => {
    const out = await stratum(['logout', reg.host]);
    assert.equal(out.code, 0, out.stderr);
    const cfg = JSON.parse(await fs.readFile(path.join(work, 'docker', 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    assert.equal(cfg.auths[reg.host], undefined);
    assert.equal((await stratum(['logout', reg.host])).code, 1);
    // Without credentials the registry refuses, and the error says what to do.
    const p = await stratum(['pull', `${reg.host}/cli/app:1.0`]);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /refused: unauthorized \(401\): no credentials \(run `stratum login/);
  });
});
