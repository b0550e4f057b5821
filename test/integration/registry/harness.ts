/** Real docker-registry instances, a token server, a connection-dropping proxy and hand-made images for tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { run } from '../../../src/util/exec.js';
import { rng } from '../../helpers/fuzz.js';
import { freePort, waitForPort } from '../../helpers/net.js';

export { freePort };


export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface RegistryInstance {
  host: string;
  port: number;
  dir: string;
  /** PEM file of the self-signed certificate (TLS instances). */
  certFile?: string;
  /** Directory with ca.crt, for skopeo --cert-dir. */
  certDir?: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  users?: Record<string, string>;
  tls?: boolean;
  token?: { realm: string; service: string; issuer: string; certFile: string };
}

export async function selfSignedCert(dir: string, cn = '127.0.0.1'): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { cert, key };
}

/** Starts /usr/bin/docker-registry on a free loopback port with filesystem storage in a temp dir. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RegistryInstance> {
  const dir = await tempDir('stratum-reg-');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'data')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
  ];
  let certFile: string | undefined;
  let certDir: string | undefined;
  if (opts.tls) {
    const { cert, key } = await selfSignedCert(dir);
    certFile = cert;
    certDir = path.join(dir, 'certs');
    await fs.mkdir(certDir);
    await fs.copyFile(cert, path.join(certDir, 'ca.crt'));
    lines.push('  tls:', `    certificate: ${cert}`, `    key: ${key}`);
  }
  if (opts.users) {
    const htpasswd = path.join(dir, 'htpasswd');
    let text = '';
    for (const [u, p] of Object.entries(opts.users)) text += (await run('htpasswd', ['-Bbn', u, p])).stdout.trim() + '\n';
    await fs.writeFile(htpasswd, text);
    lines.push('auth:', '  htpasswd:', '    realm: stratum-test', `    path: ${htpasswd}`);
  } else if (opts.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${opts.token.realm}`,
      `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`,
      `    rootcertbundle: ${opts.token.certFile}`,
    );
  }
  const config = path.join(dir, 'config.yml');
  await fs.writeFile(config, lines.join('\n') + '\n');
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const stop = async () => {
    await killChild(child);
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, { what: 'docker-registry', child, log: () => stderr, timeoutMs: 15_000 });
  } catch (e) {
    await stop();
    throw e;
  }
  return { host: `127.0.0.1:${port}`, port, dir, ...(certFile ? { certFile } : {}), ...(certDir ? { certDir } : {}), stop };
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await done;
  clearTimeout(t);
}


/** A minimal blob store over a directory, used where the test needs a second, independent store. */
export interface TestImage {
  manifest: { mediaType: string; digest: string; size: number };
  manifestBytes: Buffer;
  config: { digest: string; size: number };
  layers: { digest: string; size: number }[];
  blobs: Map<string, Buffer>;
}

function sha(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

/** A tar archive with one regular file (ustar, built by hand so the test needs nothing else). */
export function tarWithFile(name: string, content: Buffer): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(content.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

/** Builds a small OCI image (gzip layers of random content + config + manifest) in memory. */
export function makeImage(opts: { layers?: number[]; arch?: string; label?: string } = {}): TestImage {
  const blobs = new Map<string, Buffer>();
  const layers: { digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  (opts.layers ?? [3000, 200_000]).forEach((n, i) => {
    const tar = tarWithFile(`file${i}.bin`, randomBytes(n));
    diffIds.push(sha(tar));
    const gz = zlib.gzipSync(tar, { level: 1 });
    blobs.set(sha(gz), gz);
    layers.push({ digest: sha(gz), size: gz.length });
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch ?? 'amd64',
      os: 'linux',
      config: { Labels: { 'test.label': opts.label ?? randomBytes(4).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  blobs.set(sha(config), config);
  const manifestBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
    }),
  );
  blobs.set(sha(manifestBytes), manifestBytes);
  return {
    manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifestBytes), size: manifestBytes.length },
    manifestBytes,
    config: { digest: sha(config), size: config.length },
    layers,
    blobs,
  };
}

/** Writes an image as an OCI layout directory (for `skopeo copy oci:DIR:TAG`). */
export async function writeOciLayout(dir: string, img: TestImage, tag: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  await fs.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const [d, b] of img.blobs) await fs.writeFile(path.join(dir, 'blobs', 'sha256', d.slice(7)), b);
  await fs.writeFile(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ ...img.manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
}

export interface ProxyStats {
  requests: string[];
  connections: number;
  drops: number;
}


/**
 * A loopback TCP proxy in front of `target`. It logs the request lines (method + path) it sees and,
 * with `dropOneIn` = N, kills the connection carrying a request with probability 1/N (seeded), in turn:
 * (or with `every`, exactly every Nth request) before the request reaches the server, halfway through the request (the server gets a truncated
 * body), or halfway through the response (the client gets a truncated answer).
 */
export async function startProxy(
  targetPort: number,
  dropOneIn = 0,
  seed = 7,
  opts: { every?: boolean } = {},
): Promise<{ port: number; stats: ProxyStats; stop(): Promise<void> }> {
  const stats: ProxyStats = { requests: [], connections: 0, drops: 0 };
  const random = rng(seed);
  // `every`: drop exactly every Nth request instead of one in N at random.
  const shouldDrop = () => (opts.every ? stats.requests.length % dropOneIn === 0 : random() < 1 / dropOneIn);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    stats.connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let doomed: 'before' | 'request' | 'response' | undefined;
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (doomed === 'before' || doomed === 'request') return;
      const text = chunk.toString('latin1');
      for (const m of text.matchAll(/^(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.[01]\r$/gm)) {
        stats.requests.push(`${m[1]} ${m[2]}`);
        if (dropOneIn > 0 && !doomed && shouldDrop()) {
          doomed = (['before', 'request', 'response'] as const)[stats.drops % 3];
          stats.drops++;
        }
      }
      if (doomed === 'before') {
        kill();
        return;
      }
      if (doomed === 'request') {
        upstream.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))), () => setTimeout(kill, 20));
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (doomed === 'response') {
        client.write(chunk.subarray(0, Math.max(1, Math.floor(chunk.length / 2))), () => kill());
        return;
      }
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', kill);
    upstream.on('error', kill);
    client.on('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  return {
    port,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

/**
 * A token server for docker-registry's token auth: checks Basic credentials and answers with an RS256
 * JWT carrying the certificate in x5c and granting every requested repository scope.
 */
export async function startTokenServer(opts: { users: Record<string, string>; service: string; issuer: string; key: string; cert: string }): Promise<{
  port: number;
  realm: string;
  requests: { scopes: string[]; user?: string }[];
  stop(): Promise<void>;
}> {
  const keyPem = await fs.readFile(opts.key, 'utf8');
  const certPem = await fs.readFile(opts.cert, 'utf8');
  const der = Buffer.from(certPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const requests: { scopes: string[]; user?: string }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const auth = req.headers.authorization ?? '';
    let user: string | undefined;
    if (auth.startsWith('Basic ')) {
      const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (!u || opts.users[u] !== p) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"bad credentials"}');
        requests.push({ scopes, user: u });
        return;
      }
      user = u;
    }
    requests.push({ scopes, ...(user ? { user } : {}) });
    if (!user) {
      res.writeHead(401).end();
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.map((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop()!.split(',');
      return { type, name: rest.join(':'), actions };
    });
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = { iss: opts.issuer, sub: user, aud: opts.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signing = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(signing).sign(keyPem);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: `${signing}.${b64url(sig)}`, expires_in: 300 }));
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
  return {
    port,
    realm: `http://127.0.0.1:${port}/token`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Runs skopeo and returns parsed `inspect` output. */
export async function skopeoInspect(ref: string, args: string[] = []): Promise<{ Digest: string; Layers: string[] }> {
  const r = await run('skopeo', ['inspect', ...args, `docker://${ref}`], { timeout: 60_000 });
  return JSON.parse(r.stdout) as { Digest: string; Layers: string[] };
}

export async function skopeoRawManifest(ref: string, args: string[] = []): Promise<Buffer> {
  const r = await run('skopeo', ['inspect', '--raw', ...args, `docker://${ref}`], { timeout: 60_000 });
  return Buffer.from(r.stdout, 'utf8');
}
