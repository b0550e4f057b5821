import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../src/util/exec.js';
import { installedPackages, readLayoutImage, reportImage, runInRootfs } from '../../../src/catalog/measure.js';

const cacheDir = process.env.STRATUM_TEST_CACHE ?? '/var/tmp/stratum-test-cache';

/** A bookworm minbase tarball, made once with mmdebstrap and cached. */
async function minbase(): Promise<string> {
  const tar = join(cacheDir, 'catalog-bookworm-minbase.tar');
  if (existsSync(tar)) return tar;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${tar}.${process.pid}.tmp`;
  await run('mmdebstrap', ['--variant=minbase', '--format=tar', '--quiet', 'bookworm', tmp], { timeout: 600_000 });
  await rename(tmp, tar);
  return tar;
}

test('an image built by umoci is measured: size, layers, dpkg packages, and a command run as a user through runc', { timeout: 900_000 }, async () => {
  const tar = await minbase();
  const dir = await mkdtemp(join(tmpdir(), 'stratum-measure-'));
  try {
    // umoci (an independent OCI tool) writes the layout: the minbase as one layer.
    const layout = join(dir, 'layout');
    const bundle = join(dir, 'bundle');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:t`]);
    await run('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
    await run('tar', ['-xf', tar, '-C', join(bundle, 'rootfs')]);
    await run('umoci', ['repack', '--image', `${layout}:t`, bundle]);

    const img = await readLayoutImage(layout);
    assert.equal(img.layers.length, 1);
    const stat = JSON.parse((await run('umoci', ['stat', '--json', '--image', `${layout}:t`])).stdout) as { history: unknown[] };
    assert.ok(Array.isArray(stat.history));
    assert.ok(img.size > 10_000_000 && img.size < 200_000_000, `size ${img.size}`);

    const rootfs = join(dir, 'rootfs');
    const rep = await reportImage('minbase', layout, rootfs);
    assert.equal(rep.layers, 1);
    assert.equal(rep.size, img.size);
    // dpkg itself is the judge of the package count.
    const q = await run('dpkg-query', [`--admindir=${join(rootfs, 'var/lib/dpkg')}`, '-W', '-f', '${db:Status-Abbrev} ${Package}\n']);
    const ii = q.stdout.split('\n').filter((l) => l.startsWith('ii ')).map((l) => l.split(' ').pop()!);
    assert.deepEqual(rep.packages, ii.sort());
    assert.ok(rep.packages.includes('dpkg') && rep.packages.includes('passwd'));
    assert.deepEqual(rep.buildTools, []);
    assert.deepEqual(await installedPackages(join(dir, 'nowhere')), []);

    const asNobody = await runInRootfs(rootfs, 'nobody', ['sh', '-c', 'id -u; id -un'], join(dir, 'scratch'));
    assert.equal(asNobody.exitCode, 0, asNobody.output);
    assert.equal(asNobody.output.trim(), '65534\nnobody');
    assert.equal(asNobody.uid, 65534);
    const failing = await runInRootfs(rootfs, 'root', ['sh', '-c', 'exit 7'], join(dir, 'scratch'));
    assert.equal(failing.exitCode, 7);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
