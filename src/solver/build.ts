import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  parseDockerfile,
  planStages,
  argValue,
  rebuildTimeOf,
  findStage,
  toCommands,
  ShellExpansionError,
  ShellLex,
  automaticPlatformArgs,
  hostPlatform,
  formatPlatform,
  type Command,
  type Dockerfile,
  type Stage,
} from '../frontend/index.js';
import { InputError, SourceError, StratumError } from '../util/errors.js';
import { Session } from './session.js';
import { LOCAL_REGISTRY, normalizeRef, storeLock } from '../store/index.js';
import { recoverStore } from './maintenance.js';
import type { RegistryClient, RegistryEvent } from '../registry/index.js';
import { checkExecutor } from '../worker/executor.js';
import { contextSource } from '../worker/sources.js';
import { cacheKey } from './cache.js';
import { cloneState, emptyConfig, type StageState } from './state.js';
import { atLine, expansionEnv, setArg, stagePlatform, type BuildContext, type StageScope } from './context.js';
import { resolveImage, resolveOciLayout, stateFromManifest, type ImageResolver } from './images.js';
import { applyMetadata } from './metadata.js';
import { runStep } from './run.js';
import { copyStep, workdirStep } from './copy.js';
import { exportImage, feedsImage, layerFor } from './export.js';
import type { BuildOptions, BuildResult, Platform } from './types.js';
import { byteMeter, type ByteMeter } from './transfer.js';
import { fetchRemoteContext, isRemoteContext } from './remote-context.js';
import { exportCache, importCache } from './cache-transfer.js';

export const HOST_PLATFORM: Platform = hostPlatform();

/** Builds a Dockerfile into an image in the local store, then writes the requested outputs. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const started = Date.now();
  await checkExecutor();
  const session = await Session.get(opts.root);
  // What a killed build left behind is cleared when nobody else is using the store; then the
  // build holds the store shared, so a prune waits for it.
  await recoverStore(session.root);
  const release = await storeLock(session.root, 'shared', {
    onWait: (what) => opts.onProgress?.({ kind: 'export', what: `waiting for the store (${what})`, time: Date.now() }),
  });
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let remote: Awaited<ReturnType<typeof fetchRemoteContext>> | undefined;
  try {
    // A git or http(s) context is fetched into tmp/ under the lock, so a prune never sweeps it mid-build.
    if (isRemoteContext(opts.context)) ({ opts } = remote = await fetchRemoteContext(session, opts));
    const ctx = await prepare(session, opts, controller.signal);
    if (opts.cacheFrom?.length && !opts.noCache) await importCache(ctx, opts.cacheFrom);
    const target = ctx.plan.stages[ctx.plan.target]!;
    const finalState = await buildStages(ctx, target.index, controller);
    const result = await exportImage(ctx, finalState);
    if (opts.push) await pushTags(ctx, result.manifestDigest, result.tags);
    if (opts.cacheTo?.length) await exportCache(ctx, opts.cacheTo);
    return { ...result, stepsTotal: ctx.counters.total, stepsCached: ctx.counters.cached, durationMs: Date.now() - started };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await remote?.cleanup();
    await release();
  }
}

/** `--push`: every tag goes to its registry; the manifest goes last, so a tag never names missing blobs. */
async function pushTags(ctx: BuildContext, digest: string, tags: string[]): Promise<void> {
  const desc = await ctx.session.images.resolve(tags[0] ?? '');
  const remote = tags.filter((t) => {
    const r = normalizeRef(t).registry;
    return r !== undefined && r !== LOCAL_REGISTRY;
  });
  if (remote.length === 0) throw new InputError('--push needs a tag that names a registry, e.g. -t registry.example.com:5000/team/image:1');
  if (!desc || desc.digest !== digest) throw new StratumError(`cannot push: ${tags[0]} does not name the image just built`);
  const { createRegistryClient } = await import('../registry/index.js');
  const client = createRegistryClient(ctx.session.root, ctx.opts.registry ?? {});
  for (const t of remote) {
    const r = await client.push(ctx.session.content, desc, t);
    ctx.emit({ kind: 'push', ref: t, digest: r.digest, uploaded: r.uploaded, skipped: r.skipped, mounted: r.mounted, time: Date.now() });
  }
}

export async function loadDockerfile(opts: BuildOptions): Promise<Dockerfile> {
  if (opts.dockerfileInline !== undefined) return parseDockerfile(opts.dockerfileInline, 'Dockerfile (inline)');
  const file = opts.dockerfile ? path.resolve(opts.dockerfile) : path.join(path.resolve(opts.context), 'Dockerfile');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new InputError(`cannot read Dockerfile ${file}: no such file`);
  }
  // Errors name the file as the user gave it (-f, or the context); an absolute one under the working directory
  // (bake's) relative to it.
  const given = path.normalize(opts.dockerfile ?? path.join(opts.context, 'Dockerfile'));
  const under = path.relative(process.cwd(), given);
  return parseDockerfile(text, path.isAbsolute(given) && !under.startsWith('..') ? under || given : given);
}

export { rebuildTimeOf };

export async function prepare(session: Session, opts: BuildOptions, signal: AbortSignal): Promise<BuildContext> {
  const contextDir = path.resolve(opts.context);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(contextDir);
  } catch {
    st = undefined;
  }
  if (!st?.isDirectory()) throw new InputError(`build context ${opts.context} is not a directory`);
  const df = await loadDockerfile(opts);
  // Any target platform is accepted: only a RUN of a stage for another platform fails (run.ts), as a stage
  // `FROM --platform=$BUILDPLATFORM` runs here whatever the target.
  const platform = opts.platform ?? HOST_PLATFORM;
  const buildArgs = opts.buildArgs ?? {};
  const plan = planStages(df, { buildArgs, target: opts.target, platform, buildPlatform: HOST_PLATFORM, namedContexts: Object.keys(opts.contexts ?? {}) });
  const automaticArgs = automaticPlatformArgs(platform, HOST_PLATFORM);
  const lex = new ShellLex(df.escape);
  const globalArgs = new Map<string, string>();
  for (const a of plan.globalArgs) if (a.value !== undefined) globalArgs.set(a.key, a.value);
  const stages = new Map<number, Promise<StageState>>();
  const images = new Map<string, Promise<StageState>>();
  const ctx: BuildContext = {
    session,
    opts,
    df,
    plan,
    platform,
    globalArgs,
    automaticArgs,
    lex,
    rebuildTime: rebuildTimeOf(df),
    contextDir,
    contextSource: contextSource(contextDir, opts.dockerfile),
    stages,
    stageState: (ref) => {
      const stage = findStage(plan, ref);
      if (!stage) return undefined;
      let p = stages.get(stage.index);
      if (!p) {
        // Named only by an ONBUILD trigger of a base image (known once that image is read), so not in the plan's
        // order: start it now, as BuildKit adds a trigger's sources to the stage's dependencies.
        p = runStage(ctx, stage);
        p.catch(() => undefined);
        stages.set(stage.index, p);
      }
      return p;
    },
    imageState: (ref, forPlatform = platform) => {
      const key = `${ref}\0${formatPlatform(forPlatform)}`;
      let p = images.get(key);
      if (!p) {
        p = baseFromReference(ctx, ref, forPlatform);
        images.set(key, p);
      }
      return p;
    },
    emit: (e) => opts.onProgress?.(e),
    signal,
    pull: opts.pull === false ? undefined : registryPuller(session, opts),
    counters: { total: 0, cached: 0 },
  };
  return ctx;
}

/**
 * FROM images that name a registry (a host with a dot, a port, or `localhost:PORT`) and are not
 * in the local store are pulled; plain `localhost/...` names are the local store's own.
 */
function registryPuller(session: Session, opts: BuildOptions): ImageResolver {
  let client: RegistryClient | undefined;
  return async (ref) => {
    const parsed = normalizeRef(ref);
    if (!parsed.registry || parsed.registry === LOCAL_REGISTRY) return undefined;
    // Loaded on first use: most builds never talk to a registry.
    const { createRegistryClient, pullAndTag } = await import('../registry/index.js');
    client ??= createRegistryClient(session.root, opts.registry ?? {}, { onEvent: pullProgress(opts.onProgress) });
    opts.onProgress?.({ kind: 'pull', ref, time: Date.now() });
    return (await pullAndTag(client, ref, session.content, session.images, { platform: opts.platform })).manifest;
  };
}


/** Blob downloads as transfer events, so a person sees a big base arrive. */
function pullProgress(emit: BuildOptions['onProgress']): (e: RegistryEvent) => void {
  const meters = new Map<string, { meter: ByteMeter; seen: number }>();
  return (e) => {
    if (e.kind === 'blob-progress') {
      let m = meters.get(e.digest);
      if (!m) meters.set(e.digest, (m = { meter: byteMeter(emit, 'pull', e.digest, e.total), seen: 0 }));
      m.meter.add(e.done - m.seen);
      m.seen = e.done;
    } else if (e.kind === 'blob-downloaded') {
      meters.get(e.digest)?.meter.end();
      meters.delete(e.digest);
    }
  };
}

/** Starts every stage the target needs (independent ones run at once) and waits for the target. */
async function buildStages(ctx: BuildContext, target: number, controller: AbortController): Promise<StageState> {
  const stages = ctx.stages;
  let firstError: unknown;
  for (const i of ctx.plan.order) {
    const stage = ctx.plan.stages[i]!;
    const p = runStage(ctx, stage);
    p.catch((e: unknown) => {
      firstError ??= e;
      controller.abort();
    });
    stages.set(i, p);
  }
  try {
    return await stages.get(target)!;
  } catch (e) {
    // Let the other stages stop before reporting, so no runc container outlives the build.
    await Promise.allSettled(stages.values());
    throw firstError ?? e;
  } finally {
    await Promise.allSettled(stages.values());
  }
}

function stageLabel(stage: Stage): string {
  return stage.name ?? `stage-${stage.index}`;
}

async function runStage(ctx: BuildContext, stage: Stage): Promise<StageState> {
  const name = stageLabel(stage);
  await Promise.resolve(); // let every stage promise be registered before any awaits another
  ctx.emit({ kind: 'stage-start', stage: name, time: Date.now() });
  if (stage.replacedBy !== undefined) {
    // A directory only serves COPY --from and mount from= (fromState reads it as a context); baseState refuses it
    // as a base, so this empty state is never built on.
    if (ctx.opts.contexts?.[stage.replacedBy]?.kind === 'local') return scratchState(stagePlatform(ctx, stage));
    const replaced = await ctx.imageState(stage.replacedBy, stagePlatform(ctx, stage)).catch((e: unknown) => {
      throw atLine(ctx, e, `${ctx.df.file}:${stage.from.ins.line}: stage ${name} (replaced by build context ${JSON.stringify(stage.replacedBy)})`);
    });
    ctx.emit({ kind: 'stage-done', stage: name, time: Date.now() });
    return replaced;
  }
  let state = cloneState(await baseState(ctx, stage));
  const scope: StageScope = {
    name,
    stage,
    args: new Map(),
    noCache: !!ctx.opts.noCache || (ctx.opts.noCacheFilter ?? []).some((f) => f.toLowerCase() === name.toLowerCase()),
  };
  const triggers = state.config.config?.OnBuild ?? [];
  if (state.config.config) delete state.config.config.OnBuild;
  const commands: Command[] = [...onbuildCommands(ctx, triggers, stage), ...stage.commands];
  const total = commands.length;
  for (const [n, cmd] of commands.entries()) {
    if (ctx.signal.aborted) throw new StratumError('build cancelled', 130);
    state = await dispatch(ctx, scope, state, cmd, n + 1, total);
  }
  ctx.emit({ kind: 'stage-done', stage: name, time: Date.now() });
  return state;
}

/** ONBUILD triggers of the base image run first, with this build's args, as Docker does. */
function onbuildCommands(ctx: BuildContext, triggers: string[], stage: Stage): Command[] {
  if (triggers.length === 0) return [];
  const where = `${ctx.df.file}:${stage.commands[0]?.ins.line ?? 1} (ONBUILD of the base image)`;
  try {
    const parsed = parseDockerfile(triggers.join('\n') + '\n', where);
    return toCommands(parsed);
  } catch (e) {
    throw new InputError(`${where}: ${(e as Error).message}`);
  }
}

async function baseState(ctx: BuildContext, stage: Stage): Promise<StageState> {
  const base = stage.baseImage;
  if (base.toLowerCase() === 'scratch') return scratchState(stagePlatform(ctx, stage));
  if (stage.baseStage !== undefined) {
    const replacedBy = ctx.plan.stages[stage.baseStage]?.replacedBy;
    if (replacedBy !== undefined && ctx.opts.contexts?.[replacedBy]?.kind === 'local') {
      throw new InputError(`${ctx.df.file}:${stage.from.ins.line}: FROM ${base}: build context "${replacedBy}" is a local directory and cannot be used as a base image`);
    }
    const p = ctx.stageState(String(stage.baseStage));
    if (!p) throw new StratumError(`stage ${base} was not scheduled`);
    return p;
  }
  return ctx.imageState(base, stagePlatform(ctx, stage)).catch((e: unknown) => {
    throw atLine(ctx, e, `${ctx.df.file}:${stage.from.ins.line}: FROM ${base}`);
  });
}

function scratchState(platform: Platform): StageState {
  return { chain: [], config: emptyConfig(platform), history: [], key: cacheKey('scratch', platform.os, platform.architecture) };
}

/** A base or --from that is not a stage: a named context, or an image. */
async function baseFromReference(ctx: BuildContext, ref: string, platform: Platform): Promise<StageState> {
  const named = ctx.opts.contexts?.[ref];
  if (named) {
    // buildx: docker-image://scratch is the empty image, as FROM scratch.
    if (named.kind === 'docker-image' && named.ref === 'scratch') return scratchState(platform);
    if (named.kind === 'local') throw new InputError(`build context "${ref}" is a local directory and cannot be used as an image`);
    const desc =
      named.kind === 'oci-layout'
        ? await resolveOciLayout(ctx.session, named.path, named.ref)
        : await imageByRef(ctx, named.ref);
    return stateFromManifest(ctx.session, desc, platform, ctx.emit);
  }
  const desc = await imageByRef(ctx, ref);
  return stateFromManifest(ctx.session, desc, platform, ctx.emit);
}

/** --pull (always): a name with a registry is fetched again even when the store has it; the puller skips the rest. */
async function imageByRef(ctx: BuildContext, ref: string) {
  const fresh = ctx.opts.pull === 'always' ? await ctx.pull?.(ref) : undefined;
  return fresh ?? (await resolveImage(ctx.session, ref, ctx.pull));
}

async function dispatch(ctx: BuildContext, scope: StageScope, state: StageState, cmd: Command, n: number, total: number): Promise<StageState> {
  const text = cmd.ins.text ?? cmd.ins.original;
  const startedAt = Date.now();
  ctx.emit({ kind: 'step-start', stage: scope.name, step: n, total, text, time: startedAt });
  let cached: boolean;
  let next: StageState;
  try {
    ({ next, cached } = await dispatchStep(ctx, scope, state, cmd, n));
  } catch (e) {
    // A word that cannot be expanded is the Dockerfile's mistake: say where, as the frontend does.
    if (e instanceof ShellExpansionError) throw new SourceError(ctx.df.file, cmd.ins.line, cmd.ins.column, `${cmd.ins.keyword}: ${e.message}`);
    throw e;
  }
  // Compress a new layer of the image while later steps run, instead of all at export.
  if (!cached && next.chain.length > state.chain.length && feedsImage(ctx, scope.stage.index)) {
    layerFor(ctx, next.chain.at(-1)!).catch(() => undefined);
  }
  ctx.emit({ kind: 'step-done', stage: scope.name, step: n, cached, time: Date.now(), durationMs: Date.now() - startedAt });
  return next;
}

async function dispatchStep(ctx: BuildContext, scope: StageScope, state: StageState, cmd: Command, n: number): Promise<{ next: StageState; cached: boolean }> {
  switch (cmd.kind) {
    case 'arg':
      return { next: declareArgs(ctx, scope, state, cmd), cached: false };
    case 'run':
    case 'copy':
    case 'add': {
      const r = cmd.kind === 'run' ? await runStep(ctx, scope, state, cmd, n) : await copyStep(ctx, scope, state, cmd);
      ctx.counters.total++;
      if (r.cached) ctx.counters.cached++;
      return { next: r.state, cached: r.cached };
    }
    case 'workdir': {
      const r = await workdirStep(ctx, scope, state, cmd);
      return { next: r.state, cached: r.cached };
    }
    default:
      return { next: applyMetadata(ctx, scope, state, cmd), cached: false };
  }
}

/** ARG changes no snapshot: RUN keys include the declared args through their environment. */
function declareArgs(ctx: BuildContext, scope: StageScope, state: StageState, cmd: Extract<Command, { kind: 'arg' }>): StageState {
  for (const pair of cmd.pairs) {
    const value = argValue(pair, ctx.opts.buildArgs ?? {}, (w) => ctx.lex.expandWord(w, expansionEnv(scope, state)), (k) => ctx.automaticArgs[k] ?? ctx.globalArgs.get(k));
    setArg(scope, pair.key, value);
  }
  return state;
}
