/** Bake: bake files (HCL/JSON) → target graph → parallel builds, progress, summary, report. */
export type { Value, HclFunction, Scope } from './expr.js';
export { evaluate, parseTemplate, parseExpression } from './expr.js';
export { stdlib } from './functions.js';
export { DEFAULT_BAKE_FILES, filesFromEnv, readBakeFiles } from './files.js';
export { definitionFromCli, envFlag, listFromCli, loadBake, printView, select, type CliInput, type LoadOptions, type Selection } from './definition.js';
export { targetDeps } from './resolve.js';
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
