import { promises as fsp } from 'node:fs';
import type { ContentStore } from '../store/content.js';
import type { ContainerConfig, Descriptor, ImageConfig } from '../store/types.js';
import { InputError } from '../util/errors.js';
import { applyLayer } from './apply.js';
import { createdTime, writeImage } from './image.js';
import { writeLayer, type Compression, type LayerInfo } from './layer.js';

export interface ImportTarballOptions {
  compression?: Compression;
  sourceDateEpoch?: number;
  architecture?: string;
  os?: string;
  /** Container defaults for the image config (default: a standard PATH). */
  config?: ContainerConfig;
  /** Text for the history entry (default "imported from <tarball>"). */
  createdBy?: string;
}

/**
 * Turns a rootfs tarball (e.g. from mmdebstrap) into a one-layer image: a safe flat extraction, then a
 * deterministic re-pack through writeLayer, then a minimal config and manifest.
 */
export async function importTarball(
  store: ContentStore,
  tarPath: string,
  opts: ImportTarballOptions = {},
): Promise<{ manifest: Descriptor; config: Descriptor; layer: LayerInfo }> {
  await fsp.access(tarPath).catch(() => {
    throw new InputError(`tarball ${tarPath} not found`);
  });
  const tmp = store.tempPath('import-');
  try {
    await applyLayer({ path: tarPath, mediaType: '' }, tmp, { format: 'flat' });
    const layer = await writeLayer(tmp, store, { compression: opts.compression ?? 'gzip', sourceDateEpoch: opts.sourceDateEpoch });
    const created = createdTime(opts.sourceDateEpoch);
    const config: ImageConfig = {
      created,
      architecture: opts.architecture ?? 'amd64',
      os: opts.os ?? 'linux',
      config: opts.config ?? { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [layer.diffID] },
      history: [{ created, created_by: opts.createdBy ?? `imported from ${tarPath}` }],
    };
    const { manifest, config: configDesc } = await writeImage(store, { layers: [layer], config });
    return { manifest, config: configDesc, layer };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}
