/**
 * The registry client's connection layer: one endpoint per registry (TLS or plain HTTP, its CAs), authentication
 * (Basic, Bearer tokens per scope), and requests with retries and errors that name registry, repository and
 * operation. client.ts builds pulls and pushes on it.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { StratumError } from '../util/errors.js';
import { basicHeader, credentialsFor, dockerConfigPath, parseWWWAuthenticate, readDockerConfig, type Challenge, type Credentials, type TokenResponse } from './auth.js';
import { parseErrorBody, RegistryError } from './errors.js';
import { drain, header, readBody, Transport, type HttpRequest, type HttpResponse } from './http.js';
import { isLoopbackHost, normalizeRegistryHost, registryEndpoint } from './reference.js';
import { DEFAULT_RETRY, isRetryableError, isRetryableStatus, parseRetryAfter, refusedOnLoopback, RetryBudget, sleep, type RetryPolicy } from './retry.js';
import type { RegistryEvent } from './types.js';
import type { RegistryClientOptions } from './options.js';

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

export interface Endpoint {
  registry: string;
  base: URL;
  transport: Transport;
  auth: AuthState;
}

/** What a request is for: named in errors, and what scopes its token needs. */
export interface OpContext {
  repository?: string;
  operation: string;
  scopes: string[];
}

export interface SendOptions {
  ok: number[];
  /** Network errors and 5xx are not retried here (the caller has its own recovery, e.g. chunk resume). */
  noRetry?: boolean;
}

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

/**
 * Nothing listens where the registry should be, on this machine: one line that says so, and for a name without a
 * port that it means HTTPS on 443 (a local registry is almost always on a port of its own, e.g. 5000).
 */
function refusedError(registry: string, repository: string | undefined, e: unknown): RegistryError {
  const err = e as NodeJS.ErrnoException & { address?: string; port?: number };
  const named = /:(\d+)$/.exec(registry);
  const port = err.port ?? (named ? Number(named[1]) : 443);
  const samePort = port === (named ? Number(named[1]) : 443);
  const where = samePort ? `${registry.replace(/:\d+$/, '')}:${port}` : `${err.address?.includes(':') ? `[${err.address}]` : (err.address ?? registry)}:${port}`;
  const hint = named ? '' : `; "${registry}" without a port means HTTPS on port 443: name a local registry with its port, e.g. ${registry}:5000/${repository ?? 'NAME'}`;
  return new RegistryError({ registry, operation: 'connect', detail: `nothing listens on ${where} (connection refused)${hint}` }, { cause: e });
}

export class RegistryConnection {
  private readonly endpoints = new Map<string, Promise<Endpoint>>();
  private readonly insecure: Set<string>;
  readonly retry: RetryPolicy;
  private readonly env: NodeJS.ProcessEnv;
  /** Set by close(): requests still under way fail, and none is retried (or reported as retrying) after it. */
  closed = false;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.env = opts.env ?? process.env;
    const fromEnv = (this.env.STRATUM_INSECURE_REGISTRIES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    this.insecure = new Set([...(opts.insecureRegistries ?? []), ...fromEnv].map(normalizeRegistryHost));
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
  }

  close(): void {
    this.closed = true;
    for (const p of this.endpoints.values()) p.then((e) => e.transport.close()).catch(() => undefined);
  }

  emit(e: RegistryEvent): void {
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

  endpoint(registry: string): Promise<Endpoint> {
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

  /** Whether a failed request is worth another try (retry.ts), for this registry. */
  retryable(registry: string, e: unknown): boolean {
    return isRetryableError(e) && !refusedOnLoopback(e, isLoopbackHost(registry));
  }

  networkError(registry: string, repository: string | undefined, operation: string, e: unknown): StratumError {
    if (e instanceof StratumError) return e;
    const err = e as NodeJS.ErrnoException;
    if (refusedOnLoopback(e, isLoopbackHost(registry))) return refusedError(registry, repository, e);
    const hint = tlsHint(err) ?? '';
    const msg = (err.message ?? String(e)).split('\n')[0]!.replace(/^.*SSL routines:[^:]*:([^:]+):.*$/, '$1');
    return new RegistryError(
      { registry, ...(repository ? { repository } : {}), operation, detail: `${err.code && !msg.includes(err.code) ? `${err.code}: ` : ''}${msg}${hint}` },
      { cause: e },
    );
  }

  credentials(ep: Endpoint): Promise<Credentials | undefined> {
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
  async exchange(ep: Endpoint, repository: string | undefined, operation: string, req: HttpRequest, noRetry: boolean): Promise<HttpResponse> {
    const budget = new RetryBudget(this.retry);
    while (true) {
      budget.attempt++;
      let res: HttpResponse;
      try {
        res = await ep.transport.request(req);
      } catch (e) {
        const d = noRetry || this.closed || !this.retryable(ep.registry, e) ? undefined : budget.next();
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
  async send(ep: Endpoint, ctx: OpContext, req: HttpRequest, so: SendOptions): Promise<HttpResponse> {
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
  async fetchBytes(ep: Endpoint, ctx: OpContext, req: HttpRequest, limit: number): Promise<{ res: HttpResponse; bytes: Buffer }> {
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

  url(ep: Endpoint, p: string): URL {
    return new URL(p, ep.base);
  }
}
