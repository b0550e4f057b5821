/** The resolved bake definition: what `--print` shows and what the scheduler builds. */

export type Attrs = Record<string, string>;

/** A resolved target in the shape `docker buildx bake --print` shows it. Keys are bake's. */
export interface TargetDef {
  description?: string;
  annotations?: string[];
  attest?: Record<string, string | boolean>[];
  context?: string;
  contexts?: Record<string, string>;
  dockerfile?: string;
  'dockerfile-inline'?: string;
  args?: Record<string, string>;
  labels?: Record<string, string>;
  tags?: string[];
  'cache-from'?: Attrs[];
  'cache-to'?: Attrs[];
  target?: string;
  secret?: { id?: string; src?: string; env?: string }[];
  ssh?: { id?: string; paths?: string[] }[];
  platforms?: string[];
  output?: Attrs[];
  pull?: boolean;
  'no-cache'?: boolean;
  network?: string;
  'no-cache-filter'?: string[];
  'shm-size'?: string;
  ulimits?: string[];
  resources?: Record<string, string | number>;
  call?: string;
  entitlements?: string[];
  'extra-hosts'?: Record<string, string>;
}

export interface GroupDef {
  description?: string;
  targets: string[];
}

/** Where a block was defined, for errors that name file and line. */
export interface SourcePos {
  file: string;
  line: number;
}

export interface BakeDefinition {
  /** The groups --print shows: those met while expanding the names asked for, and "default". */
  groups: Record<string, GroupDef>;
  /** The targets to build: those asked for (groups expanded) and those they use as `target:` contexts. */
  targets: Record<string, TargetDef>;
  /** Definition site of each target and group (targets from a matrix point at their block). */
  sources: Record<string, SourcePos>;
  /** Names asked for, after globs were matched ([] when every target was resolved). */
  requested: string[];
  /** Targets present only as another's `target:` context (printed with a cacheonly output). */
  linked: string[];
}

export interface BakeFile {
  /** Name used in messages (the path as given, or `-` for stdin). */
  name: string;
  data: string;
}
