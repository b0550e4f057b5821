/**
 * The engine contract: a build request in, a result out. `stratum build`, `stratum bake` and library users ask an
 * Engine, never a module by path; the local engine (this machine: runc, overlayfs, the local store) is one, and
 * an engine that hands the request to BuildKit would be another.
 */
import { build } from './build.js';
import { dryRun } from './dryrun.js';
import type { BuildOptions, BuildResult } from './types.js';

export type BuildRequest = BuildOptions;
export type BuildFn = (req: BuildRequest) => Promise<BuildResult>;

export interface Engine {
  readonly name: string;
  build: BuildFn;
  /** The plan a build would follow, without running anything. */
  dryRun(req: BuildRequest): ReturnType<typeof dryRun>;
}

export const localEngine: Engine = { name: 'local', build, dryRun };
