/**
 * The scope every step of a build works in: the build's context (what it was asked, its plan, its store) and a
 * stage's scope (the ARGs it declared), with the rules that read them. Steps (run.ts, copy.ts, metadata.ts)
 * import this module and build.ts calls the steps, so no step imports build.ts.
 */
import type { Dockerfile, Plan, ShellLex, Stage } from '../frontend/index.js';
import { findStage, parsePlatform } from '../frontend/index.js';
import { contextSource, type SourceRoot } from '../worker/sources.js';
import type { ImageResolver } from './images.js';
import type { Session } from './session.js';
import type { StageState } from './state.js';
import type { BuildOptions, Platform, ProgressEvent } from './types.js';
import { InputError, SourceError, StratumError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { LOCAL_REGISTRY, normalizeRef } from '../store/index.js';

/** What one build needs while it runs; shared by the steps of every stage. */
export interface BuildContext {
  session: Session;
  opts: BuildOptions;
  df: Dockerfile;
  plan: Plan;
  platform: Platform;
  /** Global ARG values (after --build-arg), for FROM and stage ARGs without default. */
  globalArgs: Map<string, string>;
  automaticArgs: Record<string, string>;
  lex: ShellLex;
  /** Entries older than this are stale (the Dockerfile's *-Rebuild-Time header). */
  rebuildTime?: Date;
  contextDir: string;
  /** The main build context as a source of COPY/ADD and bind mounts, .dockerignore applied. */
  contextSource: SourceRoot;
  /** Every scheduled stage of this build, by index. */
  stages: Map<number, Promise<StageState>>;
  stageState: (ref: string) => Promise<StageState> | undefined;
  /** An image (or named context) as a stage's state, for `platform` (default: the build's target). */
  imageState: (ref: string, platform?: Platform) => Promise<StageState>;
  emit: (e: ProgressEvent) => void;
  signal: AbortSignal;
  pull?: ImageResolver;
  counters: { total: number; cached: number };
  /** The key of every cached step the build looked up, with its stage: what --cache-to exports. */
  stepKeys?: { key: string; stage: number }[];
}

/** The platform a stage is for: its FROM --platform, else the build's target. */
export function stagePlatform(ctx: BuildContext, stage: Stage): Platform {
  return stage.platform ? parsePlatform(stage.platform, `FROM --platform at ${ctx.df.file}:${stage.from.ins.line}`) : ctx.platform;
}

/** Per-stage dispatch state: ARG values in scope, which build args the stage used. */
export interface StageScope {
  name: string;
  stage: Stage;
  args: Map<string, string | undefined>;
  noCache: boolean;
  /** Set once the stage has its own CMD, so a later ENTRYPOINT keeps it. */
  cmdSet?: boolean;
  /** expansionEnv's last answer, kept while the image ENV is the same list, and updated in place by setArg. */
  envCache?: { envList: string[] | undefined; env: Record<string, string>; fromEnv: Set<string> };
}

/**
 * Values visible to word expansion: stage ARGs, then ENV (ENV wins, as in Docker). Read-only for callers: it is
 * kept and reused until the ENV list changes, so a stage with thousands of ARGs takes linear time, not quadratic.
 */
export function expansionEnv(scope: StageScope, state: StageState): Record<string, string> {
  const envList = state.config.config?.Env ?? undefined;
  if (scope.envCache && scope.envCache.envList === envList) return scope.envCache.env;
  const env: Record<string, string> = {};
  for (const [k, v] of scope.args) if (v !== undefined) env[k] = v;
  const fromEnv = new Set<string>();
  for (const kv of envList ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) {
      env[kv.slice(0, i)] = kv.slice(i + 1);
      fromEnv.add(kv.slice(0, i));
    }
  }
  scope.envCache = { envList, env, fromEnv };
  return env;
}

export function setArg(scope: StageScope, key: string, value: string | undefined): void {
  scope.args.set(key, value);
  const c = scope.envCache;
  if (!c || c.fromEnv.has(key)) return;
  if (value === undefined) delete c.env[key];
  else c.env[key] = value;
}

export type FromSource = { kind: 'state'; state: StageState; label: string } | { kind: 'dir'; source: SourceRoot };

/**
 * Resolves a `from=` / `--from=` value: a stage, a named context, or an image. `where` (`Dockerfile:7: COPY
 * --from=x`) starts its errors, so a typo points at its line and says which names it could have meant.
 */
export async function fromState(ctx: BuildContext, ref: string, where: string): Promise<FromSource> {
  const stage = findStage(ctx.plan, ref);
  // A stage a named context replaces is that context: a directory is read as one, not as a stage's filesystem.
  if (stage && stage.replacedBy === undefined) {
    const p = ctx.stageState(String(stage.index));
    if (!p) throw new StratumError(`stage ${ref} was not scheduled`);
    return { kind: 'state', state: await p, label: `stage ${stage.name ?? stage.index}` };
  }
  const named = ctx.opts.contexts?.[ref];
  // A named directory is a build context too, with its own .dockerignore.
  if (named?.kind === 'local') return { kind: 'dir', source: { ...contextSource(named.path), label: `build context ${JSON.stringify(ref)}` } };
  if (!named && !(await mayBeImage(ctx, ref))) throw unknownSource(ctx, ref, where);
  try {
    return { kind: 'state', state: await ctx.imageState(ref), label: `image ${ref}` };
  } catch (e) {
    throw atLine(ctx, e, where);
  }
}

/** In the local store, or a name with a registry that the build may pull from. */
async function mayBeImage(ctx: BuildContext, ref: string): Promise<boolean> {
  if (await ctx.session.images.resolve(ref).catch(() => undefined)) return true;
  try {
    const registry = normalizeRef(ref).registry;
    return ctx.pull !== undefined && registry !== undefined && registry !== LOCAL_REGISTRY;
  } catch {
    return false;
  }
}

function unknownSource(ctx: BuildContext, ref: string, where: string): InputError {
  const stages = ctx.plan.stages.flatMap((s) => (s.name ? [s.name] : []));
  const contexts = Object.keys(ctx.opts.contexts ?? {});
  const known = [`stages: ${stages.length ? stages.join(', ') : '(no named stages)'}`, ...(contexts.length ? [`build contexts: ${contexts.join(', ')}`] : [])];
  return new InputError(`${where}: ${JSON.stringify(ref)} names no stage, build context or image in the local store${didYouMean(ref, [...stages, ...contexts])}; ${known.join('; ')}`);
}

/** An input error met while resolving a step's source, prefixed with the step's file:line unless it has one. */
export function atLine(ctx: BuildContext, e: unknown, where: string): unknown {
  if (!(e instanceof InputError) || e instanceof SourceError || e.message.startsWith(`${ctx.df.file}:`)) return e;
  return new InputError(`${where}: ${e.message}`, { cause: e });
}
