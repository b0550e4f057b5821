/**
 * What a person sees when a registry cannot be used: one line that names the registry and the cause, the exit
 * code, and no "retrying" lines for failures that waiting does not fix (refused credentials, TLS, nothing
 * listening on this machine, a name that names no registry).
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { saveCredentials } from '../../../src/registry/index.js';
import { ContentStore, ImageStore } from '../../../src/store/index.js';
import { stratum as runCli, type CliResult } from '../../helpers/cli.js';
import { freePort, portFree } from '../../helpers/net.js';
import { makeImage, startRegistry, tempDir, type RegistryInstance } from './harness.js';

describe('registry failures: one line, no retries', { timeout: 180_000 }, () => {
  let work: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  let auth: RegistryInstance;
  let tls: RegistryInstance;
  let plain: RegistryInstance;
  let forbidding: http.Server;
  let forbiddingHost: string;
  /** How long the CLI takes to start and do nothing: the yardstick for "at once". */
  let startupMs: number;

  const stratum = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult & { ms: number }> => {
    const t = Date.now();
    const r = await runCli(args, { root, env: { ...env, ...extra } });
    return { ...r, ms: Date.now() - t };
  };
  /** The failure is a single `error:` line, nothing about retrying before it. */
  const oneLine = (r: CliResult, code: number, re: RegExp) => {
    assert.equal(r.code, code, r.stderr);
    assert.doesNotMatch(r.stderr, /retrying/);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re);
  };

  before(async () => {
    work = await tempDir('stratum-regfail-');
    root = path.join(work, 'root');
    env = { DOCKER_CONFIG: path.join(work, 'docker'), STRATUM_INSECURE_REGISTRIES: '', STRATUM_CERTS_DIR: path.join(work, 'certs.d') };
    [auth, tls, plain] = await Promise.all([startRegistry({ users: { bob: 'hunter22' } }), startRegistry({ tls: true }), startRegistry()]);
    // Nothing in docker-registry answers 403; a front that forbids everything stands in for one that does.
    forbidding = http.createServer((_req, res) => res.writeHead(403, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}'));
    await new Promise<void>((r) => forbidding.listen(0, '127.0.0.1', r));
    forbiddingHost = `127.0.0.1:${(forbidding.address() as AddressInfo).port}`;
    const content = new ContentStore(root);
    await content.init();
    const img = makeImage({ layers: [2000] });
    for (const b of img.blobs.values()) await content.putBytes(b);
    await new ImageStore(content).tag('x:1', img.manifest);
    const t = Date.now();
    assert.equal((await runCli(['--version'], { env })).code, 0);
    startupMs = Date.now() - t;
  });
  after(async () => {
    await Promise.all([auth?.stop(), tls?.stop(), plain?.stop()]);
    await new Promise((r) => forbidding?.close(r));
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('401: no credentials, then wrong ones: not retried, the line says which and what to do', async () => {
    const none = await stratum(['push', 'x:1', `${auth.host}/t/x:1`], { STRATUM_INSECURE_REGISTRIES: auth.host });
    oneLine(none, 1, new RegExp(`^error: registry ${auth.host}/t/x: .* refused: unauthorized \\(401\\): no credentials \\(run \`stratum login ${auth.host}\`\\)$`));
    await saveCredentials(auth.host, { username: 'bob', password: 'wrong' }, path.join(work, 'docker', 'config.json'));
    const wrong = await stratum(['push', 'x:1', `${auth.host}/t/x:1`], { STRATUM_INSECURE_REGISTRIES: auth.host });
    oneLine(wrong, 1, new RegExp(`^error: registry ${auth.host}/t/x: .* refused: unauthorized \\(401\\): credentials rejected$`));
    const pull = await stratum(['pull', `${auth.host}/t/x:1`], { STRATUM_INSECURE_REGISTRIES: auth.host });
    oneLine(pull, 1, new RegExp(`^error: registry ${auth.host}/t/x: pull manifest 1 refused: unauthorized \\(401\\): credentials rejected$`));
  });

  test('403: not retried; where the answer has a body, the registry\'s own reason is shown', async () => {
    const push = await stratum(['push', 'x:1', `${forbiddingHost}/t/x:1`], { STRATUM_INSECURE_REGISTRIES: forbiddingHost });
    oneLine(push, 1, new RegExp(`^error: registry ${forbiddingHost}/t/x: check blob sha256:[0-9a-f]{64} refused: forbidden \\(403\\)$`));
    const pull = await stratum(['pull', `${forbiddingHost}/t/x:1`], { STRATUM_INSECURE_REGISTRIES: forbiddingHost });
    oneLine(pull, 1, new RegExp(`^error: registry ${forbiddingHost}/t/x: pull manifest 1 refused: forbidden \\(403\\): requested access to the resource is denied$`));
  });

  test('TLS: an untrusted certificate, or a registry that speaks plain HTTP: not retried, with what to do', async () => {
    const untrusted = await stratum(['push', 'x:1', `${tls.host}/t/x:1`]);
    oneLine(untrusted, 1, new RegExp(`^error: registry ${tls.host}/t/x: .* failed: DEPTH_ZERO_SELF_SIGNED_CERT: self-signed certificate \\(TLS failed: trust its CA with --ca-cert`));
    const pull = await stratum(['pull', `${tls.host}/t/x:1`]);
    oneLine(pull, 1, new RegExp(`^error: registry ${tls.host}/t/x: pull manifest 1 failed: DEPTH_ZERO_SELF_SIGNED_CERT`));
    const http = await stratum(['push', 'x:1', `${plain.host}/t/x:1`]);
    oneLine(http, 1, new RegExp(`^error: registry ${plain.host}/t/x: .* failed: EPROTO: wrong version number \\(the registry does not speak TLS here: .*--insecure-registry`));
    // Each failed at its first answer: no backoff was waited for.
    for (const r of [untrusted, pull, http]) assert.ok(r.ms < startupMs + 2000, `${r.ms} ms (startup ${startupMs} ms)`);
  });

  test('push localhost/x:1 names no registry: refused at once, as bad input', async () => {
    const r = await stratum(['push', 'localhost/x:1']);
    oneLine(r, 2, /^error: cannot push localhost\/x:1: it names no registry \("localhost\/" without a port is the local store's own prefix\); name the registry with its port, e\.g\. stratum push localhost\/x:1 localhost:5000\/x:1$/);
    assert.ok(r.ms < startupMs + 2000, `${r.ms} ms (startup ${startupMs} ms)`);
    // The same as a destination.
    oneLine(await stratum(['push', 'x:1', 'localhost/y:2']), 2, /^error: cannot push localhost\/y:2: it names no registry/);
  });

  test('nothing listening on this machine: said at once, not retried', async () => {
    const port = await freePort();
    const r = await stratum(['push', 'x:1', `127.0.0.1:${port}/t/x:1`]);
    oneLine(r, 1, new RegExp(`^error: registry 127\\.0\\.0\\.1:${port}: connect failed: nothing listens on 127\\.0\\.0\\.1:${port} \\(connection refused\\)$`));
    assert.ok(r.ms < startupMs + 2000, `${r.ms} ms (startup ${startupMs} ms)`);
    const insecure = await stratum(['pull', `localhost:${port}/t/x:1`], { STRATUM_INSECURE_REGISTRIES: `localhost:${port}` });
    oneLine(insecure, 1, new RegExp(`^error: registry localhost:${port}: connect failed: nothing listens on localhost:${port} \\(connection refused\\)$`));
    // A loopback address without a port means 443; the line says so.
    if (await portFree(443)) {
      const noPort = await stratum(['push', 'x:1', '127.0.0.1/t/x:1']);
      oneLine(noPort, 1, /^error: registry 127\.0\.0\.1: connect failed: nothing listens on 127\.0\.0\.1:443 \(connection refused\); "127\.0\.0\.1" without a port means HTTPS on port 443: name a local registry with its port, e\.g\. 127\.0\.0\.1:5000\/t\/x$/);
    }
  });
});
