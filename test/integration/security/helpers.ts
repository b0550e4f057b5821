import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { encodeHeader, padding, type TarHeader } from '../../../src/exporter/tar.js';

export function sha256(buf: Buffer | string): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

export interface TarItem extends Partial<TarHeader> {
  path: string;
  content?: string | Buffer;
}

/** An uncompressed tar of the given entries (files by default, 0644, root-owned), end blocks included. */
export function makeTar(items: TarItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const it of items) {
    const data = it.content === undefined ? Buffer.alloc(0) : Buffer.from(it.content);
    const type = it.type ?? 'file';
    const h: TarHeader = { mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, ...it, type, size: type === 'file' ? data.length : 0 };
    parts.push(encodeHeader(h));
    if (type === 'file') parts.push(data, Buffer.alloc(padding(data.length)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export interface LayoutImage {
  /** Uncompressed layer tars, bottom first. */
  layers: Buffer[];
  /** What the config claims instead of the layers' real diff_ids. */
  diffIDs?: string[];
  /** Replaces the whole config document (for malformed-config cases). */
  rawConfig?: unknown;
  config?: Record<string, unknown>;
  /** Replaces the whole manifest document. */
  rawManifest?: (m: Record<string, unknown>) => unknown;
  /** Replaces the whole index.json document. */
  rawIndex?: (idx: Record<string, unknown>) => unknown;
}

/** Writes an OCI image layout with one image (gzip layers) tagged `latest`; returns the manifest digest. */
export async function writeLayout(dir: string, img: LayoutImage): Promise<string> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await fsp.mkdir(blobs, { recursive: true });
  const put = async (b: Buffer) => {
    const d = sha256(b);
    await fsp.writeFile(path.join(blobs, d.slice(7)), b);
    return { digest: d, size: b.length };
  };
  const layers = [];
  for (const tar of img.layers) layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(zlib.gzipSync(tar))) });
  const config = img.rawConfig ?? {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: img.diffIDs ?? img.layers.map((t) => sha256(t)) },
    ...img.config,
  };
  const cfg = await put(Buffer.from(JSON.stringify(config)));
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
    layers,
  };
  const m = await put(Buffer.from(JSON.stringify(img.rawManifest ? img.rawManifest(manifest) : manifest)));
  const index: Record<string, unknown> = {
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  };
  await fsp.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await fsp.writeFile(path.join(dir, 'index.json'), JSON.stringify(img.rawIndex ? img.rawIndex(index) : index));
  return m.digest;
}

/** The diff_ids of an OCI layout's (only) image. */
export async function layoutDiffIDs(dir: string): Promise<string[]> {
  const read = async (d: string) => JSON.parse(await fsp.readFile(path.join(dir, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const idx = JSON.parse(await fsp.readFile(path.join(dir, 'index.json'), 'utf8'));
  const manifest = await read(idx.manifests[0].digest);
  const config = await read(manifest.config.digest);
  return config.rootfs.diff_ids;
}
