import { createHash } from 'node:crypto';
import { promises as fs, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { StratumError } from '../util/errors.js';
import { formatPlatform, platformMatches } from '../util/platform.js';
import { mapLimit } from '../util/concurrency.js';
import { checkIndex, checkManifest } from '../store/validate.js';
import {
  basicHeader,
  credentialsFor,
  dockerConfigPath,
  parseWWWAuthenticate,
  readDockerConfig,
  repositoryScope,
  type Challenge,
  type Credentials,
  type TokenResponse,
} from './auth.js';
import { parseErrorBody, RegistryError } from './errors.js';
import { drain, header, readBody, Transport, type HttpRequest, type HttpResponse } from './http.js';
import { BlobOrigins } from './origins.js';
import {
  formatReference,
  isLoopbackHost,
  manifestReference,
  normalizeRegistryHost,
  parseReference,
  registryEndpoint,
  type ImageReference,
} from './reference.js';
import { DEFAULT_RETRY, isRetryableError, isRetryableStatus, parseRetryAfter, RetryBudget, sleep, type RetryPolicy } from './retry.js';
import {
  isIndexMediaType,
  isManifestMediaType,
  MANIFEST_ACCEPT,
  type BlobSink,
  type BlobSource,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Platform,
  type RegistryEvent,
} from './types.js';

export interface RegistryClientOptions {
  /** docker config.json to read credentials from (default `$DOCKER_CONFIG/config.json` or ~/.docker/config.json). */
  dockerConfigFile?: string;
  /** Credentials by registry host; win over the docker config. */
  credentials?: Record<string, Credentials>;
  /** Registries reachable over plain HTTP or with unverified TLS. `STRATUM_INSECURE_REGISTRIES` (comma-separated) adds to it. */
  insecureRegistries?: string[];
  /** Extra CA certificate files (PEM) trusted for every registry (`--ca-cert`). */
  caCertFiles?: string[];
  /**
   * Directories holding `<host[:port]>/*.crt` CA files per registry, as docker's certs.d. Default:
   * `$STRATUM_CERTS_DIR`, /etc/stratum/certs.d, /etc/docker/certs.d.
   */
  certsDirs?: string[];
  /** Upload chunk size in bytes (default 8 MiB). */
  chunkSize?: number;
  /** Blobs transferred at once (default 4). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** A connection silent this long is dropped and retried (default 30 s). */
  idleTimeoutMs?: number;
  /** Where blobs were seen, for cross-repository mounts (default: in memory only). */
  origins?: BlobOrigins;
  /** Platform picked from an index when pulling (default linux/amd64). */
  platform?: Platform;
  onEvent?: (e: RegistryEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PushResult {
  /** Digest of the manifest (or index) the tag now points at. */
  digest: string;
  mediaType: string;
  size: number;
  /** Blobs sent in full. */
  uploaded: number;
  /** Blobs mounted from another repository. */
  mounted: number;
  /** Blobs the registry already had. */
  skipped: number;
  /** Manifests (and indexes) written. */
  manifests: number;
  bytesUploaded: number;
}

export interface PulledImage {
  reference: ImageReference;
  /** The platform manifest stored locally. */
  manifest: Descriptor;
  /** The index it was selected from, when the reference named one (also stored). */
  index?: Descriptor;
  /** Blobs fetched from the registry (the rest were already in the store). */
  downloaded: number;
}

interface AuthState {
  creds?: Promise<Credentials | undefined>;
  /** Set once the registry answered with a Basic challenge. */
  basic: boolean;
  /** Set once the registry answered with a Bearer challenge. */
  bearer?: { realm: string; service?: string };
  tokens: Map<string, { token: string; expires: number }>;
  /** Token requests in flight, so concurrent requests for one scope share one. */
  pendingTokens: Map<string, Promise<string>>;
}

interface Endpoint {
  registry: string;
  base: URL;
  transport: Transport;
  auth: AuthState;
}

/** What a request is for: named in errors, and what scopes its token needs. */
interface OpContext {
  repository?: string;
  operation: string;
  scopes: string[];
}

interface SendOptions {
  ok: number[];
  /** Network errors and 5xx are not retried here (the caller has its own recovery, e.g. chunk resume). */
  noRetry?: boolean;
}

const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };
const MANIFEST_LIMIT = 4 * 1024 * 1024;

function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

function digestOf(buf: Buffer, algorithm: string): string {
  return `${algorithm}:${createHash(algorithm).update(buf).digest('hex')}`;
}

function hashAlgorithm(digest: string): string {
  const algo = digest.slice(0, digest.indexOf(':'));
  if (algo !== 'sha256' && algo !== 'sha512') throw new StratumError(`unsupported digest algorithm in ${digest}`);
  return algo;
}

/** Waits until a writable wants more, or is gone (a consumer that gave up must not leave us waiting). */
function drainOrClose(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

export { mapLimit };

/** Whether `scope` (type:name:actions) is implied by one of `scopes`. */
function scopeCovered(scope: string, scopes: readonly string[]): boolean {
  const i = scope.lastIndexOf(':');
  const resource = scope.slice(0, i);
  const actions = scope.slice(i + 1).split(',');
  return scopes.some((s) => {
    const j = s.lastIndexOf(':');
    if (s.slice(0, j) !== resource) return false;
    const have = s.slice(j + 1).split(',');
    return actions.every((a) => have.includes(a) || have.includes('*'));
  });
}

function tlsHint(err: NodeJS.ErrnoException): string | undefined {
  const c = err.code ?? '';
  if (/wrong version number|packet length too long|http request/i.test(err.message)) {
    return ' (the registry does not speak TLS here: if it serves plain HTTP, mark it insecure with --insecure-registry or STRATUM_INSECURE_REGISTRIES)';
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/.test(c)) {
    return ' (TLS failed: trust its CA with --ca-cert or certs.d/<host>/ca.crt, or mark the registry insecure)';
  }
  return undefined;
}

export { formatPlatform };

/** An OCI distribution client: pull, push, resolve; auth, TLS, retries and resumable transfers. */
export class RegistryClient {
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  private readonly insecure: Set<string>;
  private readonly retry: RetryPolicy;
  private readonly chunkSize: number;
  private readonly concurrency: number;
  readonly origins: BlobOrigins;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.env = opts.env ?? process.env;
    const fromEnv = (this.env.STRATUM_INSECURE_REGISTRIES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    this.insecure = new Set([...(opts.insecureRegistries ?? []), ...fromEnv].map(normalizeRegistryHost));
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
    this.concurrency = opts.concurrency ?? 4;
    this.origins = opts.origins ?? new BlobOrigins();
  }

  /** Closes kept-alive connections. */
  close(): void {
    // Requests still under way fail now; none of them is retried (or reported as retrying) after this.
    this.closed = true;
    for (const p of this.endpoints.values()) p.then((e) => e.transport.close()).catch(() => undefined);
  }

  private closed = false;

  private emit(e: RegistryEvent): void {
    if (this.closed && e.kind === 'retry') return;
    this.opts.onEvent?.(e);
  }

  isInsecure(registry: string): boolean {
    return this.insecure.has(normalizeRegistryHost(registry));
  }

  private caFor(registry: string): Buffer[] {
    const out: Buffer[] = [];
    for (const f of this.opts.caCertFiles ?? []) out.push(readFileSync(f));
    const dirs = this.opts.certsDirs ?? [this.env.STRATUM_CERTS_DIR, '/etc/stratum/certs.d', '/etc/docker/certs.d'].filter((d): d is string => !!d);
    for (const dir of dirs) {
      const hostDir = path.join(dir, registry);
      let names: string[];
      try {
        if (!statSync(hostDir).isDirectory()) continue;
        names = readdirSync(hostDir);
      } catch {
        continue;
      }
      for (const n of names.sort()) if (n.endsWith('.crt')) out.push(readFileSync(path.join(hostDir, n)));
    }
    return out;
  }

  private endpoint(registry: string): Promise<Endpoint> {
    let p = this.endpoints.get(registry);
    if (!p) {
      p = this.openEndpoint(registry);
      this.endpoints.set(registry, p);
      p.catch(() => this.endpoints.delete(registry));
    }
    return p;
  }

  private async openEndpoint(registry: string): Promise<Endpoint> {
    const host = registryEndpoint(registry);
    const insecure = this.isInsecure(registry);
    const transport = new Transport({
      ca: this.caFor(registry),
      skipVerify: insecure,
      ...(this.opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: this.opts.idleTimeoutMs } : {}),
      userAgent: 'stratum-registry-client',
    });
    const auth: AuthState = { basic: false, tokens: new Map(), pendingTokens: new Map() };
    let base = new URL(`https://${host}/`);
    if (insecure) {
      // Insecure registries: HTTPS without verification when it answers, else plain HTTP (docker's behaviour).
      try {
        const res = await transport.request({ method: 'GET', url: new URL('/v2/', base) });
        await drain(res);
      } catch (e) {
        if (isRetryableError(e) && (e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw this.networkError(registry, undefined, 'connect', e);
        base = new URL(`http://${host}/`);
      }
    }
    return { registry, base, transport, auth };
  }

  private networkError(registry: string, repository: string | undefined, operation: string, e: unknown): StratumError {
    if (e instanceof StratumError) return e;
    const err = e as NodeJS.ErrnoException;
    let hint = tlsHint(err) ?? '';
    if (!hint && err.code === 'ECONNREFUSED' && isLoopbackHost(registry) && !this.isInsecure(registry)) {
      hint = ' (a local registry over plain HTTP must be marked insecure: --insecure-registry or STRATUM_INSECURE_REGISTRIES)';
    }
    const msg = (err.message ?? String(e)).split('\n')[0]!.replace(/^.*SSL routines:[^:]*:([^:]+):.*$/, '$1');
    return new RegistryError(
      { registry, ...(repository ? { repository } : {}), operation, detail: `${err.code && !msg.includes(err.code) ? `${err.code}: ` : ''}${msg}${hint}` },
      { cause: e },
    );
  }

  private credentials(ep: Endpoint): Promise<Credentials | undefined> {
    // One lookup per registry, shared by concurrent requests.
    ep.auth.creds ??= (async () => {
      const explicit = Object.entries(this.opts.credentials ?? {}).find(([k]) => normalizeRegistryHost(k) === normalizeRegistryHost(ep.registry));
      if (explicit) return explicit[1];
      const cfg = await readDockerConfig(this.opts.dockerConfigFile ?? dockerConfigPath(this.env));
      return credentialsFor(cfg, ep.registry);
    })();
    return ep.auth.creds;
  }

  private async authorization(ep: Endpoint, ctx: OpContext, fresh: boolean): Promise<string | undefined> {
    if (ep.auth.bearer) {
      const key = [...ctx.scopes].sort().join(' ');
      const cached = ep.auth.tokens.get(key);
      if (!fresh && cached && cached.expires > Date.now()) return `Bearer ${cached.token}`;
      let pending = ep.auth.pendingTokens.get(key);
      if (!pending) {
        pending = this.fetchToken(ep, ctx).finally(() => ep.auth.pendingTokens.delete(key));
        ep.auth.pendingTokens.set(key, pending);
      }
      return `Bearer ${await pending}`;
    }
    if (ep.auth.basic) {
      const c = await this.credentials(ep);
      if (c) return basicHeader(c);
    }
    return undefined;
  }

  private async fetchToken(ep: Endpoint, ctx: OpContext): Promise<string> {
    const b = ep.auth.bearer!;
    const url = new URL(b.realm);
    if (url.protocol === 'http:' && ep.base.protocol === 'https:') {
      throw new RegistryError({ registry: ep.registry, operation: `token request to ${b.realm}`, detail: 'refusing to send credentials to a plain-HTTP token realm of an HTTPS registry' });
    }
    if (b.service) url.searchParams.set('service', b.service);
    for (const s of ctx.scopes) url.searchParams.append('scope', s);
    const creds = await this.credentials(ep);
    const headers: Record<string, string> = {};
    if (creds) headers.Authorization = basicHeader(creds);
    const operation = `token request for ${ctx.scopes.join(' ') || 'registry access'}`;
    const budget = new RetryBudget(this.retry);
    let raw: Buffer;
    while (true) {
      budget.attempt++;
      const res = await this.exchange(ep, ctx.repository, operation, { method: 'GET', url, headers }, false);
      if (res.status !== 200) {
        const text = (await readBody(res, 65536).catch(() => Buffer.alloc(0))).toString('utf8');
        const detail = res.status === 401 || res.status === 403 ? (creds ? 'credentials rejected by the token server' : 'no credentials (run `stratum login`)') : parseErrorBody(text).message;
        throw new RegistryError({ registry: ep.registry, ...(ctx.repository ? { repository: ctx.repository } : {}), operation, status: res.status, ...(detail ? { detail } : {}) });
      }
      try {
        raw = await readBody(res, 1024 * 1024);
        break;
      } catch (e) {
        const d = isRetryableError(e) ? budget.next() : undefined;
        if (d === undefined) throw this.networkError(ep.registry, ctx.repository, operation, e);
        await sleep(d);
      }
    }
    let body: TokenResponse;
    try {
      body = JSON.parse(raw.toString('utf8')) as TokenResponse;
    } catch {
      throw new RegistryError({ registry: ep.registry, operation, detail: 'token server answered with something other than JSON' });
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError({ registry: ep.registry, operation, detail: 'token server answered without a token' });
    const ttl = Math.max(10, body.expires_in ?? 60) * 1000;
    // Renew a little early so a token never expires mid-request.
    ep.auth.tokens.set([...ctx.scopes].sort().join(' '), { token, expires: Date.now() + ttl - 5000 });
    return token;
  }

  /**
   * One request with retries on network failures and retryable statuses (429 with Retry-After, 5xx);
   * returns the first response that is not retryable.
   */
  private async exchange(ep: Endpoint, repository: string | undefined, operation: string, req: HttpRequest, noRetry: boolean): Promise<HttpResponse> {
    const budget = new RetryBudget(this.retry);
    while (true) {
      budget.attempt++;
      let res: HttpResponse;
      try {
        res = await ep.transport.request(req);
      } catch (e) {
        const d = noRetry || this.closed || !isRetryableError(e) ? undefined : budget.next();
        if (d === undefined) throw this.networkError(ep.registry, repository, operation, e);
        this.emit({ kind: 'retry', registry: ep.registry, operation, attempt: budget.attempt, delayMs: d, reason: (e as Error).message });
        await sleep(d);
        continue;
      }
      if (!noRetry && isRetryableStatus(res.status)) {
        const d = budget.next(parseRetryAfter(header(res, 'retry-after')));
        if (d !== undefined) {
          await drain(res);
          this.emit({ kind: 'retry', registry: ep.registry, operation, attempt: budget.attempt, delayMs: d, reason: `HTTP ${res.status}` });
          await sleep(d);
          continue;
        }
      }
      return res;
    }
  }

  /** An authenticated request: answers a 401 challenge once, then maps failures to RegistryError. */
  private async send(ep: Endpoint, ctx: OpContext, req: HttpRequest, so: SendOptions): Promise<HttpResponse> {
    let fresh = false;
    for (let round = 0; ; round++) {
      const headers = { ...req.headers };
      const auth = await this.authorization(ep, ctx, fresh);
      if (auth) headers.Authorization = auth;
      const res = await this.exchange(ep, ctx.repository, ctx.operation, { ...req, headers }, !!so.noRetry);
      if (so.ok.includes(res.status)) return res;
      if (res.status === 401 && round === 0) {
        const challenges = parseWWWAuthenticate(header(res, 'www-authenticate') ?? '');
        await drain(res);
        if (await this.acceptChallenge(ep, challenges, ctx, !!auth)) {
          fresh = true;
          continue;
        }
        throw new RegistryError({
          registry: ep.registry,
          ...(ctx.repository ? { repository: ctx.repository } : {}),
          operation: ctx.operation,
          status: 401,
          detail: (await this.credentials(ep)) ? 'credentials rejected' : 'no credentials (run `stratum login ' + ep.registry + '`)',
        });
      }
      const text = (await readBody(res, 65536).catch(() => Buffer.alloc(0))).toString('utf8');
      const body = parseErrorBody(text);
      let detail = body.message ?? (req.method === 'HEAD' ? undefined : text.trim().slice(0, 200) || undefined);
      if (res.status === 401) detail = (await this.credentials(ep)) ? 'credentials rejected' : 'no credentials (run `stratum login ' + ep.registry + '`)';
      throw new RegistryError({
        registry: ep.registry,
        ...(ctx.repository ? { repository: ctx.repository } : {}),
        operation: ctx.operation,
        status: res.status,
        ...(body.code ? { code: body.code } : {}),
        ...(detail ? { detail } : {}),
      });
    }
  }

  /** A GET whose whole (small) body is read; a connection lost while reading is retried too. */
  private async fetchBytes(ep: Endpoint, ctx: OpContext, req: HttpRequest, limit: number): Promise<{ res: HttpResponse; bytes: Buffer }> {
    const budget = new RetryBudget(this.retry);
    while (true) {
      budget.attempt++;
      const res = await this.send(ep, ctx, req, { ok: [200] });
      try {
        return { res, bytes: await readBody(res, limit) };
      } catch (e) {
        const d = isRetryableError(e) ? budget.next() : undefined;
        if (d === undefined) throw this.networkError(ep.registry, ctx.repository, ctx.operation, e);
        this.emit({ kind: 'retry', registry: ep.registry, operation: ctx.operation, attempt: budget.attempt, delayMs: d, reason: (e as Error).message });
        await sleep(d);
      }
    }
  }

  /** Learns how the registry wants to be authenticated; false when there is nothing more to try. */
  private async acceptChallenge(ep: Endpoint, challenges: Challenge[], ctx: OpContext, hadAuth: boolean): Promise<boolean> {
    const bearer = challenges.find((c) => c.scheme === 'Bearer' && c.params.realm);
    if (bearer) {
      ep.auth.bearer = { realm: bearer.params.realm!, ...(bearer.params.service ? { service: bearer.params.service } : {}) };
      // The registry may ask for more than we guessed (e.g. a mount's source repository).
      const scope = bearer.params.scope;
      if (scope) for (const s of scope.split(' ')) if (!scopeCovered(s, ctx.scopes)) ctx.scopes.push(s);
      return true;
    }
    const basic = challenges.find((c) => c.scheme === 'Basic');
    if (basic || challenges.length === 0) {
      if (hadAuth && ep.auth.basic) return false;
      if (!(await this.credentials(ep))) return false;
      ep.auth.basic = true;
      return true;
    }
    return false;
  }

  private url(ep: Endpoint, p: string): URL {
    return new URL(p, ep.base);
  }

  /**
   * Checks that the registry answers the API and accepts our credentials (GET /v2/), as `login` does
   * before saving them.
   */
  async ping(registry: string, credentials?: Credentials): Promise<void> {
    const reg = normalizeRegistryHost(registry);
    const ep = await this.endpoint(reg);
    if (credentials) ep.auth.creds = Promise.resolve(credentials);
    const res = await this.send(ep, { operation: 'login', scopes: [] }, { method: 'GET', url: this.url(ep, '/v2/') }, { ok: [200] });
    await drain(res);
  }

  // ---- manifests ----

  /** Fetches a manifest or index and verifies it against the digest it was asked by (if any). */
  async getManifest(reference: string | ImageReference): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const ep = await this.endpoint(ref.registry);
    const r = manifestReference(ref);
    const ctx = { repository: ref.repository, operation: `pull manifest ${r}`, scopes: [repositoryScope(ref.repository, ['pull'])] };
    const { res, bytes } = await this.fetchBytes(ep, ctx, { method: 'GET', url: this.url(ep, `/v2/${ref.repository}/manifests/${r}`), headers: { Accept: MANIFEST_ACCEPT } }, MANIFEST_LIMIT);
    const digest = ref.digest ? digestOf(bytes, hashAlgorithm(ref.digest)) : sha256(bytes);
    if (ref.digest && digest !== ref.digest) {
      throw new RegistryError({ registry: ref.registry, repository: ref.repository, operation: ctx.operation, detail: `content has digest ${digest}` });
    }
    const claimed = header(res, 'docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== sha256(bytes)) {
      throw new RegistryError({ registry: ref.registry, repository: ref.repository, operation: ctx.operation, detail: `registry says ${claimed} but content hashes to ${sha256(bytes)}` });
    }
    let mediaType: string | undefined;
    try {
      mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType;
    } catch {
      throw new RegistryError({ registry: ref.registry, repository: ref.repository, operation: ctx.operation, detail: 'manifest is not JSON' });
    }
    mediaType ??= (header(res, 'content-type') ?? '').split(';')[0]!.trim();
    return { bytes, descriptor: { mediaType, digest, size: bytes.length } };
  }

  /** The digest a tag points at now (the index for multi-platform images), asking with HEAD first. */
  async resolveDigest(reference: string | ImageReference): Promise<Descriptor> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const ep = await this.endpoint(ref.registry);
    const r = manifestReference(ref);
    const ctx = { repository: ref.repository, operation: `resolve ${r}`, scopes: [repositoryScope(ref.repository, ['pull'])] };
    const res = await this.send(ep, ctx, { method: 'HEAD', url: this.url(ep, `/v2/${ref.repository}/manifests/${r}`), headers: { Accept: MANIFEST_ACCEPT } }, { ok: [200] });
    await drain(res);
    const digest = header(res, 'docker-content-digest');
    const size = Number(header(res, 'content-length'));
    const mediaType = (header(res, 'content-type') ?? '').split(';')[0]!.trim();
    if (digest && /^sha256:[a-f0-9]{64}$/.test(digest) && Number.isFinite(size) && mediaType) return { mediaType, digest, size };
    return (await this.getManifest(ref)).descriptor;
  }

  // ---- blobs ----

  /**
   * Streams a blob, verifying size and digest as it flows; a connection dropped mid-body is resumed
   * with a Range request from the last byte received. The stream errors on a mismatch.
   */
  openBlob(reference: string | ImageReference, desc: Descriptor, signal?: AbortSignal): Readable {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    // The error reaches whoever reads the stream; until somebody does (a small blob can fail before its reader
    // starts), this keeps it from being an unhandled 'error' event that ends the process.
    out.on('error', () => undefined);
    const cancelled = () => out.destroyed || signal?.aborted === true || this.closed;
    signal?.addEventListener('abort', () => out.destroy(new StratumError(`pull of ${desc.digest} cancelled`)), { once: true });
    const run = async () => {
      const ep = await this.endpoint(ref.registry);
      const ctx = { repository: ref.repository, operation: `pull blob ${desc.digest}`, scopes: [repositoryScope(ref.repository, ['pull'])] };
      const hash = createHash(hashAlgorithm(desc.digest));
      const budget = new RetryBudget(this.retry);
      let offset = 0;
      while (true) {
        budget.attempt++;
        const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
        const res = await this.send(ep, ctx, { method: 'GET', url: this.url(ep, `/v2/${ref.repository}/blobs/${desc.digest}`), headers }, { ok: [200, 206] });
        let skip = offset > 0 && res.status === 200 ? offset : 0; // the server ignored Range: drop what we have
        const startedAt = offset;
        try {
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            let c = chunk;
            if (skip > 0) {
              const n = Math.min(skip, c.length);
              skip -= n;
              c = c.subarray(n);
              if (!c.length) continue;
            }
            offset += c.length;
            if (offset > desc.size) throw new RegistryError({ registry: ref.registry, repository: ref.repository, operation: ctx.operation, detail: `more than the ${desc.size} bytes announced` });
            hash.update(c);
            if (cancelled()) {
              res.body.destroy();
              return;
            }
            if (!out.write(c)) await drainOrClose(out);
          }
          if (offset < desc.size) throw Object.assign(new Error(`connection closed after ${offset} of ${desc.size} bytes`), { code: 'ECONNRESET' });
          break;
        } catch (e) {
          if (cancelled()) return;
          if (offset > startedAt) budget.progress();
          const d = isRetryableError(e) ? budget.next() : undefined;
          if (d === undefined) throw e instanceof StratumError ? e : this.networkError(ref.registry, ref.repository, ctx.operation, e);
          this.emit({ kind: 'retry', registry: ref.registry, operation: ctx.operation, attempt: budget.attempt, delayMs: d, reason: (e as Error).message });
          await sleep(d);
          if (cancelled()) return;
        }
      }
      if (cancelled()) return;
      const got = `${hashAlgorithm(desc.digest)}:${hash.digest('hex')}`;
      if (got !== desc.digest) {
        throw new RegistryError({ registry: ref.registry, repository: ref.repository, operation: ctx.operation, detail: `content has digest ${got}` });
      }
      this.emit({ kind: 'blob-downloaded', registry: ref.registry, repository: ref.repository, digest: desc.digest, size: desc.size });
      out.end();
    };
    run().catch((e: unknown) => out.destroy(e as Error));
    return out;
  }

  // ---- pull ----

  /**
   * Pulls an image into a content store: the index (if the reference names one), the manifest for the
   * wanted platform, its config and layers (in parallel, each verified while streaming; blobs the store
   * has are not fetched).
   */
  async pullImage(reference: string | ImageReference, store: BlobSink, opts: { platform?: Platform } = {}): Promise<PulledImage> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const want = opts.platform ?? this.opts.platform ?? DEFAULT_PLATFORM;
    let { bytes, descriptor } = await this.getManifest(ref);
    let index: Descriptor | undefined;
    if (isIndexMediaType(descriptor.mediaType)) {
      await this.putVerified(store, bytes, descriptor.digest);
      index = descriptor;
      const idx = checkIndex(JSON.parse(bytes.toString('utf8')), `${formatReference(ref)}: index ${descriptor.digest}`) as unknown as ImageIndex;
      const pick = idx.manifests.find((m) => platformMatches(m.platform, want));
      if (!pick) {
        const have = idx.manifests.filter((m) => m.platform && m.platform.os !== 'unknown').map((m) => formatPlatform(m.platform!));
        throw new StratumError(`${formatReference(ref)}: no manifest for platform ${formatPlatform(want)} (has ${have.join(', ') || 'none'})`);
      }
      ({ bytes, descriptor } = await this.getManifest({ ...ref, digest: pick.digest }));
      if (pick.platform) descriptor = { ...descriptor, platform: pick.platform };
    }
    if (!isManifestMediaType(descriptor.mediaType)) {
      throw new StratumError(`${formatReference(ref)}: unsupported manifest media type "${descriptor.mediaType}"`);
    }
    const manifest = checkManifest(JSON.parse(bytes.toString('utf8')), `${formatReference(ref)}: manifest ${descriptor.digest}`) as unknown as ImageManifest;
    let downloaded = 0;
    // One failed blob ends the pull: the others stop at once instead of retrying for nothing.
    const abort = new AbortController();
    await mapLimit(
      [manifest.config, ...manifest.layers],
      this.concurrency,
      async (d) => {
        if (await store.has(d.digest)) {
          this.emit({ kind: 'blob-cached', digest: d.digest });
        } else {
          await store.ingest(this.openBlob(ref, d, abort.signal), { digest: d.digest, size: d.size });
          downloaded++;
        }
        await this.origins.record(ref.registry, ref.repository, d.digest);
      },
      () => abort.abort(),
    );
    await this.putVerified(store, bytes, descriptor.digest);
    await this.origins.save();
    return { reference: ref, manifest: descriptor, ...(index ? { index } : {}), downloaded };
  }

  /** Pulls and returns the platform manifest's descriptor. */
  async pull(reference: string | ImageReference, store: BlobSink, opts: { platform?: Platform } = {}): Promise<Descriptor> {
    return (await this.pullImage(reference, store, opts)).manifest;
  }

  private async putVerified(store: BlobSink, bytes: Buffer, digest: string): Promise<void> {
    const r = await store.putBytes(bytes);
    if (digest.startsWith('sha256:') && r.digest !== digest) throw new StratumError(`store computed ${r.digest} for content expected as ${digest}`);
  }

  // ---- push ----

  /**
   * Pushes an image (manifest) or multi-platform image (index) from a content store to `reference`:
   * blobs first (skipping those the registry has, mounting those a sibling repository has), then the
   * manifests of an index, then the top manifest, so the tag never points at missing content.
   */
  async push(store: BlobSource, desc: Descriptor, reference: string | ImageReference): Promise<PushResult> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    if (ref.digest && ref.digest !== desc.digest) {
      throw new StratumError(`cannot push ${desc.digest} to ${formatReference(ref)}: the destination names another digest`);
    }
    const ep = await this.endpoint(ref.registry);
    const stats: PushResult = { digest: desc.digest, mediaType: desc.mediaType, size: desc.size, uploaded: 0, mounted: 0, skipped: 0, manifests: 0, bytesUploaded: 0 };
    const bytes = await store.readBytes(desc.digest);
    const mediaType = await this.pushContent(ep, ref.repository, store, bytes, desc, stats);
    await this.putManifest(ep, ref.repository, ref.tag ?? desc.digest, bytes, mediaType, desc.digest);
    stats.manifests++;
    stats.mediaType = mediaType;
    await this.origins.save();
    return stats;
  }

  /** Pushes everything a manifest or index refers to (not the manifest itself); returns its media type. */
  private async pushContent(ep: Endpoint, repo: string, store: BlobSource, bytes: Buffer, desc: Descriptor, stats: PushResult): Promise<string> {
    const doc = JSON.parse(bytes.toString('utf8')) as Partial<ImageManifest & ImageIndex>;
    const mediaType = doc.mediaType ?? desc.mediaType ?? (doc.manifests ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.oci.image.manifest.v1+json');
    if (isIndexMediaType(mediaType) || (doc.manifests && !doc.layers)) {
      for (const child of doc.manifests ?? []) {
        if (!(await store.has(child.digest))) throw new StratumError(`cannot push index ${desc.digest}: manifest ${child.digest} (${child.platform ? formatPlatform(child.platform) : 'no platform'}) is not in the local store`);
        const cbytes = await store.readBytes(child.digest);
        const ctype = await this.pushContent(ep, repo, store, cbytes, child, stats);
        await this.putManifest(ep, repo, child.digest, cbytes, ctype, child.digest);
        stats.manifests++;
      }
      return mediaType;
    }
    if (!doc.config || !doc.layers) throw new StratumError(`${desc.digest} is neither an image manifest nor an index`);
    const blobs = [doc.config, ...doc.layers];
    const seen = new Set<string>();
    const unique = blobs.filter((b) => (seen.has(b.digest) ? false : (seen.add(b.digest), true)));
    await mapLimit(unique, this.concurrency, (b) => this.pushBlob(ep, repo, store, b, stats));
    return mediaType;
  }

  private async putManifest(ep: Endpoint, repo: string, reference: string, bytes: Buffer, mediaType: string, digest: string): Promise<void> {
    const ctx = { repository: repo, operation: `push manifest ${reference}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.send(ep, ctx, { method: 'PUT', url: this.url(ep, `/v2/${repo}/manifests/${reference}`), headers: { 'Content-Type': mediaType }, body: bytes }, { ok: [200, 201, 202] });
    await drain(res);
    const got = header(res, 'docker-content-digest');
    if (got && digest.startsWith('sha256:') && got !== digest) {
      throw new RegistryError({ registry: ep.registry, repository: repo, operation: ctx.operation, detail: `registry stored ${got}, expected ${digest}` });
    }
    this.emit({ kind: 'manifest-pushed', registry: ep.registry, repository: repo, reference, digest });
  }

  private async blobExists(ep: Endpoint, repo: string, digest: string): Promise<boolean> {
    const ctx = { repository: repo, operation: `check blob ${digest}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.send(ep, ctx, { method: 'HEAD', url: this.url(ep, `/v2/${repo}/blobs/${digest}`) }, { ok: [200, 404] });
    await drain(res);
    return res.status === 200;
  }

  private async pushBlob(ep: Endpoint, repo: string, store: BlobSource, b: Descriptor, stats: PushResult): Promise<void> {
    if (await this.blobExists(ep, repo, b.digest)) {
      stats.skipped++;
      this.emit({ kind: 'blob-exists', registry: ep.registry, repository: repo, digest: b.digest });
      await this.origins.record(ep.registry, repo, b.digest);
      return;
    }
    const file = store.blobPath(b.digest);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st) throw new StratumError(`cannot push ${b.digest} to ${ep.registry}/${repo}: blob is not in the local store`);
    if (st.size !== b.size) throw new StratumError(`blob ${b.digest} in the local store has ${st.size} bytes, manifest says ${b.size}`);
    let location: URL | undefined;
    for (const from of (await this.origins.sources(ep.registry, b.digest, repo)).slice(0, 2)) {
      const ctx = { repository: repo, operation: `mount blob ${b.digest} from ${from}`, scopes: [repositoryScope(repo, ['pull', 'push']), repositoryScope(from, ['pull'])] };
      const url = this.url(ep, `/v2/${repo}/blobs/uploads/`);
      url.searchParams.set('mount', b.digest);
      url.searchParams.set('from', from);
      const res = await this.send(ep, ctx, { method: 'POST', url }, { ok: [201, 202] });
      await drain(res);
      if (res.status === 201) {
        stats.mounted++;
        this.emit({ kind: 'blob-mounted', registry: ep.registry, repository: repo, digest: b.digest, from });
        await this.origins.record(ep.registry, repo, b.digest);
        return;
      }
      // 202: no mount, but the registry opened an upload session we can use.
      this.noteMinChunk(ep, res);
      location = this.location(ep, res, ctx.operation);
      break;
    }
    await this.upload(ep, repo, file, b, location, stats);
    await this.origins.record(ep.registry, repo, b.digest);
  }

  private location(ep: Endpoint, res: HttpResponse, operation: string): URL {
    const loc = header(res, 'location');
    if (!loc) throw new RegistryError({ registry: ep.registry, operation, detail: 'response has no Location header' });
    return new URL(loc, res.url);
  }

  /** Registries may ask for a minimum chunk size (OCI-Chunk-Min-Length); remember it per registry. */
  private readonly minChunk = new Map<string, number>();
  private noteMinChunk(ep: Endpoint, res: HttpResponse): void {
    const n = Number(header(res, 'oci-chunk-min-length'));
    if (Number.isInteger(n) && n > 0) this.minChunk.set(ep.registry, n);
  }

  private async startUpload(ep: Endpoint, repo: string, digest: string): Promise<URL> {
    const ctx = { repository: repo, operation: `start upload of ${digest}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.send(ep, ctx, { method: 'POST', url: this.url(ep, `/v2/${repo}/blobs/uploads/`) }, { ok: [202] });
    await drain(res);
    this.noteMinChunk(ep, res);
    return this.location(ep, res, ctx.operation);
  }

  /**
   * Chunked upload: PATCH ranges of the file in order, then PUT ?digest=. After a dropped connection
   * or a refused range, ask the upload URL how far the registry got (GET → Range) and go on from there;
   * if the session is gone, start a new one.
   */
  private async upload(ep: Endpoint, repo: string, file: string, b: Descriptor, location: URL | undefined, stats: PushResult): Promise<void> {
    const scopes = [repositoryScope(repo, ['pull', 'push'])];
    let loc = location ?? (await this.startUpload(ep, repo, b.digest));
    let offset = 0;
    let chunks = 0;
    const budget = new RetryBudget(this.retry);
    const recover = async (e: unknown, operation: string) => {
      const d = budget.next();
      if (d === undefined) throw e instanceof StratumError ? e : this.networkError(ep.registry, repo, operation, e);
      this.emit({ kind: 'retry', registry: ep.registry, operation, attempt: ++budget.attempt, delayMs: d, reason: (e as Error).message });
      await sleep(d);
      // A refused range means our idea of the offset is wrong beyond repair: start over.
      const outOfStep = e instanceof RegistryError && e.status === 416;
      const st = outOfStep ? undefined : await this.uploadStatus(ep, repo, loc, b.digest).catch(() => undefined);
      if (st) {
        loc = st.location;
        offset = st.offset;
      } else {
        loc = await this.startUpload(ep, repo, b.digest);
        offset = 0;
      }
      this.emit({ kind: 'upload-resumed', registry: ep.registry, repository: repo, digest: b.digest, offset });
    };
    while (true) {
      while (offset < b.size) {
        const end = Math.min(offset + Math.max(this.chunkSize, this.minChunk.get(ep.registry) ?? 0), b.size);
        const operation = `upload ${b.digest} bytes ${offset}-${end - 1}`;
        try {
          const res = await this.send(
            ep,
            { repository: repo, operation, scopes },
            { method: 'PATCH', url: loc, headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end - 1}` }, body: { path: file, start: offset, end } },
            { ok: [202], noRetry: true },
          );
          await drain(res);
          loc = this.location(ep, res, operation);
          stats.bytesUploaded += end - offset;
          offset = end;
          chunks++;
          // Bound failure streaks, not the transfer: an upload over a flaky link goes on while chunks get through.
          budget.progress();
        } catch (e) {
          if (!this.recoverable(e)) throw e;
          await recover(e, operation);
        }
      }
      const operation = `finish upload of ${b.digest}`;
      const url = new URL(loc);
      url.searchParams.set('digest', b.digest);
      try {
        const res = await this.send(ep, { repository: repo, operation, scopes }, { method: 'PUT', url }, { ok: [201, 204], noRetry: true });
        await drain(res);
        break;
      } catch (e) {
        if (!this.recoverable(e) && !(e instanceof RegistryError && e.status === 404)) throw e;
        // A PUT whose answer was lost may have completed: the blob is there, or we resume.
        if (await this.blobExists(ep, repo, b.digest).catch(() => false)) break;
        await recover(e, operation);
      }
    }
    stats.uploaded++;
    this.emit({ kind: 'blob-uploaded', registry: ep.registry, repository: repo, digest: b.digest, size: b.size, chunks });
  }

  /** Network failures, 5xx/429 and 416 (range out of step) are recovered by asking for the upload's state. */
  private recoverable(e: unknown): boolean {
    if (e instanceof RegistryError) {
      if (e.status === undefined) return isRetryableError((e as { cause?: unknown }).cause);
      return e.status === 416 || isRetryableStatus(e.status);
    }
    return isRetryableError(e);
  }

  private async uploadStatus(ep: Endpoint, repo: string, loc: URL, digest: string): Promise<{ location: URL; offset: number } | undefined> {
    const ctx = { repository: repo, operation: `upload status of ${digest}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.send(ep, ctx, { method: 'GET', url: loc }, { ok: [204, 404] });
    await drain(res);
    if (res.status === 404) return undefined;
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '');
    // "0-0" is ambiguous (nothing or one byte); restart at 0 and let a 416 send us to a new session.
    const offset = range ? (Number(range[1]) === 0 ? 0 : Number(range[1]) + 1) : 0;
    return { location: header(res, 'location') ? this.location(ep, res, ctx.operation) : loc, offset };
  }

  /** Copies `src` to `dest` (same or another repository/registry), going through the store. */
  async copy(src: string, dest: string, store: BlobSink & BlobSource): Promise<PushResult> {
    const pulled = await this.pullImage(src, store);
    return this.push(store, pulled.manifest, dest);
  }
}

export { formatReference, parseReference };
