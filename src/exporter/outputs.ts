/**
 * Where a built image goes besides the local store: one exporter per output type, behind one interface, so the
 * solver hands an output to whichever exporter owns its type and a new type is one entry here.
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import type { ContentStore } from '../store/content.js';
import { normalizeRef } from '../store/reference.js';
import type { Descriptor } from '../store/types.js';
import { writeOutput } from './atomic.js';
import { exportDockerArchive } from './docker.js';
import { exportOciLayout } from './oci.js';
import { exportRootfs } from './rootfs.js';
import { scanXattrs } from './xattr.js';
import { tarSegments, KEPT_XATTRS } from './layer.js';

export type OutputSpec =
  | { type: 'oci'; dest: string; tar?: boolean }
  | { type: 'docker'; dest: string }
  | { type: 'local'; dest: string }
  | { type: 'tar'; dest: string };

export interface ExportedImage {
  store: ContentStore;
  manifest: Descriptor;
  /** Full names the image was tagged with, first one first. */
  tags: string[];
}

export type Exporter<T extends OutputSpec = OutputSpec> = (image: ExportedImage, out: T) => Promise<void>;

const EXPORTERS: { [K in OutputSpec['type']]: Exporter<Extract<OutputSpec, { type: K }>> } = {
  oci: (img, out) => exportOciLayout(img.store, img.manifest, out.dest, { refName: img.tags[0] ? refName(img.tags[0]) : undefined, tar: out.tar }),
  docker: (img, out) => exportDockerArchive(img.store, img.manifest, out.dest, img.tags),
  local: (img, out) => exportRootfs(img.store, img.manifest, out.dest),
  tar: (img, out) => exportRootfsTar(img.store, img.manifest, out.dest),
};

/** Writes one output of a built image. */
export function writeImageOutput(image: ExportedImage, out: OutputSpec): Promise<void> {
  return (EXPORTERS[out.type] as Exporter)(image, out);
}

/** The tag part of a reference, as `oci:DIR:TAG` tools expect in ref.name. */
function refName(full: string): string {
  return normalizeRef(full).tag ?? 'latest';
}

/** The image's root filesystem as one tar file (`type=tar`, as buildx writes it): flattened, then packed in order. */
async function exportRootfsTar(store: ContentStore, manifest: Descriptor, dest: string): Promise<void> {
  const flat = store.tempPath('rootfs-tar-');
  try {
    await exportRootfs(store, manifest, flat);
    await writeOutput(dest, 'file', async (tmp) => {
      const out = createWriteStream(tmp, { mode: 0o644 });
      const done = new Promise<void>((resolve, reject) => {
        out.on('error', reject);
        out.on('finish', resolve);
      });
      for (const seg of tarSegments(flat, await scanXattrs(flat, KEPT_XATTRS), undefined)) {
        if (!out.write(seg)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      out.end();
      await done;
    });
  } finally {
    await fsp.rm(flat, { recursive: true, force: true });
  }
}
