/** Stages of a Dockerfile, global ARGs, target selection and the order the target's stages build in. */
import { InputError, SourceError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { formatPlatform, hostPlatform, parsePlatform, type Platform } from '../util/platform.js';
import { toCommands, type Command, type FromCmd } from './commands.js';
import { mountFrom } from './mount.js';
import { argValue } from './args.js';
import { ShellExpansionError, ShellLex } from './shell.js';
import type { Dockerfile } from './types.js';

/** @see util/platform.ts */
export type PlatformSpec = Platform;

export interface Stage {
  index: number;
  /** Lower-cased stage name (`FROM x AS Name` -> 'name'). */
  name?: string;
  /** The FROM image after expanding global ARGs; may name another stage (see deps.stages). */
  baseImage: string;
  /** --platform after expanding global ARGs. */
  platform?: string;
  from: FromCmd;
  /** Commands after the FROM. */
  commands: Command[];
  /** `baseStage` is set when FROM names an earlier stage. */
  baseStage?: number;
  /** A named build context of the stage's name replaces the whole stage (buildx --build-context): its name. */
  replacedBy?: string;
  deps: { stages: number[]; contexts: string[] };
}

export interface Plan {
  /** ARGs before the first FROM, with build-arg overrides applied and defaults expanded. */
  globalArgs: { key: string; value?: string }[];
  /** Values usable in FROM: automatic platform args plus the global ARGs that have a value. */
  globalEnv: Record<string, string>;
  stages: Stage[];
  /** Stage index by lower-cased name. */
  byName: Map<string, number>;
  target: number;
  order: number[];
}

export interface PlanOptions {
  buildArgs: Record<string, string>;
  target?: string;
  platform?: PlatformSpec;
  buildPlatform?: PlatformSpec;
  /** Names of the named build contexts: one named as a stage replaces that stage. */
  namedContexts?: string[];
}

export { hostPlatform, formatPlatform, parsePlatform };

/** TARGETPLATFORM, TARGETOS, ... BUILDVARIANT as BuildKit defines them in the global scope. */
export function automaticPlatformArgs(target: PlatformSpec, build: PlatformSpec): Record<string, string> {
  return {
    TARGETPLATFORM: formatPlatform(target),
    TARGETOS: target.os,
    TARGETARCH: target.architecture,
    TARGETVARIANT: target.variant ?? '',
    BUILDPLATFORM: formatPlatform(build),
    BUILDOS: build.os,
    BUILDARCH: build.architecture,
    BUILDVARIANT: build.variant ?? '',
  };
}

export function planStages(df: Dockerfile, opts: PlanOptions): Plan {
  const commands = toCommands(df);
  const lex = new ShellLex(df.escape);
  const build = opts.buildPlatform ?? hostPlatform();
  const target = opts.platform ?? build;
  const autoArgs = automaticPlatformArgs(target, build);
  const globalEnv: Record<string, string> = { ...autoArgs };
  const globalArgs: { key: string; value?: string }[] = [];

  const expand = (word: string, env: Record<string, string>, c: Command): string => {
    try {
      return lex.expandWord(word, env);
    } catch (e) {
      if (e instanceof ShellExpansionError) throw new SourceError(df.file, c.ins.line, c.ins.column, `${e.message} in ${JSON.stringify(word)}`);
      throw e;
    }
  };

  // Quotes in ENV, ARG and LABEL values are only read when the step runs: find a broken one before anything does.
  for (const c of commands) {
    if (c.kind !== 'env' && c.kind !== 'label' && c.kind !== 'arg') continue;
    for (const p of c.pairs) {
      for (const w of [p.key, p.value ?? '']) {
        try {
          lex.checkSyntax(w);
        } catch (e) {
          if (e instanceof ShellExpansionError) throw new SourceError(df.file, c.ins.line, c.ins.column, `${c.ins.keyword}: ${e.message} in ${JSON.stringify(w.slice(0, 200))}`);
          throw e;
        }
      }
    }
  }

  let i = 0;
  for (; i < commands.length; i++) {
    const c = commands[i] as Command;
    if (c.kind === 'from') break;
    if (c.kind !== 'arg') {
      throw new SourceError(df.file, c.ins.line, c.ins.column, `${c.ins.keyword} must come after a FROM instruction: only ARG may precede the first FROM`);
    }
    for (const p of c.pairs) {
      const value = argValue(p, opts.buildArgs, (w) => expand(w, globalEnv, c));
      const entry: { key: string; value?: string } = { key: p.key };
      if (value !== undefined) {
        entry.value = value;
        globalEnv[p.key] = value;
      }
      globalArgs.push(entry);
    }
  }
  if (i >= commands.length) {
    const last = df.instructions[df.instructions.length - 1];
    throw new SourceError(df.file, last?.line ?? 1, last?.column ?? 1, 'no FROM instruction: expected FROM <image> to start a build stage');
  }

  const stages: Stage[] = [];
  const byName = new Map<string, number>();
  for (; i < commands.length; i++) {
    const c = commands[i] as Command;
    if (c.kind === 'from') {
      const baseImage = expand(c.image, globalEnv, c);
      if (baseImage === '') throw new SourceError(df.file, c.ins.line, c.ins.column, `base name (${c.image}) should not be blank`);
      const st: Stage = { index: stages.length, baseImage, from: c, commands: [], deps: { stages: [], contexts: [] } };
      if (c.name !== undefined) {
        const dup = byName.get(c.name);
        if (dup !== undefined) {
          throw new SourceError(df.file, c.ins.line, c.ins.column, `duplicate stage name ${JSON.stringify(c.name)} (first defined on line ${stages[dup]!.from.ins.line})`);
        }
        st.name = c.name;
        byName.set(c.name, st.index);
      }
      if (c.platform !== undefined) st.platform = expand(c.platform, globalEnv, c);
      if (st.name !== undefined && opts.namedContexts?.includes(st.name)) st.replacedBy = st.name;
      stages.push(st);
    } else {
      (stages[stages.length - 1] as Stage).commands.push(c);
    }
  }

  // A stage used before it is defined: BuildKit dispatches stages in file order and refuses such a source, but only
  // when a stage the target needs does it (and after cycles are reported), so the refusal waits for the order.
  const forward = new Map<number, SourceError>();

  for (const st of stages) {
    // A replaced stage runs nothing of its own, so it needs neither its base nor its sources.
    if (st.replacedBy !== undefined) continue;
    const base = byName.get(st.baseImage.toLowerCase());
    if (base !== undefined) {
      if (base >= st.index) {
        throw new SourceError(df.file, st.from.ins.line, st.from.ins.column, `FROM ${st.baseImage} refers to ${base === st.index ? 'its own stage' : 'a later stage'}: a stage can only build on an earlier one`);
      }
      st.baseStage = base;
      addDep(st, base);
    }
    // Track the stage's ARG/ENV values to resolve `--from=$X` the way dispatch will.
    const env: Record<string, string> = {};
    for (const c of st.commands) {
      if (c.kind === 'arg') {
        for (const p of c.pairs) {
          const v = argValue(p, opts.buildArgs, (w) => safeExpand(lex, w, env), (k) => (Object.prototype.hasOwnProperty.call(globalEnv, k) ? globalEnv[k] : undefined));
          if (v !== undefined) env[p.key] = v;
        }
      } else if (c.kind === 'env') {
        // Pairs see the values from before the instruction; copying only when there are several keeps it linear.
        const snapshot = c.pairs.length > 1 ? { ...env } : env;
        for (const p of c.pairs) env[safeExpand(lex, p.key, snapshot)] = safeExpand(lex, p.value, snapshot);
      } else if (c.kind === 'copy' && c.from !== undefined) {
        resolveRef(st, safeExpand(lex, c.from, env), c);
      } else if (c.kind === 'run') {
        for (const m of c.mounts) {
          const expanded = safeExpand(lex, m, env);
          const from = mountFrom(expanded);
          if (from !== undefined && from !== '') resolveRef(st, from, c, mountTarget(expanded));
        }
      }
    }
  }

  function addDep(st: Stage, idx: number): void {
    if (!st.deps.stages.includes(idx)) st.deps.stages.push(idx);
  }

  function resolveRef(st: Stage, ref: string, c: Command, mountTarget?: string): void {
    const named = byName.get(ref.toLowerCase());
    const idx = named ?? (/^\d+$/.test(ref) ? Number(ref) : undefined);
    if (idx === undefined) {
      if (!st.deps.contexts.includes(ref)) st.deps.contexts.push(ref);
      return;
    }
    if (named === st.index) throw new SourceError(df.file, c.ins.line, c.ins.column, `${ref} refers to the current build stage`);
    if (named === undefined && idx >= st.index) {
      const why = idx < stages.length ? 'a stage can only be referred to by index from a later stage' : `there are ${stages.length} stages`;
      throw new SourceError(df.file, c.ins.line, c.ins.column, `invalid stage index ${ref}: ${why}`);
    }
    if (idx > st.index && !forward.has(st.index)) {
      const msg =
        mountTarget === undefined
          ? `cannot copy from stage ${JSON.stringify(ref)}, it needs to be defined before current stage ${JSON.stringify(st.name ?? `stage-${st.index}`)}`
          : `cannot mount from stage ${JSON.stringify(ref)} to ${JSON.stringify(mountTarget)}, stage needs to be defined before current command`;
      forward.set(st.index, new SourceError(df.file, c.ins.line, c.ins.column, msg));
    }
    addDep(st, idx);
  }

  let targetIdx = stages.length - 1;
  if (opts.target !== undefined && opts.target !== '') {
    const t = byName.get(opts.target.toLowerCase());
    if (t === undefined) {
      const names = stages.filter((s) => s.name).map((s) => s.name as string);
      throw new InputError(`target stage ${JSON.stringify(opts.target)} could not be found in ${df.file}${didYouMean(opts.target, names)}; stages: ${names.length ? names.join(', ') : '(no named stages)'}`);
    }
    targetIdx = t;
  }

  const order = buildOrder(stages, targetIdx, df.file);
  for (const i of order) {
    const e = forward.get(i);
    if (e) throw e;
  }
  return { globalArgs, globalEnv, stages, byName, target: targetIdx, order };
}

/** The stage a `--from`, mount `from=` or base names: by name (case-insensitive), else by index. */
export function findStage(plan: Plan, ref: string): Stage | undefined {
  const named = plan.byName.get(ref.toLowerCase());
  if (named !== undefined) return plan.stages[named];
  if (/^\d+$/.test(ref)) return plan.stages[Number(ref)];
  return undefined;
}

/**
 * The stages the target needs, each after the stages it depends on. Iterative (a depth-first walk with an explicit
 * stack): a chain of tens of thousands of stages must not overflow the call stack.
 */
function buildOrder(stages: Stage[], target: number, file: string): number[] {
  const order: number[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const stack: { idx: number; deps: number[] }[] = [];
  const enter = (idx: number) => {
    state.set(idx, 'visiting');
    stack.push({ idx, deps: [...(stages[idx] as Stage).deps.stages].sort((a, b) => b - a) });
  };
  enter(target);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const d = top.deps.pop();
    if (d === undefined) {
      stack.pop();
      state.set(top.idx, 'done');
      order.push(top.idx);
      continue;
    }
    const s = state.get(d);
    if (s === 'done') continue;
    if (s === 'visiting') {
      const from = stack.findIndex((f) => f.idx === d);
      const cycle = [...stack.slice(from).map((f) => f.idx), d].map((n) => stages[n]?.name ?? String(n));
      const st = stages[d] as Stage;
      throw new SourceError(file, st.from.ins.line, st.from.ins.column, `circular dependency detected on stage ${st.name ?? d}: ${cycle.join(' -> ')}`);
    }
    enter(d);
  }
  return order;
}

/** `target=` of a raw mount value (for messages). */
function mountTarget(value: string): string {
  const m = /(?:^|,)\s*(?:target|dst|destination)=([^,]*)/i.exec(value);
  return m?.[1] ?? '';
}

function safeExpand(lex: ShellLex, word: string, env: Record<string, string>): string {
  try {
    return lex.expandWord(word, env);
  } catch {
    return word;
  }
}
