/**
 * Pushing: blobs first (skipped when the registry has them, mounted from a sibling repository when it can,
 * uploaded in resumable chunks otherwise), manifests of an index next, so a tag never names missing content.
 */
import { promises as fs } from 'node:fs';
import { StratumError } from '../util/errors.js';
import { formatPlatform } from '../util/platform.js';
import { mapLimit } from '../util/concurrency.js';
import { repositoryScope } from './auth.js';
import { RegistryError } from './errors.js';
import { drain, header, type HttpResponse } from './http.js';
import type { BlobOrigins } from './origins.js';
import type { Endpoint, RegistryConnection } from './connection.js';
import { isRetryableStatus, RetryBudget, sleep } from './retry.js';
import { isIndexMediaType, type BlobSource, type Descriptor, type ImageIndex, type ImageManifest } from './types.js';
import type { PushResult } from './options.js';

export class Uploader {
  constructor(
    private readonly net: RegistryConnection,
    private readonly origins: BlobOrigins,
    private readonly chunkSize: number,
    private readonly concurrency: number,
  ) {}

  /** Pushes everything a manifest or index refers to (not the manifest itself); returns its media type. */
  async pushContent(ep: Endpoint, repo: string, store: BlobSource, bytes: Buffer, desc: Descriptor, stats: PushResult): Promise<string> {
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

  async putManifest(ep: Endpoint, repo: string, reference: string, bytes: Buffer, mediaType: string, digest: string): Promise<void> {
    const ctx = { repository: repo, operation: `push manifest ${reference}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.net.send(ep, ctx, { method: 'PUT', url: this.net.url(ep, `/v2/${repo}/manifests/${reference}`), headers: { 'Content-Type': mediaType }, body: bytes }, { ok: [200, 201, 202] });
    await drain(res);
    const got = header(res, 'docker-content-digest');
    if (got && digest.startsWith('sha256:') && got !== digest) {
      throw new RegistryError({ registry: ep.registry, repository: repo, operation: ctx.operation, detail: `registry stored ${got}, expected ${digest}` });
    }
    this.net.emit({ kind: 'manifest-pushed', registry: ep.registry, repository: repo, reference, digest });
  }

  private async blobExists(ep: Endpoint, repo: string, digest: string): Promise<boolean> {
    const ctx = { repository: repo, operation: `check blob ${digest}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.net.send(ep, ctx, { method: 'HEAD', url: this.net.url(ep, `/v2/${repo}/blobs/${digest}`) }, { ok: [200, 404] });
    await drain(res);
    return res.status === 200;
  }

  private async pushBlob(ep: Endpoint, repo: string, store: BlobSource, b: Descriptor, stats: PushResult): Promise<void> {
    if (await this.blobExists(ep, repo, b.digest)) {
      stats.skipped++;
      this.net.emit({ kind: 'blob-exists', registry: ep.registry, repository: repo, digest: b.digest });
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
      const url = this.net.url(ep, `/v2/${repo}/blobs/uploads/`);
      url.searchParams.set('mount', b.digest);
      url.searchParams.set('from', from);
      const res = await this.net.send(ep, ctx, { method: 'POST', url }, { ok: [201, 202] });
      await drain(res);
      if (res.status === 201) {
        stats.mounted++;
        this.net.emit({ kind: 'blob-mounted', registry: ep.registry, repository: repo, digest: b.digest, from });
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
    const res = await this.net.send(ep, ctx, { method: 'POST', url: this.net.url(ep, `/v2/${repo}/blobs/uploads/`) }, { ok: [202] });
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
    const budget = new RetryBudget(this.net.retry);
    const recover = async (e: unknown, operation: string) => {
      const d = budget.next();
      if (d === undefined) throw e instanceof StratumError ? e : this.net.networkError(ep.registry, repo, operation, e);
      this.net.emit({ kind: 'retry', registry: ep.registry, operation, attempt: ++budget.attempt, delayMs: d, reason: (e as Error).message });
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
      this.net.emit({ kind: 'upload-resumed', registry: ep.registry, repository: repo, digest: b.digest, offset });
    };
    while (true) {
      while (offset < b.size) {
        const end = Math.min(offset + Math.max(this.chunkSize, this.minChunk.get(ep.registry) ?? 0), b.size);
        const operation = `upload ${b.digest} bytes ${offset}-${end - 1}`;
        try {
          const res = await this.net.send(
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
          if (!this.recoverable(ep.registry, e)) throw e;
          await recover(e, operation);
        }
      }
      const operation = `finish upload of ${b.digest}`;
      const url = new URL(loc);
      url.searchParams.set('digest', b.digest);
      try {
        const res = await this.net.send(ep, { repository: repo, operation, scopes }, { method: 'PUT', url }, { ok: [201, 204], noRetry: true });
        await drain(res);
        break;
      } catch (e) {
        if (!this.recoverable(ep.registry, e) && !(e instanceof RegistryError && e.status === 404)) throw e;
        // A PUT whose answer was lost may have completed: the blob is there, or we resume.
        if (await this.blobExists(ep, repo, b.digest).catch(() => false)) break;
        await recover(e, operation);
      }
    }
    stats.uploaded++;
    this.net.emit({ kind: 'blob-uploaded', registry: ep.registry, repository: repo, digest: b.digest, size: b.size, chunks });
  }

  /** Network failures, 5xx/429 and 416 (range out of step) are recovered by asking for the upload's state. */
  private recoverable(registry: string, e: unknown): boolean {
    if (e instanceof RegistryError) {
      if (e.status === undefined) return this.net.retryable(registry, (e as { cause?: unknown }).cause);
      return e.status === 416 || isRetryableStatus(e.status);
    }
    return this.net.retryable(registry, e);
  }

  private async uploadStatus(ep: Endpoint, repo: string, loc: URL, digest: string): Promise<{ location: URL; offset: number } | undefined> {
    const ctx = { repository: repo, operation: `upload status of ${digest}`, scopes: [repositoryScope(repo, ['pull', 'push'])] };
    const res = await this.net.send(ep, ctx, { method: 'GET', url: loc }, { ok: [204, 404] });
    await drain(res);
    if (res.status === 404) return undefined;
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(res, 'range') ?? '');
    // "0-0" is ambiguous (nothing or one byte); restart at 0 and let a 416 send us to a new session.
    const offset = range ? (Number(range[1]) === 0 ? 0 : Number(range[1]) + 1) : 0;
    return { location: header(res, 'location') ? this.location(ep, res, ctx.operation) : loc, offset };
  }
}
