/** The resolved bake definition: what `--print` shows and what the scheduler builds. */

export type Attrs = Record<string, string>;

/** A target after variables, functions, matrix, inherits and --set are applied. Keys are bake's. */
export interface TargetDef {
  description?: string;
  context?: string;
  contexts?: Record<string, string>;
  dockerfile?: string;
  'dockerfile-inline'?: string;
  args?: Record<string, string>;
  annotations?: string[];
  attest?: Attrs[];
  labels?: Record<string, string>;
  tags?: string[];
  'cache-from'?: Attrs[];
  'cache-to'?: Attrs[];
  target?: string;
  secret?: Attrs[];
  ssh?: Attrs[];
  platforms?: string[];
  output?: Attrs[];
  pull?: boolean;
  'no-cache'?: boolean;
  'no-cache-filter'?: string[];
  'shm-size'?: string;
  ulimits?: string[];
  call?: string;
  entitlements?: string[];
  network?: string;
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
  groups: Record<string, GroupDef>;
  targets: Record<string, TargetDef>;
  /** Definition site of each target and group (targets from a matrix point at their block). */
  sources: Record<string, SourcePos>;
}

export interface BakeFile {
  /** Name used in messages (the path as given, or `-` for stdin). */
  name: string;
  data: string;
}
