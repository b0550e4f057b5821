import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ParallelGzip } from './pgzip.js';
import type { ContentStore } from '../store/content.js';
import { MediaTypes } from '../store/types.js';
import { StratumError } from '../util/errors.js';
import { encodeHeader, padding, ZERO_BLOCKS, type TarHeader } from './tar.js';
import { scanXattrs } from './xattr.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export interface LayerInfo {
  /** Digest of the blob as stored (compressed). */
  digest: string;
  /** Digest of the uncompressed tar (rootfs.diff_ids). */
  diffID: string;
  size: number;
  mediaType: string;
}

export interface WriteLayerOptions {
  compression: Compression;
  /** Clamp every mtime to at most this (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  /** gzip/zstd level (default gzip 6, zstd 3). */
  level?: number;
}

export const OPAQUE_MARKER = '.wh..wh..opq';
export const WHITEOUT_PREFIX = '.wh.';
const KEPT_XATTRS = '^(trusted\\.overlay\\.opaque|security\\.capability)$';
const CHUNK = 1 << 20;

export function layerMediaType(c: Compression): string {
  return c === 'gzip' ? MediaTypes.layerGzip : c === 'zstd' ? MediaTypes.layerZstd : MediaTypes.layer;
}

export function devMajor(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
}
export function devMinor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
}

const isWhiteoutDev = (st: Stats) => st.isCharacterDevice() && st.rdev === 0;

/**
 * Packs a snapshot directory in overlayfs upper-dir format into a deterministic OCI layer and stores it.
 * Entries are written depth-first in sorted order (a directory, then its opaque marker, then whiteouts, then the
 * other children); owners are numeric, names empty, mtimes clamped to sourceDateEpoch.
 */
export async function writeLayer(dir: string, store: ContentStore, opts: WriteLayerOptions): Promise<LayerInfo> {
  const root = path.resolve(dir);
  const st = await fsp.lstat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new StratumError(`writeLayer: ${root} is not a directory`);
  const xattrs = await scanXattrs(root, KEPT_XATTRS);
  const diffHash = createHash('sha256');
  const tarStream = Readable.from(tarGenerator(root, xattrs, opts.sourceDateEpoch), { objectMode: false, highWaterMark: 4 * CHUNK });
  const tap = new Transform({
    highWaterMark: 4 * CHUNK,
    transform(chunk: Buffer, _enc, cb) {
      diffHash.update(chunk);
      cb(null, chunk);
    },
  });

  let stored: { digest: string; size: number };
  if (opts.compression === 'none') {
    const [, s] = await Promise.all([pipeline(tarStream, tap), store.ingest(tap)]);
    stored = s;
  } else if (opts.compression === 'gzip') {
    const gz = new ParallelGzip(opts.level ?? 6);
    const [, s] = await Promise.all([pipeline(tarStream, tap, gz), store.ingest(gz)]);
    stored = s;
  } else {
    stored = await zstdCompress([tarStream, tap], store, opts.level ?? 3);
  }
  const diffID = 'sha256:' + diffHash.digest('hex');
  return { digest: stored.digest, diffID, size: stored.size, mediaType: layerMediaType(opts.compression) };
}

async function zstdCompress(input: [Readable, Transform], store: ContentStore, level: number) {
  // -T0 output is identical for any worker count >= 1, so the digest does not depend on the machine's cores.
  const child = spawn('zstd', ['-q', '-c', `-${level}`, '-T0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new StratumError('zstd: command not found (apt-get install zstd)', 3) : e),
    );
    child.on('close', (code) => resolve(code ?? 1));
  });
  try {
    const [, s, code] = await Promise.all([pipeline(input[0], input[1], child.stdin), store.ingest(child.stdout), exited]);
    if (code !== 0) throw new StratumError(`zstd exited with ${code}: ${Buffer.concat(err).toString().trim()}`);
    return s;
  } catch (e) {
    input[0].destroy();
    child.kill('SIGKILL');
    throw e;
  }
}

interface Child {
  name: string;
  st: Stats;
}

const byName = (a: Child, b: Child) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

async function* tarGenerator(root: string, xattrs: Map<string, Map<string, Buffer>>, epoch: number | undefined): AsyncGenerator<Buffer> {
  const links = new Map<string, string>();
  let pend: Buffer[] = [];
  let pendLen = 0;
  const clamp = (st: Stats) => {
    const t = Math.floor(st.mtimeMs / 1000);
    return epoch !== undefined && t > epoch ? epoch : t;
  };
  const push = (b: Buffer) => {
    pend.push(b);
    pendLen += b.length;
  };
  const take = () => {
    const out = pend.length === 1 ? pend[0]! : Buffer.concat(pend, pendLen);
    pend = [];
    pendLen = 0;
    return out;
  };

  const header = (rel: string, st: Stats, extra: Partial<TarHeader>): TarHeader => {
    const h: TarHeader = {
      path: rel,
      type: 'file',
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: 0,
      mtime: clamp(st),
      ...extra,
    };
    const cap = xattrs.get(path.join(root, rel))?.get('security.capability');
    if (cap) h.xattrs = new Map([['security.capability', cap]]);
    return h;
  };

  async function* emitFile(abs: string, rel: string, st: Stats): AsyncGenerator<Buffer> {
    push(encodeHeader(header(rel, st, { type: 'file', size: st.size })));
    if (st.size === 0) return;
    const fh = await fsp.open(abs, 'r');
    try {
      let done = 0;
      while (done < st.size) {
        if (pendLen >= CHUNK) yield take();
        const want = Math.min(CHUNK, st.size - done);
        const buf = Buffer.allocUnsafe(want);
        const { bytesRead } = await fh.read(buf, 0, want, done);
        if (bytesRead === 0) throw new StratumError(`writeLayer: ${abs} shrank while being read`);
        push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
        done += bytesRead;
      }
      const pad = padding(st.size);
      if (pad) push(Buffer.alloc(pad));
    } finally {
      await fh.close();
    }
  }

  async function* walk(absDir: string, relDir: string): AsyncGenerator<Buffer> {
    const names = await fsp.readdir(absDir);
    const kids: Child[] = await Promise.all(names.map(async (name) => ({ name, st: await fsp.lstat(path.join(absDir, name)) })));
    kids.sort(byName);
    const whiteouts = kids.filter((k) => isWhiteoutDev(k.st));
    const others = kids.filter((k) => !isWhiteoutDev(k.st));
    for (const k of whiteouts) {
      push(encodeHeader(header(relDir + WHITEOUT_PREFIX + k.name, k.st, { type: 'file', mode: 0, size: 0 })));
    }
    for (const k of others) {
      if (pendLen >= CHUNK) yield take();
      const abs = path.join(absDir, k.name);
      const rel = relDir + k.name;
      const st = k.st;
      if (st.isDirectory()) {
        push(encodeHeader(header(rel + '/', st, { type: 'dir' })));
        if (xattrs.get(abs)?.get('trusted.overlay.opaque')?.toString() === 'y') {
          push(encodeHeader(header(rel + '/' + OPAQUE_MARKER, st, { type: 'file', mode: 0, size: 0 })));
        }
        yield* walk(abs, rel + '/');
        continue;
      }
      if (st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = links.get(key);
        if (first !== undefined) {
          push(encodeHeader(header(rel, st, { type: 'link', linkpath: first })));
          continue;
        }
        links.set(key, rel);
      }
      if (st.isFile()) yield* emitFile(abs, rel, st);
      else if (st.isSymbolicLink()) push(encodeHeader(header(rel, st, { type: 'symlink', linkpath: await fsp.readlink(abs) })));
      else if (st.isCharacterDevice() || st.isBlockDevice()) {
        push(encodeHeader(header(rel, st, { type: st.isCharacterDevice() ? 'char' : 'block', devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) })));
      } else if (st.isFIFO()) push(encodeHeader(header(rel, st, { type: 'fifo' })));
      // sockets cannot be represented in a tar and are skipped, as docker and tar do
    }
  }

  yield* walk(root, '');
  push(ZERO_BLOCKS);
  yield take();
}
