/**
 * stratum as a library: build Dockerfiles, bake catalogs, talk to registries, maintain catalogs.
 * The CLI (src/cli) is a thin shell over these.
 */
export * as frontend from './frontend/index.js';
export * as store from './store/index.js';
export * as exporter from './exporter/index.js';
export * as bake from './bake/index.js';
export * as catalog from './catalog/index.js';
export { build, dryRun, Session, defaultRoot, storeCheck, runImage } from './solver/index.js';
export * as verify from './verify/index.js';
export type { BuildOptions, BuildResult, ProgressEvent, OutputSpec, ContextSource, Platform } from './solver/index.js';
export { bootstrapDebian } from './worker/bootstrap.js';
export { StratumError, InputError, SourceError, EnvironmentError } from './util/errors.js';
