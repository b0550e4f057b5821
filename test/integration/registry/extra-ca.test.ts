import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../../helpers/cli.js';
import { ContentStore, ImageStore } from '../../../src/store/index.js';
import { run } from '../../../src/util/exec.js';
import { makeImage, selfSignedCert, startRegistry, tempDir, type RegistryInstance } from './harness.js';

// bin/stratum keeps Node from loading NODE_EXTRA_CA_CERTS at start and reads the file itself on first TLS use:
// a CA trusted only through that variable must still be trusted, by the registry client and by ADD downloads.
describe('NODE_EXTRA_CA_CERTS through bin/stratum', { timeout: 300_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  let server: https.Server;
  let fileUrl: string;
  const launcher = path.join(REPO_ROOT, 'bin/stratum');
  const stratum = (args: string[], env: NodeJS.ProcessEnv) =>
    run(launcher, args, { check: false, env: { ...process.env, STRATUM_CLI: 'src', STRATUM_CERTS_DIR: path.join(work, 'no-certs'), ...env }, timeout: 120_000 });

  before(async () => {
    work = await tempDir('stratum-extra-ca-');
    reg = await startRegistry({ tls: true });
    await fs.mkdir(path.join(work, 'web'));
    const { cert, key } = await selfSignedCert(path.join(work, 'web'));
    server = https.createServer({ cert: await fs.readFile(cert), key: await fs.readFile(key) }, (_req, res) => res.end('served over TLS\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fileUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hello.txt`;
    // One bundle with both CAs, as a system bundle would hold them.
    await fs.writeFile(path.join(work, 'bundle.pem'), Buffer.concat([await fs.readFile(reg.certFile!), await fs.readFile(cert)]));
    const root = path.join(work, 'root');
    const content = new ContentStore(root);
    await content.init();
    const img = makeImage({ layers: [1000] });
    for (const b of img.blobs.values()) await content.putBytes(b);
    await new ImageStore(content).tag('app:dev', img.manifest);
  });
  after(async () => {
    server?.close();
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('push and pull trust a CA named only by NODE_EXTRA_CA_CERTS, and fail without it', async () => {
    const root = path.join(work, 'root');
    const ref = `${reg.host}/extra/app:1`;
    const untrusted = await stratum(['--root', root, 'push', 'app:dev', ref], { NODE_EXTRA_CA_CERTS: '' });
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /TLS failed/);

    const pushed = await stratum(['--root', root, 'push', 'app:dev', ref], { NODE_EXTRA_CA_CERTS: path.join(work, 'bundle.pem') });
    assert.equal(pushed.code, 0, pushed.stderr);
    const pulled = await stratum(['--root', path.join(work, 'root2'), 'pull', ref], { NODE_EXTRA_CA_CERTS: path.join(work, 'bundle.pem') });
    assert.equal(pulled.code, 0, pulled.stderr);
  });

  test('ADD of an https URL trusts it too', async () => {
    const ctx = path.join(work, 'ctx');
    await fs.mkdir(ctx, { recursive: true });
    await fs.writeFile(path.join(ctx, 'Dockerfile'), `FROM scratch\nADD ${fileUrl} /hello.txt\n`);
    const out = path.join(work, 'out');
    const env = { NODE_EXTRA_CA_CERTS: path.join(work, 'bundle.pem') };
    const built = await stratum(['--root', path.join(work, 'root3'), 'build', ctx, '--progress', 'plain', '-o', `type=local,dest=${out}`], env);
    assert.equal(built.code, 0, built.stderr);
    assert.equal(await fs.readFile(path.join(out, 'hello.txt'), 'utf8'), 'served over TLS\n');
    const refused = await stratum(['--root', path.join(work, 'root4'), 'build', ctx, '--progress', 'plain'], { NODE_EXTRA_CA_CERTS: '' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /cannot download https:\/\/127\.0\.0\.1:\d+\/hello\.txt: .*(certificate|self.signed)/i);
  });
});
