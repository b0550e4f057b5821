/**
 * `bake --push` skips what is already built: before a target builds, its input digest (solver/inputs.ts) is
 * computed and, when a registry already serves an image carrying that digest under one of the target's tags, the
 * target is not built; its other tags are pointed at that image. Every pushed image records its digest as the
 * annotation INPUTS_ANNOTATION, so the next bake can find it.
 */
import type { BuildOptions, PostExportStep } from '../solver/types.js';
import { inputDigest, INPUTS_ANNOTATION } from '../solver/inputs.js';
import { remoteImages, type RemoteCheck } from '../solver/uptodate.js';
import type { FromEdge } from './infer.js';
import type { BakeDefinition } from './types.js';

export type UpToDate = Extract<RemoteCheck, { upToDate: true }>;

/** What a dependency left for its dependents: its input digest, and where its image is when it was not built. */
export interface DepState {
  inputs?: string;
  upToDate?: { pinned: string };
}

export interface SkipDecision {
  /** Set when the target is already built. */
  upToDate?: UpToDate;
  inputs?: string;
  /** Why it builds, for the log. */
  note?: string;
}

export interface SkipCheck {
  /** Runs before target `t` builds; annotates and re-points `plan` in place. */
  before(t: string, plan: BuildOptions, dep: (name: string) => DepState | undefined): Promise<SkipDecision>;
  close(): void;
}

/** Named contexts of `name` that are other targets' images: `target:` contexts and images inferred from FROM. */
export function dependencyContexts(def: BakeDefinition, name: string, fromDeps: Record<string, FromEdge[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(def.targets[name]?.contexts ?? {})) if (v.startsWith('target:')) out[k] = v.slice('target:'.length);
  for (const e of fromDeps[name] ?? []) out[e.ref] ??= e.dep;
  return out;
}

export function skipCheck(
  def: BakeDefinition,
  fromDeps: Record<string, FromEdge[]>,
  opts: { root?: string; registry?: BuildOptions['registry']; rebuild?: boolean; afterExport?: PostExportStep[]; imagesFromRegistry?: boolean },
): SkipCheck {
  // The digest must name the base the engine will build on: the registry's, for an engine that never reads the store.
  const remote = remoteImages({ root: opts.root, registry: opts.registry, ...(opts.imagesFromRegistry ? { pull: 'always' as const } : {}) });
  return {
    async before(t, plan, dep) {
      const targets: Record<string, string> = {};
      let unknown: string | undefined;
      for (const [k, d] of Object.entries(dependencyContexts(def, t, fromDeps))) {
        const s = dep(d);
        // A dependency that was not built is taken from the registry by digest, not by a tag that may have moved
        // or that the store has an older image under.
        if (s?.upToDate && plan.contexts?.[k]) plan.contexts[k] = { kind: 'docker-image', ref: s.upToDate.pinned };
        if (s?.inputs) targets[k] = s.inputs;
        else unknown ??= d;
      }
      if (unknown) return { note: `inputs unknown: those of ${unknown} are` };
      let digest: string;
      try {
        const d = await inputDigest(plan, { image: remote.image, targets, extra: (opts.afterExport ?? []).map((s) => `after-export ${s.name}`) });
        if ('reason' in d) return { note: `inputs unknown: ${d.reason}` };
        digest = d.digest;
      } catch (e) {
        // the build meets the same problem and reports it with its line
        return { note: `inputs unknown: ${(e as Error).message.split('\n')[0]}` };
      }
      if (!plan.push) return { inputs: digest };
      plan.annotations = { ...(plan.annotations ?? {}), [INPUTS_ANNOTATION]: digest };
      if (opts.rebuild) return { inputs: digest, note: `inputs ${digest}; a build is asked for (--no-skip)` };
      if (plan.noCache || plan.noCacheFilter?.length) return { inputs: digest, note: `inputs ${digest}; --no-cache asks for a build` };
      if (plan.outputs?.length) return { inputs: digest, note: `inputs ${digest}; builds for its outputs` };
      const r = await remote.check(plan.tags ?? [], digest);
      if (!r.upToDate) return { inputs: digest, note: `inputs ${digest}; builds: ${r.why}` };
      return { inputs: digest, upToDate: r };
    },
    close: () => remote.close(),
  };
}
