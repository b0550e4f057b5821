import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InputError, StratumError } from '../util/errors.js';
import { atomicWrite, fsyncDir, uniqueName } from './fsutil.js';
import { secureStoreRoot } from './root.js';
import { StoreLayout } from './layout.js';
import type { ImageConfig, Index, Manifest } from './types.js';
import { checkImageConfig, checkIndex, checkManifest } from './validate.js';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

export interface BlobInfo {
  digest: string;
  size: number;
}

/** Throws InputError unless `digest` is a well-formed sha256 digest; returns its hex part. */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new InputError(`invalid digest ${JSON.stringify(digest)} (expected sha256:<64 hex>)`);
  return m[1]!;
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/**
 * Blobs by digest, laid out as an OCI image layout (root/oci-layout, root/index.json,
 * root/blobs/sha256/<hex>), so the store itself is readable by skopeo/umoci as `oci:ROOT`.
 * Every blob is written under root/tmp, fsynced, and renamed into place: a crash never
 * leaves a partial blob at its final path, and concurrent writers of one blob both succeed.
 */
export class ContentStore {
  readonly root: string;
  readonly tmpDir: string;
  readonly blobsDir: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    const layout = new StoreLayout(this.root);
    this.tmpDir = layout.tmp;
    this.blobsDir = layout.blobs;
  }

  // Every process that opens the store runs this, and has() and readJSON() run many times per build on the
  // files they touch: synchronous calls, since a promise-based one makes round trips through libuv's thread pool.
  async init(): Promise<void> {
    secureStoreRoot(this.root);
    mkdirSync(this.blobsDir, { recursive: true });
    mkdirSync(this.tmpDir, { recursive: true });
    await this.#writeIfMissing('oci-layout', JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await this.#writeIfMissing('index.json', JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
  }

  async #writeIfMissing(name: string, content: string): Promise<void> {
    const file = path.join(this.root, name);
    // A concurrent init may win the race; both write identical content, so a plain atomic write is fine.
    if (!existsSync(file)) await atomicWrite(file, content, this.tmpDir);
  }

  blobPath(digest: string): string {
    return path.join(this.blobsDir, digestHex(digest));
  }

  /** A fresh path under root/tmp for callers that stage files next to the blobs (same filesystem). */
  tempPath(prefix = ''): string {
    return path.join(this.tmpDir, uniqueName(prefix));
  }

  async has(digest: string): Promise<boolean> {
    try {
      return existsSync(this.blobPath(digest));
    } catch {
      return false; // not a well-formed digest
    }
  }

  async size(digest: string): Promise<number> {
    return (await this.#stat(digest)).size;
  }

  async #stat(digest: string) {
    try {
      return await fsp.stat(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StratumError(`blob ${digest} not found in ${this.root}`);
      throw e;
    }
  }

  async putBytes(data: Buffer | string): Promise<BlobInfo> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const digest = sha256(buf);
    if (!(await this.has(digest))) {
      await fsp.mkdir(this.blobsDir, { recursive: true });
      await atomicWrite(this.blobPath(digest), buf, this.tmpDir);
    }
    return { digest, size: buf.length };
  }

  /** Stores JSON.stringify(obj) as is: key order is the caller's, which makes the digest stable. */
  putJSON(obj: unknown): Promise<BlobInfo> {
    return this.putBytes(JSON.stringify(obj));
  }

  /**
   * Streams `src` into the store, hashing on the way. With `expected`, a digest or size mismatch throws and
   * leaves nothing behind. Returns once the blob is durable at its final path.
   */
  async ingest(src: NodeJS.ReadableStream | AsyncIterable<Buffer>, expected?: { digest: string; size?: number }): Promise<BlobInfo> {
    if (expected) digestHex(expected.digest);
    await fsp.mkdir(this.tmpDir, { recursive: true });
    await fsp.mkdir(this.blobsDir, { recursive: true });
    const tmp = this.tempPath('ingest-');
    const hash = createHash('sha256');
    let size = 0;
    let fh: fsp.FileHandle | undefined;
    try {
      fh = await fsp.open(tmp, 'wx', 0o644);
      // Coalesce small chunks so the write syscalls stay large.
      let pending: Buffer[] = [];
      let pendingLen = 0;
      const flush = async () => {
        if (pendingLen === 0) return;
        const buf = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
        pending = [];
        pendingLen = 0;
        let off = 0;
        while (off < buf.length) {
          const { bytesWritten } = await fh!.write(buf, off, buf.length - off);
          off += bytesWritten;
        }
      };
      for await (const chunk of src as AsyncIterable<Buffer | string>) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        hash.update(b);
        size += b.length;
        if (expected?.size !== undefined && size > expected.size) {
          throw new StratumError(`blob ${expected.digest}: more data than the expected ${expected.size} bytes`);
        }
        pending.push(b);
        pendingLen += b.length;
        if (pendingLen >= 1 << 20) await flush();
      }
      await flush();
      const digest = 'sha256:' + hash.digest('hex');
      if (expected) {
        if (expected.size !== undefined && size !== expected.size) {
          throw new StratumError(`blob ${expected.digest}: size ${size} does not match the expected ${expected.size}`);
        }
        if (digest !== expected.digest) {
          throw new StratumError(`blob digest mismatch: expected ${expected.digest}, got ${digest}`);
        }
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      await fsp.rename(tmp, this.blobPath(digest));
      await fsyncDir(this.blobsDir);
      return { digest, size };
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      // Let the producer know we stopped reading.
      const s = src as { destroy?: (e?: Error) => void };
      if (typeof s.destroy === 'function') s.destroy();
      throw e;
    }
  }

  /** Copies a file into the store (hashing it on the way); `expected` as for ingest. */
  ingestFile(file: string, expected?: { digest: string; size?: number }): Promise<BlobInfo> {
    return this.ingest(createReadStream(file, { highWaterMark: 1 << 20 }), expected);
  }

  async readBytes(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StratumError(`blob ${digest} not found in ${this.root}`);
      throw e;
    }
  }

  /** Manifests, configs and indexes: small, so read synchronously. */
  async readJSON<T>(digest: string): Promise<T> {
    let buf: Buffer;
    try {
      buf = readFileSync(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StratumError(`blob ${digest} not found in ${this.root}`);
      throw e;
    }
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (e) {
      throw new StratumError(`blob ${digest} is not valid JSON`, 1, { cause: e });
    }
  }

  /** An image manifest, its shape checked (see validate.ts). */
  async readManifest(digest: string): Promise<Manifest> {
    return checkManifest(await this.readJSON<unknown>(digest), `manifest ${digest}`);
  }

  async readIndex(digest: string): Promise<Index> {
    return checkIndex(await this.readJSON<unknown>(digest), `index ${digest}`);
  }

  async readConfig(digest: string): Promise<ImageConfig> {
    return checkImageConfig(await this.readJSON<unknown>(digest), `image config ${digest}`);
  }

  openRead(digest: string): NodeJS.ReadableStream {
    return createReadStream(this.blobPath(digest), { highWaterMark: 1 << 20 });
  }

  /** Rehashes the blob; false when missing or corrupt. */
  async verify(digest: string): Promise<boolean> {
    const file = this.blobPath(digest);
    const hash = createHash('sha256');
    try {
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    return 'sha256:' + hash.digest('hex') === digest;
  }

  async *list(): AsyncIterable<BlobInfo> {
    let names: string[];
    try {
      names = await fsp.readdir(this.blobsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    names.sort();
    for (const name of names) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      try {
        const st = await fsp.stat(path.join(this.blobsDir, name));
        yield { digest: `sha256:${name}`, size: st.size };
      } catch {
        // deleted meanwhile
      }
    }
  }

  async delete(digest: string): Promise<void> {
    await fsp.rm(this.blobPath(digest), { force: true });
  }
}
