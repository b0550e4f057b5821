/**
 * The target graph: `contexts = { x = "target:y" }` makes `y` a dependency of the target, and so
 * does a FROM of one of y's tags (infer.ts).
 */
import { SourceError } from '../util/errors.js';
import type { FromEdge } from './infer.js';
import { targetDeps } from './resolve.js';
import type { BakeDefinition } from './types.js';

export interface TargetGraph {
  /** Targets in a dependency-respecting order (dependencies first). */
  order: string[];
  deps: Record<string, string[]>;
  dependents: Record<string, string[]>;
  /** Longest chain of dependents below each target (for scheduling the critical path first). */
  height: Record<string, number>;
  /** Longest chain of dependencies above each target (layer in a left-to-right drawing). */
  depth: Record<string, number>;
}

/**
 * Builds the graph of the given targets; a cycle is a SourceError naming the first target's
 * file:line and the targets around it. `fromDeps` adds the edges inferred from FROM (infer.ts).
 */
export function buildGraph(def: BakeDefinition, targets: string[], fromDeps: Record<string, FromEdge[]> = {}): TargetGraph {
  const deps: Record<string, string[]> = {};
  const dependents: Record<string, string[]> = {};
  for (const t of targets) {
    dependents[t] ??= [];
  }
  for (const t of targets) {
    const td = def.targets[t];
    if (!td) throw new SourceError('?', 1, 1, `unknown target "${t}"`);
    deps[t] = [...new Set([...targetDeps(td), ...(fromDeps[t] ?? []).map((e) => e.dep)])];
    for (const d of deps[t]!) {
      if (!(d in dependents)) {
        const src = def.sources[t];
        throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `target "${t}": context refers to unknown target "${d}"`);
      }
      dependents[d]!.push(t);
    }
  }
  // depth-first topological sort that reports the cycle it finds
  const order: string[] = [];
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (t: string) => {
    const s = state.get(t);
    if (s === 2) return;
    if (s === 1) {
      const cycle = [...path.slice(path.indexOf(t)), t];
      const src = def.sources[t];
      // name how each target needs the next: a target: context, or FROM one of its tags
      const how = (a: string, b: string) => {
        const e = (fromDeps[a] ?? []).find((x) => x.dep === b);
        return e && !targetDeps(def.targets[a]!).includes(b) ? ` (FROM ${e.ref})` : '';
      };
      const text = cycle.map((x, i) => (i ? ` -> ${x}` : x) + (i < cycle.length - 1 ? how(x, cycle[i + 1]!) : '')).join('');
      const inferred = cycle.some((x, i) => i < cycle.length - 1 && how(x, cycle[i + 1]!));
      throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `dependency cycle through ${inferred ? 'contexts and FROM images' : 'contexts'}: ${text}`);
    }
    state.set(t, 1);
    path.push(t);
    for (const d of deps[t]!) visit(d);
    path.pop();
    state.set(t, 2);
    order.push(t);
  };
  for (const t of targets) visit(t);
  const depth: Record<string, number> = {};
  for (const t of order) depth[t] = Math.max(-1, ...deps[t]!.map((d) => depth[d]!)) + 1;
  const height: Record<string, number> = {};
  for (const t of [...order].reverse()) height[t] = Math.max(-1, ...dependents[t]!.map((d) => height[d]!)) + 1;
  return { order, deps, dependents, height, depth };
}

/** Every target that depends on `t`, directly or not. */
export function transitiveDependents(g: TargetGraph, t: string): string[] {
  const out = new Set<string>();
  const stack = [...g.dependents[t]!];
  while (stack.length) {
    const x = stack.pop()!;
    if (out.has(x)) continue;
    out.add(x);
    stack.push(...g.dependents[x]!);
  }
  return [...out];
}
