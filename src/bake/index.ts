/** Bake: bake files (HCL/JSON) → target graph → parallel builds, progress, summary, report. */
export type { Value, HclFunction, Scope } from './expr.js';
export { evaluate, parseTemplate, parseExpression } from './expr.js';
export { stdlib } from './functions.js';
export { DEFAULT_BAKE_FILES, loadBake, readBakeFiles, mergeTargets, type LoadOptions } from './parse.js';
export { applySet, expandNames, printView, select, targetDeps, withDefaults, type Selection } from './resolve.js';
export { buildGraph, transitiveDependents, type TargetGraph } from './graph.js';
export { imageRefFor, internalTag, planTarget, parsePlatform, type PlanContext } from './plan.js';
export {
  bakeStateDir,
  loadRun,
  newRunId,
  runBake,
  saveRun,
  type BakeEvent,
  type BakeRun,
  type BuildFn,
  type RunBakeOptions,
  type StepRecord,
  type TargetRecord,
  type TargetStatus,
} from './schedule.js';
export { createProgress, jsonProgress, plainProgress, ttyProgress, type ProgressMode, type ProgressView } from './progress.js';
export { humanDuration, humanSize, metadata, summaryTable, writeMetadata } from './summary.js';
export { assignLanes, layoutGraph, renderReport } from './report.js';
export type { BakeDefinition, BakeFile, GroupDef, SourcePos, TargetDef } from './types.js';

import { loadBake, readBakeFiles, type LoadOptions } from './parse.js';
import { applySet } from './resolve.js';
import type { BakeDefinition } from './types.js';

/** Reads the -f files (or the default ones), evaluates them and applies --set overrides. */
export async function loadDefinition(files: string[], sets: string[] = [], opts: LoadOptions & { cwd?: string } = {}): Promise<BakeDefinition> {
  const def = await loadBake(await readBakeFiles(files, opts.cwd), opts);
  applySet(def, sets);
  return def;
}
