/**
 * A small POSIX (ustar + PAX) tar encoder and a streaming decoder. Our own so that output is byte-for-byte
 * deterministic and so binary PAX values (SCHILY.xattr.*) survive both ways.
 */
import { StratumError } from '../util/errors.js';

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

const TYPE_FLAG: Record<TarType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6' };

export interface TarHeader {
  /** Path inside the archive, no leading "./" or "/"; directories may end in "/". */
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (integer). */
  mtime: number;
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as PAX SCHILY.xattr.<name>. */
  xattrs?: Map<string, Buffer>;
}

const BLOCK = 512;
export const ZERO_BLOCKS = Buffer.alloc(BLOCK * 2);

const isAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

function writeString(buf: Buffer, off: number, len: number, s: string): void {
  buf.write(s, off, len, 'utf8');
}

/** Octal, zero padded, NUL terminated. Returns false when it does not fit. */
function writeOctal(buf: Buffer, off: number, len: number, n: number): boolean {
  if (!Number.isInteger(n) || n < 0) return false;
  const s = n.toString(8);
  if (s.length > len - 1) return false;
  buf.write(s.padStart(len - 1, '0') + '\0', off, len, 'ascii');
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

/** Splits a path into ustar prefix/name fields when it fits. */
function splitUstar(p: string): [string, string] | undefined {
  if (Buffer.byteLength(p) <= 100) return ['', p];
  if (Buffer.byteLength(p) > 256) return undefined;
  // the split must be at a slash, with prefix <= 155 bytes and name <= 100 bytes
  for (let i = p.length - 1; i > 0; i--) {
    if (p[i] !== '/') continue;
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(name) > 100) return undefined;
    if (Buffer.byteLength(prefix) <= 155 && name.length > 0) return [prefix, name];
  }
  return undefined;
}

function rawHeader(h: TarHeader, name: string, prefix: string, pax: Buffer[], size: number, typeFlag: string): Buffer {
  const b = Buffer.alloc(BLOCK);
  writeString(b, 0, 100, name);
  writeOctal(b, 100, 8, h.mode & 0o7777);
  if (!writeOctal(b, 108, 8, h.uid)) {
    pax.push(paxRecord('uid', Buffer.from(String(h.uid))));
    writeOctal(b, 108, 8, 0);
  }
  if (!writeOctal(b, 116, 8, h.gid)) {
    pax.push(paxRecord('gid', Buffer.from(String(h.gid))));
    writeOctal(b, 116, 8, 0);
  }
  if (!writeOctal(b, 124, 12, size)) {
    pax.push(paxRecord('size', Buffer.from(String(size))));
    writeOctal(b, 124, 12, 0);
  }
  const mtime = Math.max(0, Math.floor(h.mtime));
  if (!writeOctal(b, 136, 12, mtime)) {
    pax.push(paxRecord('mtime', Buffer.from(String(mtime))));
    writeOctal(b, 136, 12, 0);
  }
  b.write(typeFlag, 156, 1, 'ascii');
  const lp = h.linkpath ?? '';
  if (Buffer.byteLength(lp) > 100 || !isAscii(lp)) {
    pax.push(paxRecord('linkpath', Buffer.from(lp, 'utf8')));
    // Some readers (node-tar) reject a link whose ustar field is empty before applying PAX: put a placeholder.
    writeString(b, 157, 100, lp.replace(/[^\x20-\x7e]/g, '_').slice(0, 100));
  } else writeString(b, 157, 100, lp);
  b.write('ustar\x0000', 257, 8, 'binary');
  if (h.type === 'char' || h.type === 'block') {
    writeOctal(b, 329, 8, h.devmajor ?? 0);
    writeOctal(b, 337, 8, h.devminor ?? 0);
  }
  writeString(b, 345, 155, prefix);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return b;
}

/** Encodes the header block(s) of one entry (a PAX extended header first when needed). */
export function encodeHeader(h: TarHeader): Buffer {
  const size = h.type === 'file' ? h.size : 0;
  const pax: Buffer[] = [];
  let name: string;
  let prefix = '';
  const split = isAscii(h.path) ? splitUstar(h.path) : undefined;
  if (split) [prefix, name] = split;
  else {
    pax.push(paxRecord('path', Buffer.from(h.path, 'utf8')));
    name = isAscii(h.path) ? h.path.slice(0, 99) : 'pax-path';
  }
  if (h.xattrs) {
    for (const [k, v] of [...h.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
  }
  const main = rawHeader(h, name, prefix, pax, size, TYPE_FLAG[h.type]);
  if (pax.length === 0) return main;
  // PAX records must come in a stable order: sort by key so uid/size additions are deterministic.
  const body = Buffer.concat(pax.sort(Buffer.compare));
  const base = h.path.replace(/\/$/, '').split('/').pop() ?? 'x';
  const paxName = ('PaxHeaders/' + (isAscii(base) ? base : 'entry')).slice(0, 99);
  const paxHeader = rawHeader({ path: paxName, type: 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: h.mtime }, paxName, '', [], body.length, 'x');
  return Buffer.concat([paxHeader, body, Buffer.alloc(padding(body.length)), main]);
}

export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

// ---------------------------------------------------------------------------------------------- reading

export interface TarEntry {
  path: string;
  /** Raw type flag: '0' file, '1' link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo, ... */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
  /**
   * A GNU sparse file (`tar -S`, PAX formats 0.1 and 1.0): `size` bytes of data stand for a file of `realSize`
   * bytes with holes. The map is in the PAX header (0.1) or at the start of the data (1.0, map undefined).
   */
  sparse?: { realSize: number; map?: [number, number][] };
  /** Set for a sparse encoding this reader does not unpack (GNU 0.0, old GNU 'S'): what it is. */
  unsupported?: string;
}

/** Pulls exact byte counts out of an async stream of chunks. */
class ByteSource {
  #it: AsyncIterator<Buffer | string>;
  #bufs: Buffer[] = [];
  #len = 0;
  #done = false;
  constructor(src: AsyncIterable<Buffer | string> | Iterable<Buffer | string>) {
    if (Symbol.asyncIterator in src) this.#it = src[Symbol.asyncIterator]();
    else {
      const it = src[Symbol.iterator]();
      this.#it = { next: async () => it.next(), return: async () => it.return?.() ?? { done: true, value: undefined } };
    }
  }
  async #fill(n: number): Promise<void> {
    while (this.#len < n && !this.#done) {
      const r = await this.#it.next();
      if (r.done) this.#done = true;
      else {
        const b = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
        if (b.length) {
          this.#bufs.push(b);
          this.#len += b.length;
        }
      }
    }
  }
  /** Up to n bytes (fewer only at end of stream). */
  async read(n: number): Promise<Buffer> {
    await this.#fill(n);
    const take = Math.min(n, this.#len);
    const all = this.#bufs.length === 1 ? this.#bufs[0]! : Buffer.concat(this.#bufs, this.#len);
    const out = all.subarray(0, take);
    const rest = all.subarray(take);
    this.#bufs = rest.length ? [rest] : [];
    this.#len = rest.length;
    return out;
  }
  /** Up to max bytes of what is available now (at least 1 unless at end). */
  async readSome(max: number): Promise<Buffer> {
    if (this.#len === 0) await this.#fill(1);
    if (this.#len === 0) return Buffer.alloc(0);
    const first = this.#bufs[0]!;
    if (first.length <= max) {
      this.#bufs.shift();
      this.#len -= first.length;
      return first;
    }
    this.#bufs[0] = first.subarray(max);
    this.#len -= max;
    return first.subarray(0, max);
  }
  async readExact(n: number, what: string): Promise<Buffer> {
    const b = await this.read(n);
    if (b.length !== n) throw new StratumError(`truncated tar archive (in ${what})`);
    return b;
  }
  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // GNU base-256
    let n = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + b[off + i]!;
    return n;
  }
  const s = b.toString('ascii', off, off + len).replace(/\0.*$/s, '').trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(body: Buffer, into: Map<string, Buffer>): void {
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(body.toString('ascii', off, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > body.length) throw new StratumError('malformed PAX header in tar archive');
    const rec = body.subarray(sp + 1, off + len - 1); // drop trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq > 0) into.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    off += len;
  }
}

/** Fills in `sparse` (or `unsupported`) from GNU's sparse PAX keys; the real name is in GNU.sparse.name. */
function readSparse(e: TarEntry, flag: string, pax: (k: string) => string | undefined): void {
  if (flag === 'S') {
    e.unsupported = 'an old GNU sparse file (type S): recreate the archive with --format=posix';
    return;
  }
  const major = pax('GNU.sparse.major');
  const map = pax('GNU.sparse.map');
  if (major === undefined && map === undefined && pax('GNU.sparse.offset') === undefined) return;
  e.path = pax('GNU.sparse.name') ?? e.path;
  const realSize = Number(pax('GNU.sparse.realsize') ?? pax('GNU.sparse.size'));
  if (!Number.isSafeInteger(realSize) || realSize < 0) {
    e.unsupported = 'a GNU sparse file without a valid real size';
    return;
  }
  if (major === '1' && pax('GNU.sparse.minor') === '0') {
    e.sparse = { realSize };
    return;
  }
  if (map !== undefined && major === undefined) {
    const nums = map.split(',').map(Number);
    if (nums.length % 2 !== 0 || nums.some((n) => !Number.isSafeInteger(n) || n < 0)) {
      e.unsupported = 'a GNU sparse file with a malformed map';
      return;
    }
    const pairs: [number, number][] = [];
    for (let i = 0; i < nums.length; i += 2) pairs.push([nums[i]!, nums[i + 1]!]);
    e.sparse = { realSize, map: pairs };
    return;
  }
  e.unsupported = `a GNU sparse file in format ${major ?? '0'}.${pax('GNU.sparse.minor') ?? '0'}: recreate the archive with GNU tar 1.34's default (-S --format=posix)`;
}

/**
 * Streaming tar reader. Call next() for each entry; the entry's data is available through body() until the next
 * call to next() (unread data is skipped).
 */
export class TarReader {
  #src: ByteSource;
  #remaining = 0;
  #pad = 0;
  #global = new Map<string, Buffer>();
  constructor(src: AsyncIterable<Buffer | string> | Iterable<Buffer | string>) {
    this.#src = new ByteSource(src);
  }

  async #skipRest(): Promise<void> {
    let n = this.#remaining + this.#pad;
    while (n > 0) {
      const b = await this.#src.readSome(Math.min(n, 1 << 20));
      if (b.length === 0) throw new StratumError('truncated tar archive');
      n -= b.length;
    }
    this.#remaining = 0;
    this.#pad = 0;
  }

  async *body(): AsyncGenerator<Buffer> {
    while (this.#remaining > 0) {
      const b = await this.#src.readSome(Math.min(this.#remaining, 1 << 20));
      if (b.length === 0) throw new StratumError('truncated tar archive (in file data)');
      this.#remaining -= b.length;
      yield b;
    }
  }

  async next(): Promise<TarEntry | null> {
    await this.#skipRest();
    const local = new Map<string, Buffer>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await this.#src.read(BLOCK);
      if (block.length === 0) return null;
      if (block.length < BLOCK) throw new StratumError('truncated tar archive (in a header)');
      if (block.every((x) => x === 0)) return null;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
      const stored = num(block, 148, 8);
      if (stored !== sum) throw new StratumError('invalid tar header checksum (not a tar archive, or corrupt)');
      const flag = block[156] === 0 ? '0' : String.fromCharCode(block[156]!);
      const size = num(block, 124, 12);
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        const body = await this.#src.readExact(size, 'an extended header');
        await this.#src.readExact(padding(size), 'an extended header');
        if (flag === 'x') parsePax(body, local);
        else if (flag === 'g') parsePax(body, this.#global);
        else if (flag === 'L') longName = cstr(body, 0, body.length);
        else longLink = cstr(body, 0, body.length);
        continue;
      }
      const magic = block.toString('binary', 257, 263);
      const prefix = magic === 'ustar\0' ? cstr(block, 345, 155) : '';
      let path = cstr(block, 0, 100);
      if (prefix) path = `${prefix}/${path}`;
      const pax = new Map([...this.#global, ...local]);
      const paxStr = (k: string) => pax.get(k)?.toString('utf8');
      const paxNum = (k: string) => {
        const v = paxStr(k);
        return v === undefined ? undefined : Number(v);
      };
      const e: TarEntry = {
        path: paxStr('path') ?? longName ?? path,
        type: flag === '7' ? '0' : flag,
        mode: num(block, 100, 8),
        uid: paxNum('uid') ?? num(block, 108, 8),
        gid: paxNum('gid') ?? num(block, 116, 8),
        size: paxNum('size') ?? size,
        mtime: Math.floor(paxNum('mtime') ?? num(block, 136, 12)),
        linkpath: paxStr('linkpath') ?? longLink ?? cstr(block, 157, 100),
        devmajor: num(block, 329, 8),
        devminor: num(block, 337, 8),
        xattrs: new Map(),
      };
      for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) e.xattrs.set(k.slice(13), v);
      readSparse(e, flag, paxStr);
      if (e.type === '0' && e.path.endsWith('/')) e.type = '5';
      // Only regular files (and unknown types) carry data; hardlinks etc. with a size field have none.
      this.#remaining = e.type === '0' || !'123456'.includes(e.type) ? e.size : 0;
      this.#pad = padding(this.#remaining);
      return e;
    }
  }

  /** Reads (and discards) everything left in the stream, past the end-of-archive blocks. */
  async drain(): Promise<void> {
    this.#remaining = 0;
    this.#pad = 0;
    while ((await this.#src.readSome(1 << 20)).length > 0) {
      /* discard */
    }
  }

  async close(): Promise<void> {
    await this.#src.close();
  }
}
