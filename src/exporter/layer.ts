import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs, { promises as fsp, type Stats } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipMembers } from './pgzip.js';
import { MemberIndex } from '../store/members.js';
import type { ContentStore } from '../store/content.js';
import { MediaTypes } from '../store/types.js';
import { InputError, StratumError } from '../util/errors.js';
import { keepOutput } from '../util/exec.js';
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
  /** Uncompressed bytes whose gzip members were taken from earlier layers rather than compressed again. */
  reusedBytes?: number;
}

export interface WriteLayerOptions {
  compression: Compression;
  /** Clamp every mtime to at most this (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  /** gzip/zstd level (default gzip 6, zstd 3). */
  level?: number;
  /** gzip: take unchanged segments' members from earlier layers in the store (default true). */
  reuseMembers?: boolean;
  /** Counts the uncompressed tar bytes as they are packed (progress). */
  onBytes?: (bytes: number) => void;
}

/** Bumped when the bytes writeLayer produces for the same tree change, so memoised layers are not mixed in. */
export const LAYER_FORMAT = 2;

/** Names the layer made of a snapshot for one compression and timestamp clamp, in the current LAYER_FORMAT. */
export function layerMemoKey(compression: Compression, sourceDateEpoch?: number): string {
  return `${compression}:${sourceDateEpoch ?? ''}:v${LAYER_FORMAT}`;
}

/** The inverse of layerMemoKey; undefined for any other key (an imported layer's, or an older format's). */
export function parseLayerMemoKey(key: string): { compression: Compression; sourceDateEpoch?: number } | undefined {
  const m = /^(gzip|zstd|none):(\d*):v(\d+)$/.exec(key);
  if (!m || Number(m[3]) !== LAYER_FORMAT) return undefined;
  return { compression: m[1] as Compression, ...(m[2] ? { sourceDateEpoch: Number(m[2]) } : {}) };
}

/** The diff_id writeLayer would give a snapshot directory, without compressing or storing anything. */
export async function treeDiffID(dir: string, sourceDateEpoch?: number): Promise<string> {
  const root = path.resolve(dir);
  const h = createHash('sha256');
  for (const seg of tarSegments(root, await scanXattrs(root, KEPT_XATTRS), sourceDateEpoch)) h.update(seg);
  return 'sha256:' + h.digest('hex');
}

export const OPAQUE_MARKER = '.wh..wh..opq';
export const WHITEOUT_PREFIX = '.wh.';
export const KEPT_XATTRS = '^(trusted\\.overlay\\.opaque|security\\.capability)$';
/** A segment (one gzip member) ends at the first cut point after this many bytes... */
export const SEGMENT_MIN = 1 << 20;
/** ...or, inside a big file, at this many. */
export const SEGMENT_MAX = 4 << 20;
/** A segment's buffer: the largest segment plus room for the headers after it. */
const SEGMENT_BUFFER = SEGMENT_MAX + (64 << 10);
/** One entry in four is a cut point. */
const CUT_MASK = 3;

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
  const tar = tarSegments(root, xattrs, opts.sourceDateEpoch);
  const hashed = function* (): Generator<Buffer> {
    for (const seg of tar) {
      diffHash.update(seg);
      opts.onBytes?.(seg.length);
      yield seg;
    }
  };

  let stored: { digest: string; size: number };
  let reusedBytes = 0;
  if (opts.compression === 'none') {
    stored = await store.ingest(Readable.from(hashed(), { objectMode: false }));
  } else if (opts.compression === 'gzip') {
    const members = opts.reuseMembers === false ? undefined : MemberIndex.of(store);
    const gz = gzipMembers(hashed(), { level: opts.level ?? 6, index: members });
    stored = await store.ingest(gz);
    // A reused member keeps the entry that led to it.
    await members?.record(stored.digest, gz.written.filter((m) => !m.reused));
    reusedBytes = gz.reusedBytes;
  } else {
    stored = await zstdCompress(Readable.from(hashed(), { objectMode: false }), store, opts.level ?? 3);
  }
  const diffID = 'sha256:' + diffHash.digest('hex');
  return { digest: stored.digest, diffID, size: stored.size, mediaType: layerMediaType(opts.compression), reusedBytes };
}

async function zstdCompress(input: Readable, store: ContentStore, level: number) {
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
    const [, s, code] = await Promise.all([pipeline(input, child.stdin), store.ingest(keepOutput(child.stdout)), exited]);
    if (code !== 0) throw new StratumError(`zstd exited with ${code}: ${Buffer.concat(err).toString().trim()}`);
    return s;
  } catch (e) {
    input.destroy();
    child.kill('SIGKILL');
    throw e;
  }
}

interface Child {
  name: string;
  st: Stats;
}

const byName = (a: Child, b: Child) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** FNV-1a over a path: picks which entry ends may end a segment, by name alone. */
function pathHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The layer's tar stream, cut into segments that each become one gzip member. A segment ends after an entry
 * once it holds SEGMENT_MIN bytes and the entry's path hashes to a cut point, or inside a big file every
 * SEGMENT_MAX bytes. The cut points depend on the content, not on offsets, so a changed file changes only the
 * segments around it and the others can reuse their compressed members (see pgzip.ts).
 *
 * The file system is read with synchronous calls: a layer is thousands of small files, and a round trip
 * through the thread pool per call (which gzip keeps busy) cost more than the reads themselves.
 */
export function* tarSegments(root: string, xattrs: Map<string, Map<string, Buffer>>, epoch: number | undefined): Generator<Buffer> {
  const links = new Map<string, string>();
  // The segment is assembled in one buffer that file data is read straight into: no copies, no concatenation.
  let seg = Buffer.allocUnsafe(SEGMENT_BUFFER);
  let pendLen = 0;
  const clamp = (st: Stats) => {
    const t = Math.floor(st.mtimeMs / 1000);
    return epoch !== undefined && t > epoch ? epoch : t;
  };
  const room = (n: number) => {
    if (pendLen + n <= seg.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(seg.length * 2, pendLen + n));
    seg.copy(bigger, 0, 0, pendLen);
    seg = bigger;
  };
  const push = (b: Buffer) => {
    room(b.length);
    b.copy(seg, pendLen);
    pendLen += b.length;
  };
  const take = () => {
    const out = seg.subarray(0, pendLen);
    seg = Buffer.allocUnsafe(SEGMENT_BUFFER);
    pendLen = 0;
    return out;
  };
  const entryEnds = (rel: string) => pendLen >= SEGMENT_MAX || (pendLen >= SEGMENT_MIN && (pathHash(rel) & CUT_MASK) === 0);

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

  function* emitFile(abs: string, rel: string, st: Stats): Generator<Buffer> {
    push(encodeHeader(header(rel, st, { type: 'file', size: st.size })));
    if (st.size === 0) return;
    const fd = fs.openSync(abs, 'r');
    try {
      let done = 0;
      while (done < st.size) {
        if (pendLen >= SEGMENT_MAX) yield take();
        const want = Math.min(st.size - done, Math.max(SEGMENT_MAX - pendLen, 512));
        room(want);
        const n = fs.readSync(fd, seg, pendLen, want, done);
        if (n === 0) throw new StratumError(`writeLayer: ${abs} shrank while being read`);
        pendLen += n;
        done += n;
      }
      const pad = padding(st.size);
      if (pad) {
        room(pad);
        seg.fill(0, pendLen, pendLen + pad);
        pendLen += pad;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  function* walk(absDir: string, relDir: string): Generator<Buffer> {
    const kids: Child[] = fs.readdirSync(absDir).map((name) => ({ name, st: fs.lstatSync(path.join(absDir, name)) }));
    kids.sort(byName);
    for (const k of kids) {
      if (!isWhiteoutDev(k.st)) continue;
      push(encodeHeader(header(relDir + WHITEOUT_PREFIX + k.name, k.st, { type: 'file', mode: 0, size: 0 })));
    }
    for (const k of kids) {
      if (isWhiteoutDev(k.st)) continue;
      const abs = path.join(absDir, k.name);
      const rel = relDir + k.name;
      const st = k.st;
      // In a layer such a name *is* a deletion: written as a file, it would delete when the image is unpacked.
      if (k.name.startsWith(WHITEOUT_PREFIX)) {
        throw new InputError(`cannot put /${rel} in an image layer: names beginning with ${WHITEOUT_PREFIX} are reserved for whiteouts (deletions) in OCI layers`);
      }
      if (st.isDirectory()) {
        push(encodeHeader(header(rel + '/', st, { type: 'dir' })));
        if (xattrs.get(abs)?.get('trusted.overlay.opaque')?.toString() === 'y') {
          push(encodeHeader(header(rel + '/' + OPAQUE_MARKER, st, { type: 'file', mode: 0, size: 0 })));
        }
        if (entryEnds(rel + '/')) yield take();
        yield* walk(abs, rel + '/');
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) push(encodeHeader(header(rel, st, { type: 'link', linkpath: first })));
      else {
        if (st.nlink > 1) links.set(key, rel);
        if (st.isFile()) yield* emitFile(abs, rel, st);
        else if (st.isSymbolicLink()) push(encodeHeader(header(rel, st, { type: 'symlink', linkpath: fs.readlinkSync(abs) })));
        else if (st.isCharacterDevice() || st.isBlockDevice()) {
          push(encodeHeader(header(rel, st, { type: st.isCharacterDevice() ? 'char' : 'block', devmajor: devMajor(st.rdev), devminor: devMinor(st.rdev) })));
        } else if (st.isFIFO()) push(encodeHeader(header(rel, st, { type: 'fifo' })));
        // sockets cannot be represented in a tar and are skipped, as docker and tar do
      }
      if (entryEnds(rel)) yield take();
    }
  }

  yield* walk(root, '');
  push(ZERO_BLOCKS);
  yield take();
}
