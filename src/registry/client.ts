import { createHash } from 'node:crypto';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { StratumError } from '../util/errors.js';
import { formatPlatform, platformMatches } from '../util/platform.js';
import { mapLimit } from '../util/concurrency.js';
import { checkIndex, checkManifest } from '../store/validate.js';
import { repositoryScope, type Credentials } from './auth.js';
import { RegistryError } from './errors.js';
import { drain, header } from './http.js';
import { BlobOrigins } from './origins.js';
import { RegistryConnection } from './connection.js';
import type { PushResult, RegistryClientOptions } from './options.js';
import { Uploader } from './push.js';
import { formatReference, manifestReference, normalizeRegistryHost, parseReference, type ImageReference } from './reference.js';
import { isRetryableError, RetryBudget, sleep } from './retry.js';
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
} from './types.js';



export interface PulledImage {
  reference: ImageReference;
  /** The platform manifest stored locally. */
  manifest: Descriptor;
  /** The index it was selected from, when the reference named one (also stored). */
  index?: Descriptor;
  /** Blobs fetched from the registry (the rest were already in the store). */
  downloaded: number;
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

export { formatPlatform };

/** An OCI distribution client: pull, push, resolve; auth, TLS, retries and resumable transfers. */
export class RegistryClient {
  /** Endpoints, authentication and requests (connection.ts). */
  readonly net: RegistryConnection;
  private readonly chunkSize: number;
  private readonly concurrency: number;
  readonly origins: BlobOrigins;
  /** Blob and manifest uploads (push.ts). */
  private readonly uploader: Uploader;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.net = new RegistryConnection(opts);
    this.chunkSize = opts.chunkSize ?? 8 * 1024 * 1024;
    this.concurrency = opts.concurrency ?? 4;
    this.origins = opts.origins ?? new BlobOrigins();
    this.uploader = new Uploader(this.net, this.origins, this.chunkSize, this.concurrency);
  }

  /** Closes kept-alive connections; requests still under way fail, and none of them is retried. */
  close(): void {
    this.net.close();
  }

  isInsecure(registry: string): boolean {
    return this.net.isInsecure(registry);
  }


  /**
   * Checks that the registry answers the API and accepts our credentials (GET /v2/), as `login` does
   * before saving them.
   */
  async ping(registry: string, credentials?: Credentials): Promise<void> {
    const reg = normalizeRegistryHost(registry);
    const ep = await this.net.endpoint(reg);
    if (credentials) ep.auth.creds = Promise.resolve(credentials);
    const res = await this.net.send(ep, { operation: 'login', scopes: [] }, { method: 'GET', url: this.net.url(ep, '/v2/') }, { ok: [200] });
    await drain(res);
  }

  // ---- manifests ----

  /** Fetches a manifest or index and verifies it against the digest it was asked by (if any). */
  async getManifest(reference: string | ImageReference): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const ep = await this.net.endpoint(ref.registry);
    const r = manifestReference(ref);
    const ctx = { repository: ref.repository, operation: `pull manifest ${r}`, scopes: [repositoryScope(ref.repository, ['pull'])] };
    const { res, bytes } = await this.net.fetchBytes(ep, ctx, { method: 'GET', url: this.net.url(ep, `/v2/${ref.repository}/manifests/${r}`), headers: { Accept: MANIFEST_ACCEPT } }, MANIFEST_LIMIT);
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
    const ep = await this.net.endpoint(ref.registry);
    const r = manifestReference(ref);
    const ctx = { repository: ref.repository, operation: `resolve ${r}`, scopes: [repositoryScope(ref.repository, ['pull'])] };
    const res = await this.net.send(ep, ctx, { method: 'HEAD', url: this.net.url(ep, `/v2/${ref.repository}/manifests/${r}`), headers: { Accept: MANIFEST_ACCEPT } }, { ok: [200] });
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
    const cancelled = () => out.destroyed || signal?.aborted === true || this.net.closed;
    signal?.addEventListener('abort', () => out.destroy(new StratumError(`pull of ${desc.digest} cancelled`)), { once: true });
    const run = async () => {
      const ep = await this.net.endpoint(ref.registry);
      const ctx = { repository: ref.repository, operation: `pull blob ${desc.digest}`, scopes: [repositoryScope(ref.repository, ['pull'])] };
      const hash = createHash(hashAlgorithm(desc.digest));
      const budget = new RetryBudget(this.net.retry);
      let offset = 0;
      while (true) {
        budget.attempt++;
        const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
        const res = await this.net.send(ep, ctx, { method: 'GET', url: this.net.url(ep, `/v2/${ref.repository}/blobs/${desc.digest}`), headers }, { ok: [200, 206] });
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
            this.net.emit({ kind: 'blob-progress', digest: desc.digest, done: offset, total: desc.size });
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
          if (d === undefined) throw e instanceof StratumError ? e : this.net.networkError(ref.registry, ref.repository, ctx.operation, e);
          this.net.emit({ kind: 'retry', registry: ref.registry, operation: ctx.operation, attempt: budget.attempt, delayMs: d, reason: (e as Error).message });
          await sleep(d);
          if (cancelled()) return;
        }
      }
      if (cancelled()) return;
      const got = `${hashAlgorithm(desc.digest)}:${hash.digest('hex')}`;
      if (got !== desc.digest) {
        throw new RegistryError({ registry: ref.registry, repository: ref.repository, operation: ctx.operation, detail: `content has digest ${got}` });
      }
      this.net.emit({ kind: 'blob-downloaded', registry: ref.registry, repository: ref.repository, digest: desc.digest, size: desc.size });
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
          this.net.emit({ kind: 'blob-cached', digest: d.digest });
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
    const ep = await this.net.endpoint(ref.registry);
    const stats: PushResult = { digest: desc.digest, mediaType: desc.mediaType, size: desc.size, uploaded: 0, mounted: 0, skipped: 0, manifests: 0, bytesUploaded: 0 };
    const bytes = await store.readBytes(desc.digest);
    const mediaType = await this.uploader.pushContent(ep, ref.repository, store, bytes, desc, stats);
    await this.uploader.putManifest(ep, ref.repository, ref.tag ?? desc.digest, bytes, mediaType, desc.digest);
    stats.manifests++;
    stats.mediaType = mediaType;
    await this.origins.save();
    return stats;
  }

  /** Copies `src` to `dest` (same or another repository/registry), going through the store. */
  async copy(src: string, dest: string, store: BlobSink & BlobSource): Promise<PushResult> {
    const pulled = await this.pullImage(src, store);
    return this.push(store, pulled.manifest, dest);
  }
}

export { formatReference, parseReference };

export type { PushResult, RegistryClientOptions } from './options.js';
