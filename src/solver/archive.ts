import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { applyLayer } from '../exporter/index.js';
import { InputError } from '../util/errors.js';
import { DirMaker } from '../worker/copy.js';

export type ArchiveKind = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'tar';

const COMPRESSION: { bytes: number[]; kind: Exclude<ArchiveKind, 'tar'> }[] = [
  { bytes: [0x1f, 0x8b], kind: 'gzip' },
  { bytes: [0x42, 0x5a, 0x68], kind: 'bzip2' },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], kind: 'xz' },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], kind: 'zstd' },
];

/**
 * What ADD unpacks, as BuildKit decides it: a file whose (decompressed) start is a tar header. A compressed file
 * that holds no tar (`data.json.gz`) is copied as it is, as is anything else.
 */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const fh = await open(file, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(512);
    const { bytesRead } = await fh.read(head, 0, 512, 0);
    head = head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const compression = COMPRESSION.find((m) => m.bytes.every((b, i) => head[i] === b))?.kind;
  if (!compression) return isTarHeader(head) ? 'tar' : undefined;
  const block = await firstBytes(compression === 'gzip' ? createReadStream(file).pipe(createGunzip()) : toolStream(compression, file), 512).catch(() => Buffer.alloc(0));
  return isTarHeader(block) ? compression : undefined;
}

/** A tar header block: its checksum field matches its bytes (v7 tars have no `ustar` magic to look for). */
function isTarHeader(b: Buffer): boolean {
  if (b.length < 512 || b.every((x) => x === 0)) return false;
  const field = b.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/, '').trim();
  if (!/^[0-7]+$/.test(field)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : (b[i] as number);
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  const want = parseInt(field, 8);
  return want === unsigned || want === signed;
}

function toolStream(kind: 'bzip2' | 'xz' | 'zstd', file: string): Readable {
  const child = spawn(kind, ['-dc', file], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => child.stdout.destroy());
  child.stdout.on('close', () => child.kill());
  return child.stdout;
}

function firstBytes(stream: Readable, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = () => {
      stream.destroy();
      resolve(Buffer.concat(chunks).subarray(0, n));
    };
    stream.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) done();
    });
    stream.on('end', done);
    stream.on('error', reject);
  });
}

/** ADD of a tar archive: unpack it at the destination (created with `owner`), refusing hostile entries. */
export async function extractArchive(
  file: string,
  kind: ArchiveKind,
  to: { destRoot: string; dest: string; owner?: { uid: number; gid: number } },
  staging: () => string,
  where: string,
): Promise<void> {
  let tar = file;
  let tmp: string | undefined;
  if (kind === 'bzip2' || kind === 'xz' || kind === 'zstd') {
    tmp = staging();
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(tmp!);
      const child = spawn(kind, ['-dc', file], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.pipe(out);
      child.on('error', reject);
      out.on('finish', () => (child.exitCode === 0 || child.exitCode === null ? resolve() : reject(new InputError(`${where}: cannot decompress ${file}`))));
    });
    tar = tmp;
  }
  try {
    const target = await new DirMaker(to.destRoot, to.owner).ensure(to.dest);
    await applyLayer(
      { path: tar, mediaType: kind === 'gzip' ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar' },
      target,
      { format: 'flat', archive: true, owner: to.owner },
    );
  } finally {
    if (tmp) await rm(tmp, { force: true });
  }
}
