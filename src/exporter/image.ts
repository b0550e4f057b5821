import type { ContentStore } from '../store/content.js';
import { isIndexMediaType, MediaTypes, type Descriptor, type ImageConfig, type Index, type Manifest } from '../store/types.js';
import { StratumError } from '../util/errors.js';
import type { LayerInfo } from './layer.js';

/**
 * Stores the config (with rootfs.diff_ids set from `layers`) and an OCI manifest referencing it.
 * Key order is fixed here so the same inputs always give the same digests.
 */
export async function writeImage(
  store: ContentStore,
  args: { layers: Pick<LayerInfo, 'digest' | 'diffID' | 'size' | 'mediaType'>[]; config: ImageConfig; annotations?: Record<string, string> },
): Promise<{ manifest: Descriptor; config: Descriptor }> {
  const config: ImageConfig = { ...args.config, rootfs: { type: 'layers', diff_ids: args.layers.map((l) => l.diffID) } };
  const cfg = await store.putJSON(config);
  const configDesc: Descriptor = { mediaType: MediaTypes.config, digest: cfg.digest, size: cfg.size };
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.manifest,
    config: configDesc,
    layers: args.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  if (args.annotations && Object.keys(args.annotations).length) manifest.annotations = args.annotations;
  const m = await store.putJSON(manifest);
  return { manifest: { mediaType: MediaTypes.manifest, digest: m.digest, size: m.size }, config: configDesc };
}

/** The image's `created`: the epoch when one is given (reproducible builds), else now. */
export function createdTime(sourceDateEpoch: number | undefined, now = Date.now()): string {
  return new Date(sourceDateEpoch !== undefined ? sourceDateEpoch * 1000 : now).toISOString();
}

/** Every blob an image needs (manifest or index first, then configs and layers), deduplicated. */
export async function collectBlobs(store: ContentStore, root: Descriptor): Promise<Descriptor[]> {
  const out = new Map<string, Descriptor>();
  const visit = async (d: Descriptor) => {
    if (out.has(d.digest)) return;
    out.set(d.digest, d);
    if (isIndexMediaType(d.mediaType)) {
      const idx = await store.readIndex(d.digest);
      for (const m of idx.manifests) await visit(m);
    } else if (d.mediaType === MediaTypes.manifest || d.mediaType === MediaTypes.dockerManifest) {
      const m = await store.readManifest(d.digest);
      await visit(m.config);
      for (const l of m.layers) await visit(l);
    }
  };
  await visit(root);
  return [...out.values()];
}

/** Reads an image manifest; an index is resolved to its linux/amd64 (or only) manifest. */
export async function readManifest(store: ContentStore, desc: Descriptor): Promise<{ desc: Descriptor; manifest: Manifest; config: ImageConfig }> {
  let d = desc;
  if (isIndexMediaType(d.mediaType)) d = pickPlatform(await store.readIndex(d.digest), d.digest);
  const manifest = await store.readManifest(d.digest);
  const config = await store.readConfig(manifest.config.digest);
  return { desc: d, manifest, config };
}

export function pickPlatform(idx: Index, where: string, want = { os: 'linux', architecture: 'amd64' }): Descriptor {
  const images = idx.manifests.filter((m) => !isIndexMediaType(m.mediaType) && m.platform?.architecture !== 'unknown');
  const hit = images.find((m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture) ?? (images.length === 1 ? images[0] : undefined);
  if (!hit) throw new StratumError(`${where}: no ${want.os}/${want.architecture} manifest in the index`);
  return hit;
}
