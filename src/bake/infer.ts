/**
 * Order inferred from FROM (buildx does not do this; users ask for it in buildx#447): a target
 * whose Dockerfile builds FROM (or COPY --from / RUN --mount from=) an image that another target
 * of the same bake tags waits for that target and gets its freshly built image, as if it had
 * named it with `contexts = { "<ref>" = "target:<dep>" }`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDockerfile, parsePlatform, planStages, type Plan } from '../frontend/index.js';
import { normalizeRef } from '../store/reference.js';
import type { BakeDefinition, TargetDef } from './types.js';

export interface FromEdge {
  /** The target built first. */
  dep: string;
  /** The image reference as the Dockerfile writes it (after ARG expansion): the named context's key. */
  ref: string;
}

const normal = (ref: string): string | undefined => {
  try {
    return normalizeRef(ref).full;
  } catch {
    return undefined;
  }
};

/** The Dockerfile text of a target, or undefined when it cannot be read (the build reports that). */
function dockerfileOf(t: TargetDef, cwd: string): { text: string; file: string } | undefined {
  if (t['dockerfile-inline'] !== undefined) return { text: t['dockerfile-inline'], file: 'Dockerfile (inline)' };
  const local = (p: string) => path.resolve(cwd, p.startsWith('cwd://') ? p.slice('cwd://'.length) : p);
  const context = local(t.context ?? '.');
  const name = t.dockerfile ?? 'Dockerfile';
  const file = name.startsWith('cwd://') ? local(name) : path.resolve(context, name);
  try {
    return { text: fs.readFileSync(file, 'utf8'), file };
  } catch {
    return undefined;
  }
}

/** Images the target's stages use: FROM bases that are not stages, and --from / from= names that are not stages. */
function imageRefs(plan: Plan): string[] {
  const out = new Set<string>();
  for (const i of plan.order) {
    const st = plan.stages[i]!;
    if (st.baseStage === undefined && st.baseImage !== 'scratch') out.add(st.baseImage);
    for (const c of st.deps.contexts) out.add(c);
  }
  return [...out];
}

/**
 * For each of `targets`, the targets among them whose tags its Dockerfile uses as an image. A
 * Dockerfile that does not parse gives no edge: its build reports the error with its line.
 */
export function fromEdges(def: BakeDefinition, targets: string[], cwd: string): Record<string, FromEdge[]> {
  const byTag = new Map<string, string>();
  for (const name of targets) {
    for (const tag of def.targets[name]!.tags ?? []) {
      const n = normal(tag);
      if (n && !byTag.has(n)) byTag.set(n, name);
    }
  }
  const edges: Record<string, FromEdge[]> = {};
  if (!byTag.size) return edges;
  for (const name of targets) {
    const t = def.targets[name]!;
    const df = dockerfileOf(t, cwd);
    if (!df) continue;
    let plan: Plan;
    try {
      const platform = t.platforms?.length === 1 ? parsePlatform(t.platforms[0]!) : undefined;
      plan = planStages(parseDockerfile(df.text, df.file), { buildArgs: { ...(t.args ?? {}) }, ...(t.target ? { target: t.target } : {}), ...(platform ? { platform } : {}) });
    } catch {
      continue;
    }
    for (const ref of imageRefs(plan)) {
      // a named context the target sets itself wins, as it does in the build
      if (t.contexts && ref in t.contexts) continue;
      const n = normal(ref);
      const dep = n ? byTag.get(n) : undefined;
      // FROM its own tag builds on the image the store has now, as it would without bake
      if (dep !== undefined && dep !== name) (edges[name] ??= []).push({ dep, ref });
    }
  }
  return edges;
}
