import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';
import { makeImage, startRegistry, tempDir, writeOciLayout, type RegistryInstance } from '../registry/harness.js';
import { makeTar, sha256, writeLayout } from './helpers.js';

/** A registry that serves bad content: every pull fails in one line, without a crash and without noise after it. */
describe('a registry serving corrupt or forged content', { timeout: 10 * 60_000 }, () => {
  let reg: RegistryInstance;
  let work: string;

  before(async () => {
    work = await tempDir('stratum-regfault-');
    reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
    if (work) await fsp.rm(work, { recursive: true, force: true });
  });

  async function push(layout: string, repo: string): Promise<void> {
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/${repo}:latest`], { timeout: 60_000 });
  }

  it('a layer corrupted on the registry fails every pull in one line, and nothing is retried after the failure', async () => {
    // A small layer that arrives at once (its reader may not have started yet) beside big ones still downloading.
    const img = makeImage({ layers: [600, 3_000_000, 3_000_000, 3_000_000] });
    const layout = path.join(work, 'corrupt');
    await writeOciLayout(layout, img, 'latest');
    await push(layout, 'fault/corrupt');
    const small = img.layers[0]!.digest.slice(7);
    const data = path.join(reg.dir, 'data/docker/registry/v2/blobs/sha256', small.slice(0, 2), small, 'data');
    const bytes = await fsp.readFile(data);
    bytes.writeUInt8(bytes[bytes.length - 20]! ^ 0xff, bytes.length - 20);
    await fsp.writeFile(data, bytes);

    for (let i = 0; i < 8; i++) {
      const root = path.join(work, `root-${i}`);
      const r = await stratum(['pull', '--insecure-registry', reg.host, `${reg.host}/fault/corrupt:latest`], { root });
      assert.equal(r.code, 1, `attempt ${i}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      const last = lines.at(-1)!;
      assert.match(last, /^error: .*(content has digest|digest mismatch)/, `attempt ${i}: ${r.stderr}`);
      assert.equal(lines.filter((l) => l.startsWith('error:')).length, 1);
      assert.doesNotMatch(r.stderr, /Unhandled|internal error|\n\s+at /, `attempt ${i}: no crash`);
      // Nothing half-pulled is left as a blob or a tag.
      assert.deepEqual(await fsp.readdir(path.join(root, 'blobs', 'sha256')).then((b) => b.filter((n) => n === small)), []);
    }
  });

  it('an image whose layer claims the diff_id of another is refused when built FROM', async () => {
    const real = makeTar([{ path: 'etc/', type: 'dir' }, { path: 'etc/os-release', content: 'ID=real\n' }]);
    const layout = path.join(work, 'forged');
    await writeLayout(layout, { layers: [makeTar([{ path: 'etc/', type: 'dir' }, { path: 'etc/os-release', content: 'ID=forged\n' }])], diffIDs: [sha256(real)] });
    await push(layout, 'fault/forged');
    const ctx = path.join(work, 'ctx');
    await fsp.mkdir(ctx);
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), `FROM ${reg.host}/fault/forged:latest\nLABEL a=b\n`);
    const root = path.join(work, 'root-forged');
    const r = await stratum(['build', ctx, '--insecure-registry', reg.host, '--progress', 'quiet'], { root });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`claims diff_id ${sha256(real)}; refusing the image`));
    assert.deepEqual(await fsp.readdir(path.join(root, 'snapshots', 'by-diffid')), []);
  });
});
