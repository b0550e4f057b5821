import path from 'node:path';
import { Session } from './session.js';
import { HOST_PLATFORM, loadDockerfile } from './build.js';
import { argValue, planStages, ShellExpansionError, ShellLex, automaticPlatformArgs } from '../frontend/index.js';
import { SourceError } from '../util/errors.js';
import { envMap } from './state.js';
import type { BuildOptions } from './types.js';

export interface DryRunStep {
  line: number;
  instruction: string;
  /** The instruction with build args and known ENV expanded (RUN keeps its text: the shell expands it). */
  expanded: string;
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
  const plan = planStages(df, { buildArgs: opts.buildArgs ?? {}, target: opts.target, platform, buildPlatform: HOST_PLATFORM });
  const lex = new ShellLex(df.escape);
  const session = await Session.get(opts.root).catch(() => undefined);
  const auto = automaticPlatformArgs(platform, HOST_PLATFORM);
  const stageEnv = new Map<number, Record<string, string>>();
  const stages: DryRunStage[] = [];
  for (const i of plan.order) {
    const stage = plan.stages[i]!;
    let env: Record<string, string> = {};
    let baseResolved = true;
    if (stage.baseStage !== undefined) env = { ...(stageEnv.get(stage.baseStage) ?? {}) };
    else if (stage.baseImage.toLowerCase() !== 'scratch') {
      const desc = await session?.images.resolve(stage.baseImage).catch(() => undefined);
      if (desc && session) {
        const manifest = await session.content.readJSON<{ config: { digest: string } }>(desc.digest);
        const cfg = await session.content.readJSON<{ config?: { Env?: string[] } }>(manifest.config.digest);
        env = Object.fromEntries(envMap(cfg.config ?? {}));
      } else baseResolved = false;
    }
    const args: Record<string, string> = {};
    const steps: DryRunStep[] = [];
    for (const cmd of stage.commands) {
      try {
        if (cmd.kind === 'arg') {
          for (const p of cmd.pairs) {
            const v = argValue(p, opts.buildArgs ?? {}, (w) => lex.expandWord(w, { ...args, ...env }), (k) => auto[k] ?? plan.globalEnv[k]);
            if (v !== undefined) args[p.key] = v;
          }
        }
        if (cmd.kind === 'env') for (const p of cmd.pairs) env[p.key] = lex.expandWord(p.value, { ...args, ...env });
      } catch (e) {
        // As in a build: a value that cannot be expanded (`${X:?msg}` unset) is the Dockerfile's mistake, at its line.
        if (e instanceof ShellExpansionError) throw new SourceError(df.file, cmd.ins.line, cmd.ins.column, `${cmd.ins.keyword}: ${e.message}`);
        throw e;
      }
      const scope = { ...args, ...env };
      const text = cmd.ins.text;
      const expanded = cmd.kind === 'run' ? text : safeExpand(lex, text, scope);
      steps.push({ line: cmd.ins.line, instruction: text, expanded });
    }
    stageEnv.set(i, env);
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
