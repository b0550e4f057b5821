import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { debianBaseLayout, ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { layoutDiffIDs, makeTar, writeLayout } from './helpers.js';

const BASE = 'localhost/debian:bookworm';

/**
 * An image can say anything about its layers. A layer claiming the diff_id of a real base layer must not get its
 * files filed under that diff_id, or every later build FROM the real base in the same store runs on them.
 */
describe('cache poisoning through forged diff_ids', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let realDiffID: string;
  let forged: string;

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-poison-'));
    const base = await debianBaseLayout();
    realDiffID = (await layoutDiffIDs(base))[0]!;
    // Files that would fool a later build: an os-release of our own and a shell that is not a shell.
    forged = path.join(tmp, 'forged');
    await writeLayout(forged, {
      layers: [
        makeTar([
          { path: 'etc/', type: 'dir' },
          { path: 'etc/os-release', content: 'ID=forged\n' },
          { path: 'bin/', type: 'dir' },
          { path: 'bin/sh', content: '#!/forged\n', mode: 0o755 },
        ]),
      ],
      diffIDs: [realDiffID],
    });
  });

  after(async () => {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function ctx(name: string, dockerfile: string): Promise<string> {
    const dir = path.join(tmp, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    return dir;
  }

  it('refuses the forged image in a fresh store, files nothing under the real diff_id, and the real base builds right after', async () => {
    const root = path.join(tmp, 'fresh');
    const attack = await ctx('attack', 'FROM forged\nLABEL pwned=1\n');
    const r = await stratum(['build', attack, '--build-context', `forged=oci-layout://${forged}:latest`, '-t', 'localhost/forged:1', '--progress', 'quiet'], { root });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`claims diff_id ${realDiffID}; refusing the image`));
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    const byDiff = await fsp.readdir(path.join(root, 'snapshots', 'by-diffid'));
    assert.deepEqual(byDiff, [], 'nothing filed under any diff_id');

    await ensureDebianBase(root, BASE);
    const out = path.join(tmp, 'fresh-out');
    const good = await ctx('good', `FROM ${BASE}\nRUN cat /etc/os-release > /seen\n`);
    const b = await stratum(['build', good, '-o', `type=local,dest=${out}`, '--progress', 'quiet'], { root });
    assert.equal(b.code, 0, b.stderr);
    assert.match(await fsp.readFile(path.join(out, 'seen'), 'utf8'), /ID=debian/);
    const check = await stratum(['store', 'check'], { root });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it('refuses a forged blob for a diff_id the store already holds, and accepts another encoding of the real layer', async () => {
    const root = path.join(tmp, 'warm');
    await ensureDebianBase(root, BASE);
    const warm = await ctx('warm', `FROM ${BASE}\nRUN true\n`);
    assert.equal((await stratum(['build', warm, '--progress', 'quiet'], { root })).code, 0);

    const attack = await ctx('attack2', 'FROM forged\nLABEL pwned=1\n');
    const r = await stratum(['build', attack, '--build-context', `forged=oci-layout://${forged}:latest`, '--progress', 'quiet'], { root });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /refusing the image/);

    // The same layer, compressed otherwise: a different blob with the real diff_id is fine.
    const base = await debianBaseLayout();
    const idx = JSON.parse(await fsp.readFile(path.join(base, 'index.json'), 'utf8'));
    const manifest = JSON.parse(await fsp.readFile(path.join(base, 'blobs/sha256', idx.manifests[0].digest.slice(7)), 'utf8'));
    const tar = zlib.gunzipSync(await fsp.readFile(path.join(base, 'blobs/sha256', manifest.layers[0].digest.slice(7))));
    const recompressed = path.join(tmp, 'recompressed');
    await writeLayout(recompressed, { layers: [tar] });
    const same = await ctx('same', 'FROM other\nRUN test -f /etc/debian_version\n');
    const s = await stratum(['build', same, '--build-context', `other=oci-layout://${recompressed}:latest`, '--progress', 'quiet'], { root });
    assert.equal(s.code, 0, s.stderr);
  });

  it('store check finds snapshot files that were changed and a snapshot filed under a layer it does not hold', async () => {
    const root = path.join(tmp, 'tamper');
    await ensureDebianBase(root, BASE);
    const c = await ctx('tamper', `FROM ${BASE}\nRUN echo built > /built.txt\n`);
    assert.equal((await stratum(['build', c, '-t', 'localhost/tamper:1', '--progress', 'quiet'], { root })).code, 0);
    assert.equal((await stratum(['store', 'check'], { root })).code, 0);

    const snapDir = path.join(root, 'snapshots');
    const baseSnap = (await fsp.readFile(path.join(snapDir, 'by-diffid', realDiffID.slice(7)), 'utf8')).trim();
    let builtSnap = '';
    for (const id of await fsp.readdir(snapDir)) {
      if (id === baseSnap || !/^[0-9a-f]{12}$/.test(id)) continue;
      if (await fsp.stat(path.join(snapDir, id, 'fs', 'built.txt')).catch(() => undefined)) builtSnap = id;
    }
    assert.ok(builtSnap, 'the RUN step has a snapshot');

    await fsp.appendFile(path.join(snapDir, baseSnap, 'fs', 'etc', 'os-release'), 'ID=tampered\n');
    await fsp.writeFile(path.join(snapDir, builtSnap, 'fs', 'built.txt'), 'changed\n');
    await fsp.writeFile(path.join(snapDir, 'by-diffid', 'ab'.repeat(32)), builtSnap);
    const check = await stratum(['store', 'check'], { root });
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`snapshot ${baseSnap}: its files differ from those of its layer`));
    assert.match(check.stdout, new RegExp(`snapshot ${builtSnap}: its files hash to sha256:[0-9a-f]{64}, but the layer`));
    assert.match(check.stdout, new RegExp(`snapshot ${builtSnap}: is filed under diff_id sha256:${'ab'.repeat(32)}`));
  });
});
