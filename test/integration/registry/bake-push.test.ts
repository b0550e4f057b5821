/**
 * Pushes from `bake --push` and `build --push` to a real plain-HTTP registry on loopback: --insecure-registry is
 * what lets them reach it (loopback is not insecure by itself), and the image pushed is named, with its digest, in
 * the progress and in bake's summary.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stratum as runCli } from '../../helpers/cli.js';
import { skopeoInspect, startRegistry, tempDir, type RegistryInstance } from './harness.js';

describe('bake --push and build --push to a plain-HTTP registry', { timeout: 300_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const stratum = (args: string[]) => runCli(args, { root: path.join(work, 'root'), env, cwd: work });

  before(async () => {
    work = await tempDir('stratum-bakepush-');
    reg = await startRegistry();
    // Nothing marks the registry insecure but the flag under test.
    env = { DOCKER_CONFIG: path.join(work, 'docker'), STRATUM_INSECURE_REGISTRIES: '', STRATUM_ROOT: path.join(work, 'root') };
    await fs.writeFile(path.join(work, 'a.txt'), 'pushed by bake\n');
    await fs.writeFile(path.join(work, 'b.txt'), 'pushed by build\n');
    await fs.writeFile(path.join(work, 'Dockerfile'), 'FROM scratch\nCOPY b.txt /b.txt\n');
    await fs.writeFile(
      path.join(work, 'docker-bake.hcl'),
      `target "app" {\n  context = "."\n  dockerfile-inline = "FROM scratch\\nCOPY a.txt /a.txt\\n"\n  tags = ["${reg.host}/bake/app:1"]\n}\n`,
    );
  });
  after(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('bake --push fails on TLS without --insecure-registry, and pushes with it', async () => {
    const refused = await stratum(['bake', '--push', '--progress', 'plain', 'app']);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stdout, new RegExp(`app failed: registry ${reg.host}/bake/app: .*wrong version number \\(the registry does not speak TLS here`));
    assert.doesNotMatch(refused.stderr + refused.stdout, /retrying| pushed /);

    const r = await stratum(['bake', '--push', '--insecure-registry', reg.host, '--progress', 'plain', 'app']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const digest = (await skopeoInspect(`${reg.host}/bake/app:1`, ['--tls-verify=false'])).Digest;
    const pushed = `${reg.host}/bake/app:1@${digest}`.replace(/[.]/g, '\\.');
    assert.match(r.stderr, new RegExp(`\\[app\\] push ${pushed} \\(\\d+ uploaded, 0 mounted, \\d+ already there\\)\\n`));
    assert.match(r.stdout, new RegExp(`^app pushed ${pushed}$`, 'm'));
  });

  test('build --push names what it pushed in its plain progress', async () => {
    const r = await stratum(['build', '--push', '--insecure-registry', reg.host, '--progress', 'plain', '-t', `${reg.host}/build/b:2`, '.']);
    assert.equal(r.code, 0, r.stderr);
    const digest = (await skopeoInspect(`${reg.host}/build/b:2`, ['--tls-verify=false'])).Digest;
    assert.match(r.stdout, new RegExp(`image ${digest}`));
    assert.match(r.stderr, new RegExp(`^#push ${reg.host.replace(/[.]/g, '\\.')}/build/b:2@${digest}: \\d+ blob\\(s\\) uploaded`, 'm'));
  });
});
