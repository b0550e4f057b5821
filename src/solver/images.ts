import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { applyLayer, importOciLayout, verifyLayerBlob } from '../exporter/index.js';
import { isIndexMediaType, type Descriptor } from '../store/index.js';
import { InputError } from '../util/errors.js';
import type { Session } from './session.js';
import { cacheKey } from './cache.js';
import type { ChainEntry, StageState } from './state.js';
import { byteMeter } from './transfer.js';
import type { Platform, ProgressEvent } from './types.js';

type Emit = (e: ProgressEvent) => void;

/** Unpacks (once) every layer of a manifest into snapshots and returns the stage state it starts. */
export async function stateFromManifest(session: Session, manifestDesc: Descriptor, platform: Platform, emit?: Emit): Promise<StageState> {
  const desc = await selectPlatform(session, manifestDesc, platform);
  const manifest = await session.content.readManifest(desc.digest);
  const config = await session.content.readConfig(manifest.config.digest);
  if (manifest.layers.length !== config.rootfs.diff_ids.length) {
    throw new InputError(`image ${desc.digest} has ${manifest.layers.length} layers but its config lists ${config.rootfs.diff_ids.length} diff_ids`);
  }
  const chain: ChainEntry[] = [];
  // History entries that made a layer, in order, name what each layer came from.
  const layerHistory = (config.history ?? []).filter((h) => !h.empty_layer);
  for (const [i, layer] of manifest.layers.entries()) {
    const diffID = config.rootfs.diff_ids[i]!;
    const snapshot = await snapshotForLayer(session, layer, diffID, emit);
    const createdBy = layerHistory[i]?.created_by ?? '';
    chain.push({ snapshot, layer: { digest: layer.digest, diffID, size: layer.size, mediaType: layer.mediaType }, createdBy });
  }
  return {
    chain,
    config: { ...config, history: undefined },
    history: config.history ?? [],
    // Keyed on content, not on the manifest digest: an identical image rebuilt at another time
    // (a new `created`) must keep its dependents' cache. Config fields that steps read are part
    // of those steps' own keys.
    key: cacheKey('layers', ...config.rootfs.diff_ids),
  };
}

const unpacking = new Map<string, Promise<string>>();

/**
 * The snapshot holding a layer's files, extracting it on first use. A layer is unpacked only after its blob is
 * checked against both its digest and the diff_id the image claims for it, and a snapshot already known by that
 * diff_id is used for another blob only once that blob too is shown to have that diff_id: an image cannot make
 * later builds run on its files by claiming another image's layer.
 */
export function snapshotForLayer(session: Session, layer: Descriptor, diffID: string, emit?: Emit): Promise<string> {
  // Per store root and blob; a remembered snapshot may since have been pruned, so check it still exists.
  const memo = `${session.root}\0${diffID}\0${layer.digest}`;
  const known = unpacking.get(memo);
  if (known) {
    return known.then(async (id) => {
      if (await session.snapshots.exists(id)) return id;
      if (unpacking.get(memo) === known) unpacking.delete(memo);
      return snapshotForLayer(session, layer, diffID, emit);
    });
  }
  const p = unpackOnce(session, layer, diffID, emit);
  unpacking.set(memo, p);
  p.catch(() => unpacking.delete(memo));
  return p;
}

/**
 * A layer unpacked into a new snapshot of the given id (a cache import: keys name snapshot ids), checked as any
 * other layer against its digest and diff_id first; the id must be free, so no import replaces a snapshot.
 */
export function snapshotForLayerAs(session: Session, layer: Descriptor, diffID: string, id: string, emit?: Emit): Promise<string> {
  return unpackOnce(session, layer, diffID, emit, id);
}

async function unpackOnce(session: Session, layer: Descriptor, diffID: string, emit?: Emit, id?: string): Promise<string> {
  const blob = { path: session.content.blobPath(layer.digest), mediaType: layer.mediaType, digest: layer.digest, diffID };
  const record = { digest: layer.digest, diffID, size: layer.size, mediaType: layer.mediaType };
  const known = id === undefined ? await session.snapshots.byDiffID(diffID) : undefined;
  if (known) {
    const meta = await session.snapshots.meta(known);
    if (meta && !Object.values(meta.layers).some((l) => l.digest === layer.digest && l.diffID === diffID)) {
      await verifyLayerBlob(blob);
      meta.layers[`blob:${layer.digest}`] = record;
      await session.snapshots.writeMeta(meta);
    }
    return known;
  }
  const staging = await session.snapshots.prepare(id);
  try {
    await rm(staging.upper, { recursive: true, force: true });
    const meter = byteMeter(emit, 'unpack', layer.digest, layer.size);
    await applyLayer(blob, staging.upper, { format: 'overlay', onRead: (n) => meter.add(n) });
    meter.end();
    await mkdir(staging.upper, { recursive: true });
    const made = await staging.commit(false);
    const meta = await session.snapshots.meta(made);
    if (meta) {
      meta.layers[layer.mediaType] = record;
      await session.snapshots.writeMeta(meta);
    }
    await session.snapshots.linkDiffID(diffID, made);
    return made;
  } catch (e) {
    await staging.discard();
    throw e;
  }
}

async function selectPlatform(session: Session, desc: Descriptor, platform: Platform): Promise<Descriptor> {
  if (!isIndexMediaType(desc.mediaType)) return desc;
  const index = await session.content.readIndex(desc.digest);
  const match =
    index.manifests.find((m) => m.platform?.os === platform.os && m.platform?.architecture === platform.architecture) ??
    index.manifests.find((m) => !m.platform);
  if (!match) throw new InputError(`image ${desc.digest} has no manifest for ${platform.os}/${platform.architecture}`);
  return match;
}

export type ImageResolver = (ref: string) => Promise<Descriptor | undefined>;

/**
 * Finds an image by reference: the local image store first, then (when a registry puller is
 * configured) the registry.
 */
export async function resolveImage(session: Session, ref: string, pull?: ImageResolver): Promise<Descriptor> {
  const local = await session.images.resolve(ref).catch((e: unknown) => {
    throw new InputError(`invalid image reference "${ref}": ${(e as Error).message}`);
  });
  if (local) return local;
  const pulled = pull ? await pull(ref) : undefined;
  if (pulled) return pulled;
  throw new InputError(
    `image "${ref}" is not in the local store: build it, make it with \`stratum bootstrap\`, or pull it with \`stratum pull\``,
  );
}

/** Imports an `oci-layout://DIR[:TAG]` context into the store and returns its manifest. */
export async function resolveOciLayout(session: Session, dir: string, ref?: string): Promise<Descriptor> {
  return importOciLayout(session.content, path.resolve(dir), ref);
}
