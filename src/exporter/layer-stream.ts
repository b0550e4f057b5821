/**
 * A layer blob as a stream of uncompressed tar bytes, and the checks that a blob is what an image says it is
 * (its digest, and the diff_id of what it uncompresses to).
 */
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as zlib from 'node:zlib';
import { InputError, StratumError } from '../util/errors.js';
import { keepOutput } from '../util/exec.js';
import { hashFile } from '../util/hash.js';

/** A layer blob in the store, and what an image says of it. */
export interface LayerBlob {
  path: string;
  mediaType: string;
  /** The blob's digest as the manifest gives it: checked before anything is unpacked. */
  digest?: string;
  /**
   * The uncompressed tar's digest as the image config claims it (rootfs.diff_ids): checked as the layer unpacks,
   * and a mismatch leaves nothing behind. A snapshot is found again by this digest, so an unchecked claim would let
   * one image put its files under another image's layer.
   */
  diffID?: string;
}

/** Opens a layer blob as a stream of uncompressed tar bytes (compression sniffed from the magic bytes). */
/** `onRead` counts the stored (compressed) bytes as they are read, for a progress view. */
export async function openLayerStream(file: string, onRead?: (bytes: number) => void): Promise<{ stream: AsyncIterable<Buffer>; close: () => void }> {
  const fh = await fsp.open(file, 'r');
  const magic = Buffer.alloc(4);
  try {
    await fh.read(magic, 0, 4, 0);
  } finally {
    await fh.close();
  }
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  const zstd = magic.readUInt32LE(0) === 0xfd2fb528;
  if (gzip) {
    const src = createReadStream(file, { highWaterMark: 1 << 20 });
    if (onRead) src.on('data', (c) => onRead(c.length));
    const gun = zlib.createGunzip({ chunkSize: 256 * 1024 });
    src.on('error', (e) => gun.destroy(e));
    src.pipe(gun);
    return { stream: gun, close: () => (src.destroy(), gun.destroy()) };
  }
  if (zstd) {
    // zstd reads the file itself unless someone counts the bytes: then they pass through us.
    const child = spawn('zstd', ['-d', '-c', '-q', '--', onRead ? '-' : file], { stdio: 'pipe' });
    if (!onRead) child.stdin.end();
    if (onRead) {
      const src = createReadStream(file, { highWaterMark: 1 << 20 });
      src.on('data', (c) => onRead(c.length));
      src.on('error', () => child.kill('SIGKILL'));
      child.stdin.on('error', () => src.destroy());
      src.pipe(child.stdin);
    }
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const exit = new Promise<void>((resolve, reject) => {
      child.on('error', (e: NodeJS.ErrnoException) =>
        reject(e.code === 'ENOENT' ? new StratumError('zstd: command not found (apt-get install zstd)', 3) : e),
      );
      child.on('close', (code, sig) =>
        code === 0 || sig === 'SIGKILL' ? resolve() : reject(new StratumError(`zstd -d ${file} failed: ${Buffer.concat(err).toString().trim()}`)),
      );
    });
    const out = keepOutput(child.stdout);
    async function* gen() {
      for await (const c of out) yield c as Buffer;
      await exit;
    }
    return { stream: gen(), close: () => child.kill('SIGKILL') };
  }
  const src = createReadStream(file, { highWaterMark: 1 << 20 });
  const close = () => src.destroy();
  if (!onRead) return { stream: src, close };
  async function* counted() {
    for await (const c of src) {
      onRead!((c as Buffer).length);
      yield c as Buffer;
    }
  }
  return { stream: counted(), close };
}

export async function checkBlobDigest(file: string, digest: string): Promise<void> {
  const actual = `sha256:${await hashFile(file)}`;
  if (actual !== digest) throw new InputError(`layer ${digest}: the blob's content hashes to ${actual}; refusing it`);
}

/** Checks a layer blob against its digest and diff_id without unpacking it. */
export async function verifyLayerBlob(blob: Required<Pick<LayerBlob, 'path' | 'digest' | 'diffID'>>): Promise<void> {
  await checkBlobDigest(blob.path, blob.digest);
  const { stream } = await openLayerStream(blob.path);
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk);
  const diffID = `sha256:${h.digest('hex')}`;
  if (diffID !== blob.diffID) {
    throw new InputError(`layer ${blob.digest}: its uncompressed content hashes to ${diffID}, but the image config claims diff_id ${blob.diffID}; refusing the image`);
  }
}

/** Passes a stream through, hashing it on the way. */
export async function* hashing(src: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    hash.update(chunk);
    yield chunk;
  }
}
