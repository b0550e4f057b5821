/** `stratum images`: one row per name, with platforms and creation time, for single images and indexes alike. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stratum } from '../../helpers/cli.js';
import { ContentStore, ImageStore } from '../../../src/store/index.js';
import { ago } from '../../../src/cli/commands/images.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

describe('stratum images', { timeout: 120_000 }, () => {
  let tmp: string;
  let root: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-images-'));
    root = path.join(tmp, 'root');
    await mkdir(path.join(tmp, 'ctx'));
    await writeFile(path.join(tmp, 'ctx', 'Dockerfile'), 'FROM scratch\nCOPY a.txt /a.txt\n');
    await writeFile(path.join(tmp, 'ctx', 'a.txt'), 'a\n');
    const built = await stratum(['build', '-q', path.join(tmp, 'ctx'), '-t', 'localhost/built:1'], { root, env: { SOURCE_DATE_EPOCH: '1600000000' } });
    assert.equal(built.code, 0, built.stderr);

    // A two-platform index made of that image's config under two platform entries (arm64's entry only, as a
    // registry may serve an index whose other manifests were never pulled), plus an attestation.
    const content = new ContentStore(root);
    const images = new ImageStore(content);
    const one = (await images.resolve('localhost/built:1'))!;
    const att = await content.putBytes(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: [] }));
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: OCI_MANIFEST, digest: one.digest, size: one.size, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: OCI_MANIFEST, digest: `sha256:${'1'.repeat(64)}`, size: 400, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
        { mediaType: OCI_MANIFEST, digest: att.digest, size: att.size, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    };
    const idx = await content.putBytes(JSON.stringify(index));
    await images.tag('localhost/multi:1', { mediaType: OCI_INDEX, digest: idx.digest, size: idx.size });
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('shows platforms and when each image was made', async () => {
    const r = await stratum(['images'], { root });
    assert.equal(r.code, 0, r.stderr);
    const [head, ...rows] = r.stdout.trimEnd().split('\n');
    assert.match(head!, /^NAME\s+DIGEST\s+PLATFORMS\s+CREATED\s+LAYERS\s+SIZE$/);
    const years = `${new Date().getUTCFullYear() - 2020 - (new Date().getUTCMonth() < 8 ? 1 : 0)} years ago`;
    assert.match(rows.find((l) => l.startsWith('localhost/built:1'))!, new RegExp(`^localhost/built:1\\s+[0-9a-f]{12}\\s+linux/amd64\\s+${years}\\s+1\\s+[\\d.]+ (B|KiB)$`));
    assert.match(rows.find((l) => l.startsWith('localhost/multi:1'))!, new RegExp(`^localhost/multi:1\\s+[0-9a-f]{12}\\s+linux/amd64,linux/arm64/v8\\s+${years}\\s+1\\s+[\\d.]+ (B|KiB)$`));
  });

  it('--json carries the same fields', async () => {
    const r = await stratum(['images', '--json'], { root });
    const rows = JSON.parse(r.stdout) as { name: string; platforms: string[]; created?: string }[];
    assert.deepEqual(rows.find((x) => x.name === 'localhost/multi:1')!.platforms, ['linux/amd64', 'linux/arm64/v8']);
    assert.equal(rows.find((x) => x.name === 'localhost/built:1')!.created!.replace(/\.000Z$/, 'Z'), '2020-09-13T12:26:40Z');
  });

  it('says how long ago as docker does', () => {
    assert.equal(ago(500), 'just now');
    assert.equal(ago(42_000), '42 seconds ago');
    assert.equal(ago(61_000), '1 minute ago');
    assert.equal(ago(3 * 3600_000 + 5), '3 hours ago');
    assert.equal(ago(9 * 86400_000), '1 week ago');
    assert.equal(ago(400 * 86400_000), '1 year ago');
  });
});
