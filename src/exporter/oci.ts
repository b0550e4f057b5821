import { constants as C, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { ContentStore } from '../store/content.js';
import { normalizeRef } from '../store/reference.js';
import { isIndexMediaType, MediaTypes, REF_NAME_ANNOTATION, type Descriptor, type Index } from '../store/types.js';
import { checkIndex } from '../store/validate.js';
import { InputError, StratumError } from '../util/errors.js';
import { writeOutput } from './atomic.js';
import { collectBlobs, pickPlatform } from './image.js';
import { TarFileWriter } from './tarfile.js';

const LAYOUT = JSON.stringify({ imageLayoutVersion: '1.0.0' });

function layoutIndex(manifest: Descriptor, refName?: string): string {
  const d: Descriptor = { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size };
  if (manifest.platform) d.platform = manifest.platform;
  if (refName) d.annotations = { [REF_NAME_ANNOTATION]: refName };
  const idx: Index = { schemaVersion: 2, mediaType: MediaTypes.index, manifests: [d] };
  return JSON.stringify(idx, null, 2) + '\n';
}

/**
 * Writes an OCI image layout (directory, or a tar of one with `tar: true`) holding `manifest` and every blob it
 * references. `refName` becomes the org.opencontainers.image.ref.name annotation (e.g. "latest", for `DIR:latest`).
 */
export async function exportOciLayout(store: ContentStore, manifest: Descriptor, dest: string, opts: { refName?: string; tar?: boolean } = {}): Promise<void> {
  const blobs = await collectBlobs(store, manifest);
  for (const b of blobs) if (!(await store.has(b.digest))) throw new StratumError(`cannot export: blob ${b.digest} is missing from the store`);
  await writeOutput(dest, opts.tar ? 'file' : 'dir', async (tmp) => {
    if (opts.tar) {
      const w = await TarFileWriter.create(tmp);
      try {
        await w.addBytes('oci-layout', LAYOUT);
        await w.addBytes('index.json', layoutIndex(manifest, opts.refName));
        for (const b of blobs) await w.addFile(`blobs/sha256/${b.digest.slice(7)}`, store.blobPath(b.digest));
        await w.close();
      } catch (e) {
        await w.abort();
        throw e;
      }
      return;
    }
    const blobDir = path.join(tmp, 'blobs', 'sha256');
    await fsp.mkdir(blobDir, { recursive: true });
    for (const b of blobs) await fsp.copyFile(store.blobPath(b.digest), path.join(blobDir, b.digest.slice(7)), C.COPYFILE_FICLONE);
    await fsp.writeFile(path.join(tmp, 'oci-layout'), LAYOUT);
    await fsp.writeFile(path.join(tmp, 'index.json'), layoutIndex(manifest, opts.refName));
  });
}

function sameRef(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return normalizeRef(a).full === normalizeRef(b).full;
  } catch {
    return false;
  }
}

/**
 * Copies an image from an OCI layout directory into the store (verifying every digest) and returns its manifest
 * descriptor. The manifest is chosen by `ref` (the ref.name annotation), or is the only one; an index is resolved
 * to its linux/amd64 manifest.
 */
export async function importOciLayout(store: ContentStore, dir: string, ref?: string): Promise<Descriptor> {
  const layoutDir = path.resolve(dir);
  let raw: unknown;
  try {
    raw = JSON.parse(await fsp.readFile(path.join(layoutDir, 'index.json'), 'utf8'));
  } catch (e) {
    throw new InputError(`${layoutDir} is not an OCI image layout (cannot read index.json: ${(e as Error).message})`);
  }
  const entries = checkIndex(raw, `${layoutDir}/index.json`).manifests;
  let chosen: Descriptor | undefined;
  if (ref !== undefined && /^sha256:[a-f0-9]{64}$/.test(ref)) {
    // `DIR@sha256:…`: an image of the layout by its digest, listed in index.json or only kept among its blobs
    // (a platform's manifest under an index).
    chosen = entries.find((m) => m.digest === ref) ?? (await layoutBlobDescriptor(layoutDir, ref));
  } else if (ref !== undefined) {
    chosen = entries.find((m) => {
      const n = m.annotations?.[REF_NAME_ANNOTATION];
      const full = m.annotations?.['io.containerd.image.name'];
      return (n !== undefined && sameRef(n, ref)) || (full !== undefined && sameRef(full, ref));
    });
    if (!chosen) {
      const names = entries.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).filter(Boolean);
      throw new InputError(`${layoutDir}: no image named ${JSON.stringify(ref)} (has: ${names.join(', ') || 'none'})`);
    }
  } else if (entries.length === 1) {
    chosen = entries[0];
  } else {
    const names = entries.map((m) => m.annotations?.[REF_NAME_ANNOTATION] ?? m.digest);
    throw new InputError(`${layoutDir} holds ${entries.length} images; name one of: ${names.join(', ')}`);
  }
  const blobFile = (d: Descriptor) => {
    const [alg, hex] = d.digest.split(':');
    if (alg !== 'sha256' || !/^[a-f0-9]{64}$/.test(hex ?? '')) throw new InputError(`${layoutDir}: unsupported digest ${d.digest}`);
    return path.join(layoutDir, 'blobs', alg, hex!);
  };
  const copy = async (d: Descriptor) => {
    if (await store.has(d.digest)) return;
    try {
      await store.ingestFile(blobFile(d), { digest: d.digest, size: d.size });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`${layoutDir}: blob ${d.digest} is missing`);
      // A blob that is not what the layout says is bad input; a full disk or an I/O error is not.
      if (e instanceof StratumError) throw new InputError(`${layoutDir}: blob ${d.digest}: ${e.message}`);
      throw e;
    }
  };
  let desc = chosen!;
  if (isIndexMediaType(desc.mediaType)) {
    await copy(desc);
    desc = pickPlatform(await store.readIndex(desc.digest), `${layoutDir} (${desc.digest})`);
  }
  await copy(desc);
  const manifest = await store.readManifest(desc.digest);
  await copy(manifest.config);
  await store.readConfig(manifest.config.digest);
  for (const l of manifest.layers) await copy(l);
  const out: Descriptor = { mediaType: desc.mediaType ?? manifest.mediaType ?? MediaTypes.manifest, digest: desc.digest, size: desc.size };
  if (desc.platform) out.platform = desc.platform;
  return out;
}

async function layoutBlobDescriptor(layoutDir: string, digest: string): Promise<Descriptor> {
  const file = path.join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch {
    throw new InputError(`${layoutDir}: no image ${digest} (neither in index.json nor among its blobs)`);
  }
  let mediaType: unknown;
  try {
    mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
  } catch {
    throw new InputError(`${layoutDir}: blob ${digest} is not an image manifest or index`);
  }
  if (typeof mediaType !== 'string' || !/manifest|index/.test(mediaType)) throw new InputError(`${layoutDir}: blob ${digest} is not an image manifest or index`);
  return { mediaType, digest, size: bytes.length };
}
