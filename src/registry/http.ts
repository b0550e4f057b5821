import { createReadStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { trustedCAs } from '../util/tls.js';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/**
 * A request body that can be produced again on retry: bytes in memory, or a byte range of a file
 * (`end` exclusive) so chunked uploads never hold a whole layer in memory.
 */
export type RequestBody = Buffer | { path: string; start: number; end: number };

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  body: IncomingMessage;
}

export interface TransportOptions {
  /** Extra trusted CA certificates (PEM); added to Node's default roots. */
  ca?: (string | Buffer)[];
  /** Skip TLS verification (registries marked insecure). */
  skipVerify?: boolean;
  /** Socket idle timeout: a connection silent this long fails with ETIMEDOUT. */
  idleTimeoutMs?: number;
  userAgent?: string;
}

export function bodyLength(body: RequestBody | undefined): number {
  if (body === undefined) return 0;
  return Buffer.isBuffer(body) ? body.length : body.end - body.start;
}

/**
 * HTTP over node:http/https rather than global fetch: Node 20's fetch cannot take a per-registry CA
 * without the separate undici package, and chunked uploads need an exact Content-Length on a
 * streamed file range, which node:http gives directly.
 */
export class Transport {
  private readonly httpsAgent: https.Agent;
  private readonly httpAgent: http.Agent;
  private readonly idleTimeoutMs: number;
  private readonly userAgent: string;

  constructor(opts: TransportOptions = {}) {
    const ca = trustedCAs(opts.ca);
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(ca ? { ca } : {}),
      rejectUnauthorized: !opts.skipVerify,
    });
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? 'stratum';
  }

  /** Sends one request (following redirects for GET/HEAD) and resolves once headers arrive. */
  async request(req: HttpRequest, redirects = 0): Promise<HttpResponse> {
    const res = await this.once(req);
    if ([301, 302, 303, 307, 308].includes(res.status) && (req.method === 'GET' || req.method === 'HEAD') && res.headers.location) {
      res.body.resume();
      if (redirects >= 5) throw Object.assign(new Error(`too many redirects from ${req.url.href}`), { code: 'ETOOMANYREDIRECTS' });
      const next = new URL(res.headers.location, req.url);
      const headers = { ...req.headers };
      // Blob redirects usually go to object storage: registry credentials must not follow.
      if (next.host !== req.url.host) delete headers.Authorization;
      return this.request({ ...req, url: next, headers }, redirects + 1);
    }
    return res;
  }

  private once(req: HttpRequest): Promise<HttpResponse> {
    const mod = req.url.protocol === 'https:' ? https : http;
    const agent = req.url.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...req.headers };
    if (req.body !== undefined || ['POST', 'PUT', 'PATCH'].includes(req.method)) {
      headers['Content-Length'] = String(bodyLength(req.body));
    }
    return new Promise((resolve, reject) => {
      const r = mod.request(req.url, { method: req.method, headers, agent }, (res) => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url: req.url, body: res });
      });
      r.setTimeout(this.idleTimeoutMs, () => {
        r.destroy(Object.assign(new Error(`timed out after ${this.idleTimeoutMs} ms idle`), { code: 'ETIMEDOUT' }));
      });
      r.on('error', reject);
      const body = req.body;
      if (body === undefined || Buffer.isBuffer(body)) {
        r.end(body);
      } else if (body.end === body.start) {
        r.end();
      } else {
        const s = createReadStream(body.path, { start: body.start, end: body.end - 1 });
        s.on('error', (e) => r.destroy(e));
        s.pipe(r);
      }
    });
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}

/** Reads a whole response body. */
export async function readBody(res: HttpResponse, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`response from ${res.url.href} exceeds ${limit} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Discards a response body so the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  try {
    for await (const _ of res.body) {
      /* discard */
    }
  } catch {
    /* the connection is gone anyway */
  }
}

export function header(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
