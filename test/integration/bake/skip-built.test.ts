/**
 * `bake --push` skips what is already built: every pushed image carries its input digest as an annotation; a second
 * bake of the same inputs from a fresh store builds nothing, leaves the registry's manifests as they were and points
 * a new tag at the image that is there; after one service's source changes, only that service builds.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum as runCli } from '../../helpers/cli.js';
import { skopeoRawManifest, startRegistry, tempDir, type RegistryInstance } from '../registry/harness.js';

const ANNOTATION = 'dev.stratum.inputs.digest';
const TARGETS = ['base', 'api', 'web', 'tool'];

describe('bake --push skips targets the registry already has', { timeout: 240_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  const raw = async (ref: string) => skopeoRawManifest(`${reg.host}/skip/${ref}`, ['--tls-verify=false']);
  const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  /** One bake --push from the store `store` (made fresh, with the Debian base, when it is new). */
  const bake = async (store: string, extra: string, args: string[] = []) => {
    const root = path.join(work, store);
    await ensureDebianBase(root);
    const meta = path.join(work, `${store}-${extra}.json`);
    const env = { DOCKER_CONFIG: path.join(work, 'docker'), STRATUM_INSECURE_REGISTRIES: '', EXTRA: extra };
    const r = await runCli(['bake', '--push', '--insecure-registry', reg.host, '--progress', 'plain', '--metadata-file', meta, ...args], { root, env, cwd: work });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return { ...r, meta: JSON.parse(await fs.readFile(meta, 'utf8')) as Record<string, Record<string, unknown>> };
  };

  before(async () => {
    work = await tempDir('stratum-skip-');
    reg = await startRegistry();
    for (const t of TARGETS) await fs.mkdir(path.join(work, t));
    await fs.writeFile(path.join(work, 'base', 'base.txt'), 'base\n');
    await fs.writeFile(path.join(work, 'api', 'api.txt'), 'api\n');
    await fs.writeFile(path.join(work, 'web', 'web.txt'), 'web 1\n');
    await fs.writeFile(path.join(work, 'tool', 'tool.txt'), 'tool\n');
    await fs.writeFile(
      path.join(work, 'docker-bake.hcl'),
      `variable "EXTRA" { default = "a" }
group "default" { targets = ["base", "api", "web", "tool"] }
target "base" {
  context = "base"
  dockerfile-inline = "FROM scratch\\nCOPY base.txt /base.txt\\n"
  tags = ["${reg.host}/skip/base:1"]
}
target "api" {
  context = "api"
  contexts = { base = "target:base" }
  dockerfile-inline = "FROM base\\nCOPY api.txt /api.txt\\n"
  tags = ["${reg.host}/skip/api:1", "${reg.host}/skip/api:\${EXTRA}"]
}
target "web" {
  context = "web"
  dockerfile-inline = "FROM ${reg.host}/skip/base:1\\nCOPY web.txt /web.txt\\n"
  tags = ["${reg.host}/skip/web:1"]
}
target "tool" {
  context = "tool"
  dockerfile-inline = "FROM localhost/debian:bookworm\\nCOPY tool.txt /tool.txt\\nRUN cat /tool.txt > /made.txt\\n"
  tags = ["${reg.host}/skip/tool:1"]
}
`,
    );
  });
  after(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  const pushed: Record<string, string> = {};

  test('the first bake builds and pushes every target, each manifest annotated with its input digest', async () => {
    const r = await bake('store1', 'a');
    for (const t of TARGETS) {
      assert.equal(r.meta[t]!['stratum.status'], 'done', t);
      const bytes = await raw(`${t}:1`);
      const m = JSON.parse(bytes.toString('utf8')) as { annotations?: Record<string, string> };
      assert.match(m.annotations?.[ANNOTATION] ?? '', /^sha256:[a-f0-9]{64}$/, t);
      assert.equal(m.annotations![ANNOTATION], r.meta[t]!['stratum.inputs.digest'], t);
      assert.equal(digestOf(bytes), r.meta[t]!['containerimage.digest'], t);
      pushed[t] = digestOf(bytes);
    }
  });

  test('a second bake from a fresh store builds nothing, changes no manifest, and tags the image that is there', async () => {
    const r = await bake('store2', 'b');
    assert.doesNotMatch(r.stderr, /\] #\d+\/\d+ /, 'no step ran');
    for (const t of TARGETS) {
      assert.equal(r.meta[t]!['stratum.status'], 'up-to-date', t);
      assert.equal(r.meta[t]!['containerimage.digest'], pushed[t], t);
      const where = `${reg.host}/skip/${t}@${pushed[t]}`.replace(/[.]/g, '\\.');
      assert.match(r.stderr, new RegExp(`\\[${t}\\] skipped: up to date in ${where}\\n`));
      assert.match(r.stdout, new RegExp(`^${t} skipped: up to date in ${where}$`, 'm'));
      assert.equal(digestOf(await raw(`${t}:1`)), pushed[t], `${t}: the registry's manifest is unchanged`);
    }
    assert.match(r.stdout, /^0\/4 built, 4 up to date in /m);
    // the new tag names the very bytes the old one does
    assert.deepEqual(await raw('api:b'), await raw('api:1'));
    assert.match(r.stdout, new RegExp(`^api tagged ${reg.host.replace(/[.]/g, '\\.')}/skip/api:b@${pushed.api}$`, 'm'));
  });

  test('after one service changes, only that service builds (on the base the registry has)', async () => {
    await fs.writeFile(path.join(work, 'web', 'web.txt'), 'web 2\n');
    const r = await bake('store3', 'b');
    assert.equal(r.meta.web!['stratum.status'], 'done');
    for (const t of ['base', 'api', 'tool']) {
      assert.equal(r.meta[t]!['stratum.status'], 'up-to-date', t);
      assert.equal(digestOf(await raw(`${t}:1`)), pushed[t], t);
    }
    assert.match(r.stdout, /^1\/4 built, 3 up to date in /m);
    const web = await raw('web:1');
    assert.notEqual(digestOf(web), pushed.web);
    // built FROM the base the registry had: its layer is the base's
    const baseLayers = (JSON.parse((await raw('base:1')).toString('utf8')) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    const webLayers = (JSON.parse(web.toString('utf8')) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    assert.deepEqual(webLayers.slice(0, baseLayers.length), baseLayers);
  });

  test('--no-cache builds a target the registry has', async () => {
    const r = await bake('store3', 'b', ['--no-cache', 'base']);
    assert.equal(r.meta.base!['stratum.status'], 'done');
    assert.match(r.stderr, /\[base\] #1\/1 .*COPY base\.txt/);
    assert.equal(r.meta.base!['stratum.inputs.digest'], JSON.parse((await raw('base:1')).toString('utf8')).annotations[ANNOTATION]);
  });

  test('--no-skip builds what is up to date; quiet progress names an up-to-date target with the digest the registry has', async () => {
    const forced = await bake('store3', 'b', ['--no-skip', 'api']);
    assert.equal(forced.meta.api!['stratum.status'], 'done');
    const quiet = await bake('store3', 'b', ['--progress', 'quiet', 'tool']);
    assert.equal(quiet.stdout, `tool ${pushed.tool}\n`);
  });
});
