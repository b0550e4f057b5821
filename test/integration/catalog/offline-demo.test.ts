import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, which } from '../../../src/util/exec.js';
import { OFFLINE_IMAGES, type OfflineReport } from '../../../src/catalog/offline-demo.js';

import { freePort } from '../../helpers/net.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cacheDir = process.env.STRATUM_TEST_CACHE ?? '/var/tmp/stratum-test-cache';


const skip = process.getuid?.() !== 0 ? 'needs root' : process.env.STRATUM_SKIP_OFFLINE_DEMO ? 'STRATUM_SKIP_OFFLINE_DEMO is set' : false;

test('the offline catalog builds end to end and proves the seed claims', { skip, timeout: 1_500_000 }, async () => {
  assert.ok(await which('runc'), 'runc is installed');
  const work = await mkdtemp(join(tmpdir(), 'stratum-offline-demo-'));
  // The store is cached between runs (like the bootstrapped bases), so a rerun reuses its layers.
  const store = join(cacheDir, 'catalog-offline-store');
  await mkdir(store, { recursive: true });
  try {
    const port = await freePort();
    const r = await run('bash', [join(root, 'examples/offline/demo.sh')], {
      check: false,
      timeout: 1_400_000,
      env: { ...process.env, STRATUM_DEMO_DIR: work, GIT_PORT: String(port), STRATUM_ROOT: store },
    });
    assert.equal(r.code, 0, `demo.sh failed:\n${(r.stdout + r.stderr).split('\n').slice(-60).join('\n')}`);
    assert.match(r.stdout, /all checks passed/);

    const rep = JSON.parse(await readFile(join(work, 'report.json'), 'utf8')) as Pick<OfflineReport, 'ok' | 'images' | 'services'>;
    assert.equal(rep.ok, true);
    // skopeo, an independent reader of OCI layouts, agrees with the figures.
    for (const img of rep.images) {
      const raw = JSON.parse((await run('skopeo', ['inspect', `oci:${join(work, 'out', img.name)}`])).stdout) as { Layers: string[] };
      assert.equal(raw.Layers.length, img.layers, img.name);
    }
    assert.deepEqual(rep.images.map((i) => i.name), OFFLINE_IMAGES);
    for (const s of rep.services) {
      assert.deepEqual(s.problems, [], s.service);
      assert.equal(s.runExit, 0);
      assert.equal(s.runUid, 42424);
      assert.deepEqual(s.multi.buildTools, [], `${s.service} ships no compiler or -dev package`);
      assert.ok(s.single.buildTools.includes('gcc') || s.single.buildTools.some((t) => t.startsWith('gcc')), `${s.service}-single has the compilers the check looks for`);
      assert.ok(s.single.buildTools.includes('python3-dev'));
      assert.ok(s.multi.size < s.single.size, `${s.service}: ${s.multi.size} < ${s.single.size}`);
      assert.ok(s.multi.packages.length < s.single.packages.length);
    }
    assert.match(rep.services.find((s) => s.service === 'fastsum')!.runOutput, /^fastsum: 42$/m);
    assert.match(rep.services.find((s) => s.service === 'hello-svc')!.runOutput, /user=hello-svc uid=42424/);

    // stratum verify passes the services and catches the twin whose runtime lacks the extension's library:
    // by the missing library, and by the console script that cannot import.
    assert.match(r.stdout, /localhost\/offline\/fastsum:bookworm \(\w+\): ok — \d+ ELF files, 4 console scripts/); // fastsum, and pip, pip3, pip3.11 of the venv
    assert.match(r.stdout, /localhost\/offline\/hello-svc:bookworm \(\w+\): ok/);
    assert.match(r.stdout, /shared-libraries: \/var\/lib\/openstack\/lib\/python3\.\d+\/site-packages\/fastsum\/_fastsum\.[\w.-]+\.so: needs libyaml-0\.so\.2, which the image does not have/);
    assert.match(r.stdout, /python-imports: \/var\/lib\/openstack\/bin\/fastsum: fastsum\.cli:main does not import: ImportError: libyaml-0\.so\.2/);
    assert.match(r.stdout, /caught: the image builds/);
  } finally {
    const pid = await run('cat', [join(work, 'git-daemon.pid')], { check: false });
    if (pid.code === 0 && Number(pid.stdout.trim()) > 0) {
      try {
        process.kill(Number(pid.stdout.trim()));
      } catch {
        // already stopped by demo.sh
      }
    }
    await rm(work, { recursive: true, force: true });
  }
});
