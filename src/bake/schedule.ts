/** Builds the selected targets in dependency order, independent ones in parallel (bounded by -j). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BuildFn } from '../solver/engine.js';
import type { BuildOptions, BuildResult, PostExportStep, ProgressEvent } from '../solver/types.js';
import { buildGraph, transitiveDependents, type TargetGraph } from './graph.js';
import { fromEdges } from './infer.js';
import { planTarget, type PlanContext } from './plan.js';
import { select } from './definition.js';
import type { BakeDefinition, SourcePos } from './types.js';
import type { SkipCheck, UpToDate } from './skip.js';
import { InputError, StratumError } from '../util/errors.js';

export type { BuildFn };

/** `up-to-date`: not built, as a registry already serves an image of the same inputs (bake --push, skip.ts). */
export type TargetStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped' | 'up-to-date';

/** A target counts as built when it is done or already in the registry. */
export const isBuilt = (s: TargetStatus): boolean => s === 'done' || s === 'up-to-date';

export interface StepRecord {
  stage: string;
  step: number;
  total: number;
  text: string;
  /** ms since the run started */
  start: number;
  end?: number;
  cached?: boolean;
}

export interface TargetRecord {
  name: string;
  status: TargetStatus;
  deps: string[];
  /** ms since the run started */
  start?: number;
  end?: number;
  durationMs?: number;
  result?: BuildResult;
  error?: string;
  /** Why a target was skipped. */
  reason?: string;
  steps: StepRecord[];
  tags: string[];
  /** What was pushed, as `ref@digest`. */
  pushed?: string[];
  /** The input digest (bake --push): what its image's INPUTS_ANNOTATION says. */
  inputs?: string;
  /** Where the image of an `up-to-date` target is, and the tags pointed at it. */
  upToDate?: Omit<UpToDate, 'upToDate'>;
  logFile: string;
  source?: SourcePos;
}

/** What `stratum report` renders: everything about one bake run. */
export interface BakeRun {
  version: 1;
  runId: string;
  /** epoch ms */
  startedAt: number;
  durationMs: number;
  jobs: number;
  keepGoing: boolean;
  requested: string[];
  ok: boolean;
  targets: TargetRecord[];
  runDir: string;
}

export type BakeEvent =
  | { kind: 'run-start'; time: number; runId: string; targets: string[]; jobs: number }
  | { kind: 'target-start'; time: number; target: string }
  | { kind: 'progress'; time: number; target: string; event: ProgressEvent }
  | { kind: 'target-done'; time: number; target: string; status: 'done' | 'failed' | 'skipped' | 'up-to-date'; error?: string; reason?: string; result?: BuildResult }
  | { kind: 'run-done'; time: number; ok: boolean };

export interface RunBakeOptions {
  /** Names asked for (targets or groups); default: the "default" group or target. */
  targets?: string[];
  /** The engine that builds each target (solver/engine.ts: the local engine, or another). */
  build: BuildFn;
  /** Steps each target's image goes through once stored, before its tags, outputs and push (bake --verify). */
  afterExport?: PostExportStep[];
  /** Parallel builds (default: number of cores). */
  jobs?: number;
  keepGoing?: boolean;
  push?: boolean;
  /** With push: build every target even where the registry has an image of the same inputs. */
  rebuild?: boolean;
  /** The engine finds FROM images in their registries, never in the local store (BuildKit): so must the input digest. */
  imagesFromRegistry?: boolean;
  /** Registries reached over plain HTTP or unverified TLS, and extra CAs, for every target's pulls and pushes. */
  registry?: BuildOptions['registry'];
  noCache?: boolean;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Store root handed to the engine (BuildOptions.root); runs are kept under ROOT/bake. */
  root?: string;
  /** Where runs are kept (default: ROOT/bake, else bakeStateDir()). */
  stateDir?: string;
  runId?: string;
  onEvent?: (e: BakeEvent) => void;
  signal?: AbortSignal;
}

/** `$STRATUM_ROOT/bake`, else /var/lib/stratum/bake for root, else ~/.local/share/stratum/bake. */
export function bakeStateDir(env: Record<string, string | undefined> = process.env): string {
  if (env.STRATUM_ROOT) return path.join(env.STRATUM_ROOT, 'bake');
  if (process.getuid?.() === 0) return '/var/lib/stratum/bake';
  return path.join(env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'stratum', 'bake');
}

export function newRunId(now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${ts}-${Math.random().toString(36).slice(2, 6)}`;
}

const KEEP_RUNS = 20;

function pruneRuns(stateDir: string, keep: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(stateDir).filter((e) => e !== 'last' && fs.statSync(path.join(stateDir, e)).isDirectory());
  } catch {
    return;
  }
  entries.sort();
  for (const e of entries.slice(0, Math.max(0, entries.length - KEEP_RUNS))) if (e !== keep) fs.rmSync(path.join(stateDir, e), { recursive: true, force: true });
}

/** Saves the run record atomically and points `last` at it. */
export function saveRun(run: BakeRun, stateDir: string): string {
  const file = path.join(run.runDir, 'run.json');
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, JSON.stringify(run, null, 1));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  const lastTmp = path.join(stateDir, `last.tmp-${process.pid}`);
  fs.writeFileSync(lastTmp, run.runId + '\n');
  fs.renameSync(lastTmp, path.join(stateDir, 'last'));
  return file;
}

/** Run ids under `stateDir`, newest first. */
function recordedRuns(stateDir: string): string[] {
  try {
    return fs
      .readdirSync(stateDir)
      .filter((e) => fs.existsSync(path.join(stateDir, e, 'run.json')))
      .sort()
      .reverse();
  } catch {
    return [];
  }
}

/** Loads a saved run (default: the last one). A run that is not there is the user's input (InputError, exit 2). */
export function loadRun(stateDir = bakeStateDir(), runId?: string): BakeRun {
  let id = runId;
  if (!id) {
    try {
      id = fs.readFileSync(path.join(stateDir, 'last'), 'utf8').trim();
    } catch {
      throw new InputError(`no bake run recorded yet under ${stateDir} (stratum bake records its runs there)`);
    }
  }
  const file = path.join(stateDir, id, 'run.json');
  // an id is one directory name: `--run ../x` must not read outside the runs
  if (id !== path.basename(id) || id === '.' || id === '..' || !fs.existsSync(file)) {
    const known = recordedRuns(stateDir);
    const listed = known.length ? `recorded: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ` and ${known.length - 5} more` : ''}` : 'none is recorded there: --root or $STRATUM_ROOT picks where runs are kept';
    throw new InputError(`no bake run ${JSON.stringify(id)} under ${stateDir} (${listed})`);
  }
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as BakeRun;
  } catch (e) {
    throw new StratumError(`the record of bake run ${id} is damaged (${file}): ${(e as Error).message}`);
  }
}

/**
 * Builds a bake definition: each target once, after the targets its contexts name; up to `jobs`
 * at a time, the longest remaining chain first. A failure skips its dependents; without
 * `keepGoing` nothing new starts after a failure (running builds finish).
 */
export async function runBake(def: BakeDefinition, opts: RunBakeOptions): Promise<BakeRun> {
  const sel = select(def, opts.targets ?? []);
  const jobs = Math.max(1, opts.jobs ?? os.availableParallelism());
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const fromDeps = fromEdges(def, sel.targets, cwd);
  const graph: TargetGraph = buildGraph(def, sel.targets, fromDeps);
  const runId = opts.runId ?? newRunId();
  const stateDir = opts.stateDir ?? (opts.root ? path.join(opts.root, 'bake') : bakeStateDir(env));
  const runDir = path.join(stateDir, runId);
  const logDir = path.join(runDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });

  const needed = new Set(sel.targets.flatMap((t) => graph.deps[t]!));
  const planCtx: PlanContext = { cwd, runId, runDir, env, push: opts.push, noCache: opts.noCache, needed, fromDeps };
  // plan everything first: a missing context is reported before any build starts
  const plans = new Map(graph.order.map((t) => [t, planTarget(def, t, planCtx)] as const));
  const build = opts.build;
  // Loaded only for --push: the check asks registries.
  const skipper: SkipCheck | undefined = opts.push
    ? (await import('./skip.js')).skipCheck(def, fromDeps, { root: opts.root, registry: opts.registry, rebuild: opts.rebuild, afterExport: opts.afterExport, imagesFromRegistry: opts.imagesFromRegistry })
    : undefined;

  const t0 = Date.now();
  const rel = () => Date.now() - t0;
  const emit = (e: BakeEvent) => opts.onEvent?.(e);
  const records = new Map<string, TargetRecord>();
  for (const t of graph.order) {
    records.set(t, {
      name: t,
      status: 'pending',
      deps: graph.deps[t]!,
      steps: [],
      tags: plans.get(t)!.tags ?? [],
      logFile: path.join(logDir, `${t}.log`),
      source: def.sources[t],
    });
  }
  emit({ kind: 'run-start', time: t0, runId, targets: graph.order, jobs });

  let stopped = false;
  const running = new Set<Promise<void>>();
  const skip = (t: string, reason: string) => {
    const r = records.get(t)!;
    if (r.status !== 'pending') return;
    r.status = 'skipped';
    r.reason = reason;
    fs.writeFileSync(r.logFile, `skipped: ${reason}\n`);
    emit({ kind: 'target-done', time: Date.now(), target: t, status: 'skipped', reason });
  };

  const runOne = async (t: string) => {
    const r = records.get(t)!;
    r.status = 'running';
    r.start = rel();
    emit({ kind: 'target-start', time: Date.now(), target: t });
    const log = fs.createWriteStream(r.logFile);
    const stamp = () => `${(rel() / 1000).toFixed(3).padStart(8)}s`;
    log.write(`${stamp()} build ${t}\n`);
    const open = new Map<string, StepRecord>();
    const onProgress = (e: ProgressEvent) => {
      const key = `${'stage' in e ? e.stage : ''}#${'step' in e ? e.step : ''}`;
      if (e.kind === 'step-start') {
        const s: StepRecord = { stage: e.stage, step: e.step, total: e.total, text: e.text, start: e.time - t0 };
        r.steps.push(s);
        open.set(key, s);
        log.write(`${stamp()} [${e.stage} ${e.step}/${e.total}] ${e.text}\n`);
      } else if (e.kind === 'step-log') {
        log.write(e.data.endsWith('\n') ? e.data : e.data + '\n');
      } else if (e.kind === 'step-done') {
        const s = open.get(key);
        if (s) {
          s.end = e.time - t0;
          s.cached = e.cached;
          open.delete(key);
        }
        log.write(`${stamp()} [${e.stage} ${e.step}] ${e.cached ? 'CACHED' : `done in ${(e.durationMs / 1000).toFixed(2)}s`}\n`);
      } else if (e.kind === 'export') log.write(`${stamp()} export ${e.what}\n`);
      else if (e.kind === 'push') {
        (r.pushed ??= []).push(`${e.ref}@${e.digest}`);
        log.write(`${stamp()} pushed ${e.ref}@${e.digest}\n`);
      }
      emit({ kind: 'progress', time: Date.now(), target: t, event: e });
    };
    try {
      if (skipper) {
        const s = await skipper.before(t, plans.get(t)!, (d) => records.get(d));
        r.inputs = s.inputs;
        if (s.note) log.write(`${stamp()} ${s.note}\n`);
        if (s.upToDate) {
          const { upToDate: _, ...found } = s.upToDate;
          const { ref, digest, retagged } = found;
          r.status = 'up-to-date';
          r.upToDate = found;
          r.reason = `up to date in ${ref}`;
          for (const tag of retagged) log.write(`${stamp()} tagged ${tag}@${digest}\n`);
          log.write(`${stamp()} skipped: ${r.reason} (inputs ${s.inputs})\n`);
          emit({ kind: 'target-done', time: Date.now(), target: t, status: 'up-to-date', reason: r.reason });
          return;
        }
      }
      const result = await build({
        ...plans.get(t)!,
        ...(opts.root ? { root: opts.root } : {}),
        ...(opts.afterExport ? { afterExport: opts.afterExport } : {}),
        ...(opts.registry ? { registry: opts.registry } : {}),
        onProgress,
        signal: opts.signal,
      });
      r.status = 'done';
      r.result = result;
      r.tags = result.tags?.length ? result.tags : r.tags;
      log.write(`${stamp()} done ${result.manifestDigest}\n`);
      emit({ kind: 'target-done', time: Date.now(), target: t, status: 'done', result });
    } catch (e) {
      r.status = 'failed';
      r.error = e instanceof Error ? e.message : String(e);
      log.write(`${stamp()} FAILED: ${r.error}\n`);
      emit({ kind: 'target-done', time: Date.now(), target: t, status: 'failed', error: r.error });
      for (const d of transitiveDependents(graph, t)) skip(d, `dependency ${t} failed`);
      if (!opts.keepGoing) stopped = true;
    } finally {
      r.end = rel();
      r.durationMs = r.end - r.start!;
      await new Promise<void>((res) => log.end(res));
    }
  };

  const order = new Map(graph.order.map((t, i) => [t, i]));
  const ready = () =>
    graph.order
      .filter((t) => records.get(t)!.status === 'pending' && graph.deps[t]!.every((d) => isBuilt(records.get(d)!.status)))
      .sort((a, b) => graph.height[b]! - graph.height[a]! || order.get(a)! - order.get(b)!);

  try {
    while (true) {
      if (opts.signal?.aborted) stopped = true;
      if (!stopped) {
        for (const t of ready()) {
          if (running.size >= jobs) break;
          const p: Promise<void> = runOne(t).finally(() => running.delete(p));
          running.add(p);
        }
      }
      if (!running.size) break;
      await Promise.race(running);
    }
  } finally {
    await Promise.allSettled(running);
    skipper?.close();
    fs.rmSync(path.join(runDir, 'secrets'), { recursive: true, force: true });
  }
  const failed = [...records.values()].filter((r) => r.status === 'failed').map((r) => r.name);
  for (const t of graph.order) skip(t, opts.signal?.aborted ? 'cancelled' : `not started: the bake stopped after ${failed.join(', ')} failed`);

  const run: BakeRun = {
    version: 1,
    runId,
    startedAt: t0,
    durationMs: rel(),
    jobs,
    keepGoing: !!opts.keepGoing,
    requested: sel.requested,
    ok: [...records.values()].every((r) => isBuilt(r.status)),
    targets: graph.order.map((t) => records.get(t)!),
    runDir,
  };
  saveRun(run, stateDir);
  pruneRuns(stateDir, runId);
  emit({ kind: 'run-done', time: Date.now(), ok: run.ok });
  return run;
}
