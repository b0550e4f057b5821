import { promises as fsp } from 'node:fs';
import type { ContentStore } from '../store/content.js';
import type { Descriptor } from '../store/types.js';
import { applyLayer } from './apply.js';
import { writeOutput } from './atomic.js';
import { readManifest } from './image.js';

/** Flattens the image's layers into a plain directory tree at `dest` (written into it when it exists: what was there stays), for `--output type=local`. */
export async function exportRootfs(store: ContentStore, manifest: Descriptor, dest: string): Promise<void> {
  const { manifest: m } = await readManifest(store, manifest);
  await writeOutput(dest, 'dir', async (tmp) => {
    await fsp.mkdir(tmp, { mode: 0o755 });
    for (const l of m.layers) await applyLayer({ path: store.blobPath(l.digest), mediaType: l.mediaType }, tmp, { format: 'flat' });
  });
}
