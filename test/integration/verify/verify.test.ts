import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';

const BASE = 'localhost/debian:bookworm';

/**
 * `stratum verify` on small images made for the purpose from the Debian base: a program whose libraries the
 * image lacks, a service user the image does not run as, and the waivers. (The offline catalog's test runs it on
 * real venvs: a missing extension library, build tools in a builder.)
 */
describe('stratum verify', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-verify-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root, BASE);
  });
  after(async () => {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function image(name: string, dockerfile: string, files: Record<string, string | Buffer> = {}): Promise<string> {
    const dir = path.join(tmp, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    for (const [f, c] of Object.entries(files)) await fsp.writeFile(path.join(dir, f), c, { mode: 0o755 });
    const tag = `localhost/verify-${name}:1`;
    const r = await stratum(['build', dir, '-t', tag, '--progress', 'quiet'], { root });
    assert.equal(r.code, 0, r.stderr);
    return tag;
  }

  it('passes the Debian base', async () => {
    const r = await stratum(['verify', BASE], { root });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /: ok — \d{3,} ELF files, 0 console scripts, \d+ packages checked/);
  });

  it('finds a program whose shared libraries the image lacks, and nothing where the loader finds them', async () => {
    // readelf from this machine needs binutils' own libraries, which a minbase image does not have.
    const tag = await image(
      'libs',
      `FROM ${BASE}\nCOPY readelf /usr/local/bin/readelf\nRUN mkdir -p /opt/app/lib && cp /usr/lib/x86_64-linux-gnu/libz.so.1 /opt/app/lib/libappz.so.1\n`,
      { readelf: await fsp.readFile('/usr/bin/readelf') },
    );
    const r = await stratum(['verify', tag], { root });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    // What this machine's readelf needs, and which of those the image has, asked of the image itself.
    const needed = [...(await run('readelf', ['-d', '/usr/bin/readelf'])).stdout.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]!);
    const probe = await stratum(['run', tag, 'sh', '-c', 'for l in "$@"; do [ -e /lib/x86_64-linux-gnu/$l ] || [ -e /usr/lib/x86_64-linux-gnu/$l ] || echo $l; done', 'sh', ...needed], { root });
    const missing = probe.stdout.trim().split('\n').filter(Boolean);
    assert.ok(missing.length > 0 && missing.length < needed.length, `readelf needs ${needed}; the image lacks ${missing}`);
    const reported = [...r.stdout.matchAll(/shared-libraries: \/usr\/local\/bin\/readelf: needs (\S+), which the image does not have/g)].map((m) => m[1]);
    assert.deepEqual(reported.sort(), missing.sort());
    assert.equal(r.stdout.match(/shared-libraries:/g)?.length, missing.length, 'nothing else in the image is reported');
    const waived = await stratum(['verify', '--allow', 'shared-libraries', tag], { root });
    assert.equal(waived.code, 0, waived.stdout);
    assert.match(waived.stdout, /allowed: shared-libraries/);
  });

  it('finds an image that runs as root although it has a service user; USER or the label settles it', async () => {
    const user = 'RUN groupadd -g 42424 svc && useradd -u 42424 -g 42424 -M svc';
    const rootTag = await image('root', `FROM ${BASE}\n${user}\n`);
    const r = await stratum(['verify', '--json', rootTag], { root });
    assert.equal(r.code, 1);
    const [report] = JSON.parse(r.stdout) as { findings: { check: string; message: string }[] }[];
    assert.deepEqual(report!.findings.map((f) => f.check), ['non-root']);
    assert.match(report!.findings[0]!.message, /service user svc \(uid 42424\): add USER svc/);
    const fixed = await image('user', `FROM ${BASE}\n${user}\nUSER svc\n`);
    assert.equal((await stratum(['verify', fixed], { root })).code, 0);
    const labelled = await image('label', `FROM ${BASE}\n${user}\nLABEL dev.stratum.verify.allow=non-root\n`);
    assert.equal((await stratum(['verify', labelled], { root })).code, 0);
    const bad = await stratum(['verify', '--allow', 'no-such-check', fixed], { root });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown check "no-such-check"/);
  });
});
