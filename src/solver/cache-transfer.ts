/**
 * --cache-to / --cache-from: the step cache as an OCI artifact. Its config blob holds the records (key → snapshot id,
 * with the layer of that snapshot), its layers are those layers; it lives in a registry or an OCI layout directory.
 *
 * An import trusts the cache for what a key maps to (as any shared cache is trusted), but never for content: each
 * record is stored under the key it names and no other, and its layer is unpacked only once its blob matches both its
 * digest and its diff_id (images.ts, the same check as a base image's layers).
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { layerMediaType, layerMemoKey, parseLayerMemoKey } from '../exporter/index.js';
import { SNAPSHOT_ID, type Descriptor, type LayerRecord } from '../store/index.js';
import { StratumError } from '../util/errors.js';
import type { BuildContext } from './context.js';
import { feedsImage, layerFor } from './export.js';
import { snapshotForLayerAs } from './images.js';
import { NO_CHANGES } from './lookup.js';
import type { CacheSpec } from './types.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.stratum.cache.v1';
export const CACHE_RECORDS_TYPE = 'application/vnd.stratum.cache.records.v1+json';
const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
/** Bounds on what an import reads: a records file is small JSON, one per build. */
const MAX_RECORDS_BYTES = 16 << 20;
const MAX_MANIFEST_BYTES = 4 << 20;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

interface ExportedRecord {
  key: string;
  snapshot: string;
  created: string;
  createdBy: string;
  /** The snapshot's layer, and the memo key it was made under (so an importer exports the very same blob). */
  layer?: LayerRecord & { memoKey: string };
}

interface RecordsFile {
  version: 1;
  records: ExportedRecord[];
}

function describe(spec: CacheSpec): string {
  return spec.type === 'registry' ? `type=registry,ref=${spec.ref}` : `type=local,${spec.dir}`;
}

/** Writes the records of this build's steps (mode=min: the image's stages; max: all) and their layers to each cache. */
export async function exportCache(ctx: BuildContext, specs: CacheSpec[]): Promise<void> {
  if (specs.length === 0) return;
  const byMode = new Map<string, Descriptor>();
  for (const spec of specs) {
    const mode = spec.mode ?? 'min';
    let desc = byMode.get(mode);
    if (!desc) byMode.set(mode, (desc = await cacheArtifact(ctx, mode)));
    ctx.emit({ kind: 'export', what: `cache to ${describe(spec)} (mode=${mode})`, time: Date.now() });
    if (spec.type === 'registry') {
      const { createRegistryClient } = await import('../registry/index.js');
      const client = createRegistryClient(ctx.session.root, ctx.opts.registry ?? {});
      try {
        const r = await client.push(ctx.session.content, desc, spec.ref);
        ctx.emit({ kind: 'export', what: `cache ${spec.ref}@${r.digest}: ${r.uploaded} blob(s) uploaded, ${r.skipped} already there`, time: Date.now() });
      } finally {
        client.close();
      }
    } else {
      await writeLayoutDir(ctx, desc, spec.dir);
    }
  }
}

/** The artifact's manifest, stored in the content store. */
async function cacheArtifact(ctx: BuildContext, mode: 'min' | 'max'): Promise<Descriptor> {
  const memoKey = layerMemoKey(ctx.opts.compression ?? 'gzip', ctx.opts.sourceDateEpoch);
  const keys = new Set((ctx.stepKeys ?? []).filter((k) => mode === 'max' || feedsImage(ctx, k.stage)).map((k) => k.key));
  const records: ExportedRecord[] = [];
  const layers = new Map<string, Descriptor>();
  for (const key of [...keys].sort()) {
    const rec = await ctx.session.cache.get(key);
    if (!rec) continue;
    const out: ExportedRecord = { key: rec.key, snapshot: rec.snapshot, created: rec.created, createdBy: rec.createdBy };
    if (rec.snapshot !== NO_CHANGES) {
      // A snapshot pruned since the lookup has no layer to give: its record stays behind.
      if (!(await ctx.session.snapshots.exists(rec.snapshot))) continue;
      const l = await layerFor(ctx, { snapshot: rec.snapshot, createdBy: rec.createdBy });
      out.layer = { digest: l.digest, diffID: l.diffID, size: l.size, mediaType: l.mediaType, memoKey };
      layers.set(l.digest, { mediaType: l.mediaType, digest: l.digest, size: l.size });
    }
    records.push(out);
  }
  const file: RecordsFile = { version: 1, records };
  const config = await ctx.session.content.putBytes(JSON.stringify(file));
  const manifest = {
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: { mediaType: CACHE_RECORDS_TYPE, digest: config.digest, size: config.size },
    layers: [...layers.values()],
  };
  const m = await ctx.session.content.putBytes(JSON.stringify(manifest));
  return { mediaType: MANIFEST_TYPE, digest: m.digest, size: m.size, artifactType: CACHE_ARTIFACT_TYPE };
}

/** An OCI image layout holding the artifact; blobs already there are kept, index.json is replaced last. */
async function writeLayoutDir(ctx: BuildContext, desc: Descriptor, dir: string): Promise<void> {
  const blobs = path.join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const content = ctx.session.content;
  const manifest = JSON.parse((await content.readBytes(desc.digest)).toString('utf8')) as { config: Descriptor; layers: Descriptor[] };
  for (const d of [manifest.config, ...manifest.layers, desc]) {
    const dest = path.join(blobs, d.digest.slice(7));
    const tmp = `${dest}.tmp-${process.pid}`;
    await copyFile(content.blobPath(d.digest), tmp);
    await rename(tmp, dest);
  }
  await writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [desc] };
  const tmp = path.join(dir, `index.json.tmp-${process.pid}`);
  await writeFile(tmp, JSON.stringify(index));
  await rename(tmp, path.join(dir, 'index.json'));
}

/** Where an import reads the artifact's blobs: each is checked against its digest as it lands in the store. */
interface ArtifactSource {
  manifest(): Promise<Buffer>;
  fetch(d: Descriptor): Promise<void>;
  close(): void;
}

async function openSource(ctx: BuildContext, spec: CacheSpec): Promise<ArtifactSource> {
  const content = ctx.session.content;
  if (spec.type === 'local') {
    const blob = (digest: string) => {
      if (!DIGEST.test(digest)) throw new StratumError(`bad digest ${JSON.stringify(digest)}`);
      return path.join(spec.dir, 'blobs', 'sha256', digest.slice(7));
    };
    return {
      async manifest() {
        const index = JSON.parse(await readFile(path.join(spec.dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
        const d = (index.manifests ?? []).find((m) => (m as { artifactType?: string }).artifactType === CACHE_ARTIFACT_TYPE);
        if (!d || !DIGEST.test(d.digest) || d.size > MAX_MANIFEST_BYTES) throw new StratumError('no stratum cache in its index.json');
        await content.ingest(createReadStream(blob(d.digest)), { digest: d.digest, size: d.size });
        return content.readBytes(d.digest);
      },
      async fetch(d) {
        if (!(await content.has(d.digest))) await content.ingest(createReadStream(blob(d.digest)), { digest: d.digest, size: d.size });
      },
      close() {},
    };
  }
  const { createRegistryClient } = await import('../registry/index.js');
  const client = createRegistryClient(ctx.session.root, ctx.opts.registry ?? {});
  return {
    async manifest() {
      return (await client.getManifest(spec.ref)).bytes;
    },
    async fetch(d) {
      if (!(await content.has(d.digest))) await content.ingest(client.openBlob(spec.ref, d, ctx.signal), { digest: d.digest, size: d.size });
    },
    close: () => client.close(),
  };
}

/**
 * Takes in the records of each cache before the build. A cache that cannot be read is a warning (as buildx), and so
 * is a record whose layer fails its checks: that step is then simply built.
 */
export async function importCache(ctx: BuildContext, specs: CacheSpec[]): Promise<void> {
  for (const spec of specs) {
    let source: ArtifactSource | undefined;
    let file: RecordsFile;
    try {
      source = await openSource(ctx, spec);
      const manifest = JSON.parse((await source.manifest()).toString('utf8')) as { artifactType?: string; config?: Descriptor };
      const config = manifest.config;
      if (manifest.artifactType !== CACHE_ARTIFACT_TYPE || config?.mediaType !== CACHE_RECORDS_TYPE || !DIGEST.test(config.digest)) throw new StratumError('not a stratum cache');
      if (!(config.size <= MAX_RECORDS_BYTES)) throw new StratumError(`records of ${config.size} bytes (at most ${MAX_RECORDS_BYTES})`);
      await source.fetch(config);
      file = JSON.parse((await ctx.session.content.readBytes(config.digest)).toString('utf8')) as RecordsFile;
      if (file.version !== 1 || !Array.isArray(file.records)) throw new StratumError('unknown records version');
    } catch (e) {
      source?.close();
      ctx.emit({ kind: 'export', what: `WARNING: cache ${describe(spec)} not imported: ${(e as Error).message}`, time: Date.now() });
      continue;
    }
    let taken = 0;
    let refused = 0;
    try {
      for (const rec of file.records) {
        try {
          if (await importRecord(ctx, source, rec)) taken++;
        } catch (e) {
          refused++;
          ctx.emit({ kind: 'export', what: `WARNING: cache record ${String(rec?.key).slice(7, 19)} ignored: ${(e as Error).message}`, time: Date.now() });
        }
      }
    } finally {
      source.close();
    }
    ctx.emit({ kind: 'export', what: `cache from ${describe(spec)}: ${taken} record(s) taken${refused ? `, ${refused} refused` : ''}`, time: Date.now() });
  }
}

/** One record into the local cache; false when the store already has the key (its own record wins). */
async function importRecord(ctx: BuildContext, source: ArtifactSource, rec: ExportedRecord): Promise<boolean> {
  const { session } = ctx;
  if (typeof rec !== 'object' || rec === null || typeof rec.key !== 'string' || !DIGEST.test(rec.key)) throw new StratumError('malformed record');
  if (typeof rec.created !== 'string' || Number.isNaN(Date.parse(rec.created)) || typeof rec.createdBy !== 'string') throw new StratumError('malformed record');
  if (await session.cache.get(rec.key)) return false;
  const local = { key: rec.key, snapshot: rec.snapshot, created: rec.created, createdBy: rec.createdBy };
  if (rec.snapshot === NO_CHANGES) {
    await session.cache.put(local);
    return true;
  }
  const l = rec.layer;
  if (typeof rec.snapshot !== 'string' || !SNAPSHOT_ID.test(rec.snapshot) || !l || !DIGEST.test(l.digest) || !DIGEST.test(l.diffID) || !(l.size >= 0) || typeof l.mediaType !== 'string') {
    throw new StratumError('malformed record');
  }
  const layer = { digest: l.digest, diffID: l.diffID, size: l.size, mediaType: l.mediaType };
  // Targets of one bake often share a cache: one unpack per store and snapshot id.
  const memo = `${session.root}\0${rec.snapshot}`;
  let p = unpacking.get(memo);
  if (!p) {
    p = unpackRecord(ctx, source, rec.snapshot, { ...layer, memoKey: l.memoKey }).finally(() => unpacking.delete(memo));
    unpacking.set(memo, p);
  }
  await p;
  await session.cache.put(local);
  return true;
}

const unpacking = new Map<string, Promise<void>>();

async function unpackRecord(ctx: BuildContext, source: ArtifactSource, id: string, layer: LayerRecord & { memoKey: unknown }): Promise<void> {
  const { snapshots } = ctx.session;
  // The id is taken (here before, or by another build meanwhile): usable only when that snapshot is known to hold
  // this very layer's files.
  const holds = async () => {
    const have = await snapshots.meta(id);
    if (have && !Object.values(have.layers).some((x) => x.diffID === layer.diffID)) throw new StratumError(`snapshot id ${id} is another snapshot here`);
    return have !== undefined;
  };
  if (await holds()) return;
  const blob = { digest: layer.digest, diffID: layer.diffID, size: layer.size, mediaType: layer.mediaType };
  try {
    await source.fetch(blob);
    await snapshotForLayerAs(ctx.session, blob, layer.diffID, id, ctx.emit);
  } catch (e) {
    if (await holds()) return;
    throw e;
  }
  // The blob stands for the snapshot under the memo key it was made with (when that key's compression is the
  // blob's), so an export here gives the same layer, and the same image digest, as where it was built.
  const memo = typeof layer.memoKey === 'string' ? parseLayerMemoKey(layer.memoKey) : undefined;
  const meta = await snapshots.meta(id);
  if (memo && meta && layerMediaType(memo.compression) === layer.mediaType) {
    meta.layers[layer.memoKey as string] = blob;
    await snapshots.writeMeta(meta);
  }
}
