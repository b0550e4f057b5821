import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { RegistryClient, RegistryError, type RegistryEvent } from '../../../src/registry/index.js';

/**
 * A small HTTP server standing in for failure modes a real registry cannot be made to produce on
 * demand (429 with Retry-After, flapping 503s, bodies cut mid-way, servers that ignore Range).
 */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler = (_q, s) => s.writeHead(500).end();
const seen: string[] = [];
let server: http.Server;
let host = '';

before(async () => {
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.range ?? ''}`.trim());
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const client = (events: RegistryEvent[] = [], retry = {}) =>
  new RegistryClient({ env: {}, insecureRegistries: [host], dockerConfigFile: '/nonexistent/config.json', retry: { baseDelayMs: 5, maxDelayMs: 20, ...retry }, onEvent: (e) => events.push(e) });

const blob = randomBytes(300_000);
const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

async function collect(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test('429 with Retry-After and 503 are retried; the answer then comes through', async () => {
  seen.length = 0;
  let n = 0;
  handler = (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    n++;
    if (n === 1) return void res.writeHead(429, { 'Retry-After': '1' }).end();
    if (n === 2) return void res.writeHead(503).end();
    res.writeHead(200, { 'Docker-Content-Digest': `sha256:${'1'.repeat(64)}`, 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': '10' }).end();
  };
  const events: RegistryEvent[] = [];
  const c = client(events);
  const t0 = Date.now();
  const d = await c.resolveDigest(`${host}/a/b:1`);
  c.close();
  assert.equal(d.digest, `sha256:${'1'.repeat(64)}`);
  assert.ok(Date.now() - t0 >= 1000, 'Retry-After was honoured');
  assert.deepEqual(
    events.filter((e) => e.kind === 'retry').map((e) => (e as { reason: string }).reason),
    ['HTTP 429', 'HTTP 503'],
  );
});

test('retries are bounded: a registry that keeps failing gives a clear error', async () => {
  seen.length = 0;
  handler = (req, res) => (req.url === '/v2/' ? res.writeHead(200).end() : res.writeHead(502).end('bad gateway'));
  const c = client([], { maxAttempts: 3 });
  await assert.rejects(c.resolveDigest(`${host}/a/b:1`), (e: unknown) => {
    assert.ok(e instanceof RegistryError);
    assert.match(e.message, new RegExp(`registry ${host}/a/b: resolve 1 failed with HTTP 502`));
    return true;
  });
  c.close();
  assert.equal(seen.filter((l) => l.startsWith('HEAD')).length, 3);
});

test('403 and 404 fail at once, naming registry, repository and operation', async () => {
  for (const status of [403, 404]) {
    seen.length = 0;
    handler = (req, res) =>
      req.url === '/v2/'
        ? res.writeHead(200).end()
        : res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'DENIED', message: 'nope' }] }));
    const c = client();
    const err = await c.getManifest(`${host}/team/app:v9`).catch((e: unknown) => e);
    c.close();
    assert.ok(err instanceof RegistryError);
    assert.equal(err.status, status);
    assert.match(err.message, new RegExp(`registry ${host}/team/app: pull manifest v9 .*\\(${status}\\): nope`));
    assert.equal(seen.filter((l) => l.startsWith('GET /v2/team')).length, 1);
  }
});

test('a blob body cut mid-way resumes with Range and verifies', async () => {
  seen.length = 0;
  let first = true;
  handler = (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end();
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    if (first) {
      first = false;
      res.writeHead(200, { 'Content-Length': String(blob.length) });
      res.write(blob.subarray(0, 100_000), () => res.destroy());
      return;
    }
    const start = Number(m?.[1] ?? 0);
    res.writeHead(206, { 'Content-Length': String(blob.length - start), 'Content-Range': `bytes ${start}-${blob.length - 1}/${blob.length}` });
    res.end(blob.subarray(start));
  };
  const c = client();
  const got = await collect(c.openBlob(`${host}/a/b`, { mediaType: 'x', digest, size: blob.length }));
  c.close();
  assert.ok(got.equals(blob));
  const ranged = seen.find((l) => l.includes('bytes='));
  assert.ok(ranged, seen.join('\n'));
  assert.match(ranged, /bytes=\d+-$/);
  assert.notEqual(ranged.split('bytes=')[1], '0-');
});

test('a server that ignores Range still yields the right bytes; corrupt content fails the digest', async () => {
  let first = true;
  handler = (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end();
    res.writeHead(200, { 'Content-Length': String(blob.length) });
    if (first) {
      first = false;
      res.write(blob.subarray(0, 50_000), () => res.destroy());
    } else res.end(blob);
  };
  const c = client();
  assert.ok((await collect(c.openBlob(`${host}/a/b`, { mediaType: 'x', digest, size: blob.length }))).equals(blob));

  const corrupt = Buffer.from(blob);
  corrupt[1234] = corrupt[1234]! ^ 0xff;
  handler = (req, res) => (req.url === '/v2/' ? res.writeHead(200).end() : res.writeHead(200, { 'Content-Length': String(corrupt.length) }).end(corrupt));
  await assert.rejects(collect(c.openBlob(`${host}/a/b`, { mediaType: 'x', digest, size: blob.length })), /pull blob sha256:[0-9a-f]+ failed: content has digest sha256:/);
  handler = (req, res) => (req.url === '/v2/' ? res.writeHead(200).end() : res.writeHead(200).end(Buffer.concat([blob, Buffer.from('x')])));
  await assert.rejects(collect(c.openBlob(`${host}/a/b`, { mediaType: 'x', digest, size: blob.length })), /more than the 300000 bytes announced/);
  c.close();
});

test('a manifest asked by digest must hash to that digest', async () => {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));
  handler = (req, res) => (req.url === '/v2/' ? res.writeHead(200).end() : res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }).end(body));
  const c = client();
  const good = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  assert.equal((await c.getManifest(`${host}/a/b@${good}`)).descriptor.digest, good);
  await assert.rejects(c.getManifest(`${host}/a/b@sha256:${'0'.repeat(64)}`), /content has digest sha256:/);
  c.close();
});


test('a consumer that stops reading does not leave the download hanging', async () => {
  let closed = false;
  handler = (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end();
    res.on('close', () => (closed = true));
    // Far more than socket buffers hold: the server blocks on backpressure until the client lets go.
    const total = 256 * 1024 * 1024;
    res.writeHead(200, { 'Content-Length': String(total) });
    const chunk = Buffer.alloc(1 << 20);
    let sent = 0;
    const pump = () => {
      while (sent < total && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (sent >= total) res.end();
    };
    pump();
  };
  const c = client();
  const s = c.openBlob(`${host}/a/b`, { mediaType: 'x', digest, size: 256 * 1024 * 1024 });
  // Nobody reads: the stream's buffer fills and the download waits for room, then the consumer gives up.
  while (s.readableLength < s.readableHighWaterMark) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 300));
  s.destroy();
  const t0 = Date.now();
  while (!closed && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
  c.close();
  assert.equal(closed, true);
});

test('push honours OCI-Chunk-Min-Length, sends chunks in order and the manifest last', async () => {
  const { promises: fs } = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'stratum-push-'));
  try {
    const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: blob.length }],
      }),
    );
    const files = new Map([
      [digest, blob],
      [sha(config), config],
      [sha(manifest), manifest],
    ]);
    for (const [d, b] of files) await fs.writeFile(path.join(dir, d.slice(7)), b);
    const store = {
      has: async (d: string) => files.has(d),
      blobPath: (d: string) => path.join(dir, d.slice(7)),
      readBytes: async (d: string) => files.get(d)!,
    };
    const received = new Map<string, Buffer[]>();
    const log: string[] = [];
    handler = (req, res) => {
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/v2/') return void res.writeHead(200).end();
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        if (req.method === 'HEAD') return void res.writeHead(404).end();
        if (req.method === 'POST') {
          const id = String(received.size);
          received.set(id, []);
          return void res.writeHead(202, { Location: `/v2/r/blobs/uploads/${id}`, 'OCI-Chunk-Min-Length': '200000', Range: '0-0' }).end();
        }
        const id = url.pathname.split('/').pop()!;
        if (req.method === 'PATCH') {
          log.push(`PATCH ${req.headers['content-range']}`);
          received.get(id)!.push(body);
          const n = Buffer.concat(received.get(id)!).length;
          return void res.writeHead(202, { Location: `/v2/r/blobs/uploads/${id}`, Range: `0-${n - 1}` }).end();
        }
        if (req.method === 'PUT' && url.pathname.includes('/blobs/uploads/')) {
          const got = sha(Buffer.concat(received.get(id)!));
          log.push(`PUT blob ${got === url.searchParams.get('digest') ? 'ok' : 'BAD'}`);
          return void res.writeHead(201, { Location: `/v2/r/blobs/${got}` }).end();
        }
        if (req.method === 'PUT' && url.pathname.startsWith('/v2/r/manifests/')) {
          log.push(`PUT manifest ${sha(body) === sha(manifest) ? 'ok' : 'BAD'} ${req.headers['content-type']}`);
          return void res.writeHead(201, { 'Docker-Content-Digest': sha(body) }).end();
        }
        res.writeHead(400).end();
      });
    };
    const c = new RegistryClient({ env: {}, insecureRegistries: [host], dockerConfigFile: '/nonexistent', chunkSize: 1024, concurrency: 1 });
    const r = await c.push(store, { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length }, `${host}/r:v1`);
    c.close();
    assert.equal(r.uploaded, 2);
    assert.equal(log.at(-1), 'PUT manifest ok application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(
      log.filter((l) => l.startsWith('PATCH')),
      [`PATCH 0-${config.length - 1}`, 'PATCH 0-199999', `PATCH 200000-${blob.length - 1}`],
    );
    assert.equal(log.filter((l) => l === 'PUT blob ok').length, 2);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
