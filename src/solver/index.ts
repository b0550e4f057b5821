export { build, HOST_PLATFORM, loadDockerfile, rebuildTimeOf } from './build.js';
export { dryRun, type DryRunStage, type DryRunStep } from './dryrun.js';
export { Session, defaultRoot } from './session.js';
export * from './types.js';
export { localEngine, type Engine, type BuildFn, type BuildRequest } from './engine.js';
export * as request from './request.js';
export { storeCheck, prune, recoverStore, type StoreCheckReport } from './maintenance.js';
export { runImage, type RunImageOptions } from './run-image.js';
