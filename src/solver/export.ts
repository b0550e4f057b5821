import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import {
  createdTime,
  writeImage,
  writeImageOutput,
  writeLayer,
  layerMemoKey,
  type LayerInfo,
} from '../exporter/index.js';
import { atomicWrite, normalizeRef, type Descriptor, type ImageConfig } from '../store/index.js';
import { cacheKey } from './cache.js';
import { mapLimit } from '../util/concurrency.js';
import { InputError, StratumError } from '../util/errors.js';
import type { BuildContext } from './context.js';
import type { ChainEntry, StageState } from './state.js';
import { byteMeter } from './transfer.js';
import type { BuildResult, LayerSummary } from './types.js';

const making = new Map<string, Promise<LayerInfo>>();

/**
 * The layer blob of a snapshot, made once per compression and timestamp clamp and remembered. Concurrent callers
 * (an eager start while the build goes on, then the export) share one promise, so the work is never done twice.
 */
export function layerFor(ctx: BuildContext, entry: ChainEntry): Promise<LayerInfo> {
  if (entry.layer) return Promise.resolve(entry.layer);
  const k = `${ctx.session.root}\0${entry.snapshot}\0${memoKeyOf(ctx)}`;
  let p = making.get(k);
  if (!p) {
    p = makeLayer(ctx, entry).finally(() => making.delete(k));
    making.set(k, p);
  }
  return p;
}

/** True when the stage's snapshots end up in the built image (the target stage and the stages it is FROM). */
export function feedsImage(ctx: BuildContext, stageIndex: number): boolean {
  for (let s = ctx.plan.stages[ctx.plan.target]; s; s = s.baseStage === undefined ? undefined : ctx.plan.stages[s.baseStage]) {
    if (s.index === stageIndex) return true;
  }
  return false;
}

/** Which layer of a snapshot: its compression, its timestamp clamp, and the layer writer's format. */
function memoKeyOf(ctx: BuildContext): string {
  return layerMemoKey(ctx.opts.compression ?? 'gzip', ctx.opts.sourceDateEpoch);
}

async function makeLayer(ctx: BuildContext, entry: ChainEntry): Promise<LayerInfo> {
  const compression = ctx.opts.compression ?? 'gzip';
  const memoKey = memoKeyOf(ctx);
  const snapshots = ctx.session.snapshots;
  const meta = await snapshots.meta(entry.snapshot);
  const known = meta?.layers[memoKey];
  if (known && (await ctx.session.content.has(known.digest))) return known;
  const meter = byteMeter(ctx.emit, 'compress', entry.createdBy.split('\n')[0]!.slice(0, 60) || entry.snapshot);
  const layer = await writeLayer(snapshots.fsPath(entry.snapshot), ctx.session.content, {
    compression,
    sourceDateEpoch: ctx.opts.sourceDateEpoch,
    onBytes: (n) => meter.add(n),
  });
  meter.end();
  const fresh = await snapshots.meta(entry.snapshot);
  if (fresh) {
    fresh.layers[memoKey] = layer;
    await snapshots.writeMeta(fresh);
  }
  return layer;
}

/** Writes the image of the final stage, tags it, and produces the requested outputs. */
export async function exportImage(ctx: BuildContext, state: StageState): Promise<Omit<BuildResult, 'stepsTotal' | 'stepsCached' | 'durationMs'>> {
  ctx.emit({ kind: 'export', what: 'layers', time: Date.now() });
  const layers = await mapLimit(state.chain, Math.max(1, os.availableParallelism()), (e) => layerFor(ctx, e));
  const epoch = ctx.opts.sourceDateEpoch;
  const created = createdTime(epoch);
  const config: ImageConfig = structuredClone(state.config);
  config.created = created;
  config.history = state.history.map((h) => ({ ...h, created: h.created ?? created }));
  if (ctx.opts.labels && Object.keys(ctx.opts.labels).length) {
    config.config ??= {};
    config.config.Labels = { ...(config.config.Labels ?? {}), ...ctx.opts.labels };
  }
  const { manifest, config: configDesc } = await reuseOrWriteImage(ctx, state, layers, config);
  const tags = (ctx.opts.tags ?? []).map((t) => {
    try {
      return normalizeRef(t).full;
    } catch (e) {
      throw new InputError(`invalid tag "${t}": ${(e as Error).message}`);
    }
  });
  for (const step of ctx.opts.afterExport ?? []) {
    ctx.emit({ kind: 'export', what: step.name, time: Date.now() });
    await step.run({ root: ctx.session.root, manifest, config: configDesc, tags }, ctx.emit);
  }
  // Tags last, and only for a build nobody interrupted: a tag never names a half-finished build.
  if (ctx.signal.aborted) throw new StratumError('build cancelled', 130);
  for (const t of tags) await ctx.session.images.tag(t, manifest);
  await writeOutputs(ctx, manifest, tags);
  const summaries: LayerSummary[] = layers.map((l, i) => ({
    digest: l.digest,
    diffID: l.diffID,
    size: l.size,
    mediaType: l.mediaType,
    createdBy: state.chain[i]?.createdBy ?? '',
  }));
  const size = manifest.size + configDesc.size + layers.reduce((a, l) => a + l.size, 0);
  return { manifestDigest: manifest.digest, manifest, configDigest: configDesc.digest, size, layers: summaries, tags };
}

/**
 * A rebuild whose every input is unchanged gives back the very image it gave before (same
 * `created`, same digest), so dependents keep their cache and a push sends nothing new.
 */
async function reuseOrWriteImage(ctx: BuildContext, state: StageState, layers: LayerInfo[], config: ImageConfig) {
  const { created: _created, history, ...stable } = config;
  const key = cacheKey(
    'image',
    state.key,
    JSON.stringify(stable),
    JSON.stringify(history?.map(({ created: _c, ...h }) => h)),
    JSON.stringify(layers.map((l) => l.digest)),
    JSON.stringify(ctx.opts.annotations ?? {}),
  );
  const file = path.join(ctx.session.layout.cacheImages, `${key.slice(7)}.json`);
  if (!ctx.opts.noCache && ctx.opts.sourceDateEpoch === undefined) {
    let known: { manifest: Descriptor; config: Descriptor } | undefined;
    try {
      known = JSON.parse(readFileSync(file, 'utf8')) as { manifest: Descriptor; config: Descriptor };
    } catch {
      known = undefined;
    }
    if (known && (await ctx.session.content.has(known.manifest.digest)) && (await ctx.session.content.has(known.config.digest))) return known;
  }
  const written = await writeImage(ctx.session.content, { layers, config, annotations: ctx.opts.annotations });
  await mkdir(path.dirname(file), { recursive: true });
  await atomicWrite(file, JSON.stringify(written));
  return written;
}

async function writeOutputs(ctx: BuildContext, manifest: Descriptor, tags: string[]): Promise<void> {
  for (const out of ctx.opts.outputs ?? []) {
    ctx.emit({ kind: 'export', what: out.type, time: Date.now() });
    await writeImageOutput({ store: ctx.session.content, manifest, tags }, out);
  }
}
