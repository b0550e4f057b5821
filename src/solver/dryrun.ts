import path from 'node:path';
import { Session } from './session.js';
import { HOST_PLATFORM, loadDockerfile } from './build.js';
import { argValue, planStages, parseTrigger, ShellExpansionError, ShellLex, automaticPlatformArgs, type Command, type Heredoc } from '../frontend/index.js';
import { SourceError } from '../util/errors.js';
import { envMap } from './state.js';
import type { BuildOptions } from './types.js';

export interface DryRunStep {
  /** The line in the Dockerfile; for an ONBUILD trigger, the line of the FROM that runs it. */
  line: number;
  instruction: string;
  /** The instruction with build args and known ENV expanded (RUN keeps its text: the shell expands it). */
  expanded: string;
  /** Heredoc bodies, as the step receives them (an unquoted delimiter marks a body the shell expands). */
  heredocs?: { name: string; quoted: boolean; body: string }[];
  /** A trigger registered by ONBUILD in the base (image or stage), run before the stage's own steps. */
  onbuild?: true;
}

export interface DryRunStage {
  index: number;
  name?: string;
  base: string;
  /** False when the base is an image the local store does not have: its ENV is then unknown. */
  baseResolved: boolean;
  dependsOn: (string | number)[];
  steps: DryRunStep[];
}

/** The plan a build would follow, without running anything (`--dry-run`). */
export async function dryRun(opts: BuildOptions): Promise<{ dockerfile: string; target: string; stages: DryRunStage[] }> {
  const df = await loadDockerfile(opts);
  const platform = opts.platform ?? HOST_PLATFORM;
  const plan = planStages(df, { buildArgs: opts.buildArgs ?? {}, target: opts.target, platform, buildPlatform: HOST_PLATFORM, namedContexts: Object.keys(opts.contexts ?? {}) });
  const lex = new ShellLex(df.escape);
  const session = await Session.get(opts.root).catch(() => undefined);
  const auto = automaticPlatformArgs(platform, HOST_PLATFORM);
  const stageEnv = new Map<number, Record<string, string>>();
  // Triggers each stage registers with ONBUILD: they run in a stage built FROM it.
  const stageTriggers = new Map<number, string[]>();
  const stages: DryRunStage[] = [];
  for (const i of plan.order) {
    const stage = plan.stages[i]!;
    let env: Record<string, string> = {};
    let baseResolved = true;
    let triggers: string[] = [];
    if (stage.baseStage !== undefined) {
      env = { ...(stageEnv.get(stage.baseStage) ?? {}) };
      triggers = stageTriggers.get(stage.baseStage) ?? [];
    } else if (stage.baseImage.toLowerCase() !== 'scratch') {
      const desc = await session?.images.resolve(stage.baseImage).catch(() => undefined);
      if (desc && session) {
        const manifest = await session.content.readJSON<{ config: { digest: string } }>(desc.digest);
        const cfg = await session.content.readJSON<{ config?: { Env?: string[]; OnBuild?: string[] } }>(manifest.config.digest);
        env = Object.fromEntries(envMap(cfg.config ?? {}));
        triggers = cfg.config?.OnBuild ?? [];
      } else baseResolved = false;
    }
    const fromLine = stage.from.ins.line;
    const onbuild: { cmd: Command; onbuild: boolean }[] = triggers.map((t) => ({ cmd: parseTrigger(t, `ONBUILD trigger of ${stage.baseImage}`, df.escape), onbuild: true }));
    const args: Record<string, string> = {};
    const steps: DryRunStep[] = [];
    const own: string[] = [];
    for (const { cmd, onbuild: isTrigger } of [...onbuild, ...stage.commands.map((cmd) => ({ cmd, onbuild: false }))]) {
      if (cmd.kind === 'onbuild') own.push(cmd.trigger);
      // An ENV line reads the values from before it (ENV PATH=/x:${PATH}).
      let scope: Record<string, string>;
      try {
        if (cmd.kind === 'arg') {
          for (const p of cmd.pairs) {
            const v = argValue(p, opts.buildArgs ?? {}, (w) => lex.expandWord(w, { ...args, ...env }), (k) => auto[k] ?? plan.globalEnv[k]);
            if (v !== undefined) args[p.key] = v;
          }
        }
        scope = { ...args, ...env };
        if (cmd.kind === 'env') for (const p of cmd.pairs) env[p.key] = lex.expandWord(p.value, scope);
      } catch (e) {
        // As in a build: a value that cannot be expanded (`${X:?msg}` unset) is the Dockerfile's mistake, at its line.
        if (e instanceof ShellExpansionError) throw new SourceError(df.file, isTrigger ? fromLine : cmd.ins.line, cmd.ins.column, `${cmd.ins.keyword}: ${e.message}`);
        throw e;
      }
      const text = cmd.ins.text;
      // RUN is expanded by its shell, an ONBUILD trigger when a later build runs it.
      const expanded = cmd.kind === 'run' || cmd.kind === 'onbuild' ? text : safeExpand(lex, text, scope);
      const step: DryRunStep = { line: isTrigger ? fromLine : cmd.ins.line, instruction: text, expanded };
      const docs: readonly Heredoc[] = cmd.ins.heredocs ?? [];
      if (docs.length) step.heredocs = docs.map((h) => ({ name: h.name, quoted: !h.expand, body: h.content }));
      if (isTrigger) step.onbuild = true;
      steps.push(step);
    }
    stageEnv.set(i, env);
    stageTriggers.set(i, own);
    stages.push({
      index: i,
      name: stage.name,
      base: stage.baseImage,
      baseResolved,
      dependsOn: [...stage.deps.stages.map((d) => plan.stages[d]?.name ?? d), ...stage.deps.contexts],
      steps,
    });
  }
  const target = plan.stages[plan.target]!;
  return { dockerfile: opts.dockerfileInline !== undefined ? '(inline)' : path.resolve(opts.dockerfile ?? path.join(opts.context, 'Dockerfile')), target: target.name ?? String(target.index), stages };
}

function safeExpand(lex: ShellLex, text: string, scope: Record<string, string>): string {
  // Expand word by word so one odd word does not hide the rest; keep quotes for readability.
  return text
    .split(/(\s+)/)
    .map((w) => {
      if (!w.includes('$')) return w;
      try {
        return lex.expandWord(w, scope);
      } catch {
        return w;
      }
    })
    .join('');
}
