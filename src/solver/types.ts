/** The public contract of the engine: what `stratum build` and `stratum bake` hand to the solver. */
import type { Descriptor } from '../store/types.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Outputs besides the local store (which every build writes): see exporter/outputs.ts. */
export type { OutputSpec } from '../exporter/outputs.js';
import type { OutputSpec } from '../exporter/outputs.js';

export type { Platform } from '../util/platform.js';
import type { Platform } from '../util/platform.js';

/** A named build context: a local directory, an OCI layout, or an image by reference. */
export type ContextSource =
  | { kind: 'local'; path: string }
  | { kind: 'oci-layout'; path: string; ref?: string }
  | { kind: 'docker-image'; ref: string };

export interface BuildOptions {
  /** Store root (default: $STRATUM_ROOT or /var/lib/stratum). */
  root?: string;
  /** Directory of the main build context. */
  context: string;
  /** Path of the Dockerfile (default: CONTEXT/Dockerfile). */
  dockerfile?: string;
  /** Dockerfile text given inline (bake's dockerfile-inline); wins over `dockerfile`. */
  dockerfileInline?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  contexts?: Record<string, ContextSource>;
  platform?: Platform;
  outputs?: OutputSpec[];
  noCache?: boolean;
  /** Stages whose steps ignore the cache (--no-cache-filter). */
  noCacheFilter?: string[];
  compression?: Compression;
  /** Clamp timestamps and fix `created` (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  /** Secrets for RUN --mount=type=secret: id -> file path. */
  secrets?: Record<string, string>;
  /** Push the tags to their registries once built. */
  push?: boolean;
  /** Registries reached over plain HTTP, and extra CA files, for pulls of FROM images and pushes. */
  registry?: { insecureRegistry?: string[]; caCert?: string[] };
  /**
   * Pull FROM images that name a registry and are not in the local store (default true); 'always' pulls them even
   * when the store has them (buildx --pull).
   */
  pull?: boolean | 'always';
  /** Entitlements granted (--allow): 'network.host', 'security.insecure'. */
  entitlements?: string[];
  /** SSH agents for RUN --mount=type=ssh: id -> agent socket path (--ssh). */
  ssh?: Record<string, string>;
  /** Extra /etc/hosts entries every RUN sees (--add-host). */
  extraHosts?: { host: string; ip: string }[];
  /** Annotations on the image manifest (--annotation). */
  annotations?: Record<string, string>;
  /**
   * Steps run on the image once it is stored, before it is tagged, written to outputs or pushed: a step that
   * throws fails the build and leaves no tag (where verify, SBOMs, provenance and signing hook in).
   */
  afterExport?: PostExportStep[];
  /** Caches whose records are taken in before the build (--cache-from); one missing is a warning. */
  cacheFrom?: CacheSpec[];
  /** Where the build's cache records and their layers go afterwards (--cache-to). */
  cacheTo?: CacheSpec[];
  /** Receives progress events; see ProgressEvent. */
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

/**
 * A cache as an OCI artifact: in a registry (`ref`), or in an OCI layout directory (`dir`). `mode` (exports only):
 * min keeps the records of the image's own steps, max those of every stage built.
 */
export type CacheSpec = ({ type: 'registry'; ref: string } | { type: 'local'; dir: string }) & { mode?: 'min' | 'max' };

export type ProgressEvent =
  | { kind: 'stage-start'; stage: string; time: number }
  | { kind: 'step-start'; stage: string; step: number; total: number; text: string; time: number }
  | { kind: 'step-log'; stage: string; step: number; data: string; time: number }
  | { kind: 'step-done'; stage: string; step: number; cached: boolean; time: number; durationMs: number }
  | { kind: 'stage-done'; stage: string; time: number }
  | { kind: 'export'; what: string; time: number }
  | { kind: 'pull'; ref: string; time: number }
  /** A tag pushed: `digest` is what the registry now serves under `ref`. */
  | { kind: 'push'; ref: string; digest: string; uploaded: number; skipped: number; mounted: number; time: number }
  /** Bytes moved by long work a person waits on: unpacking a base layer, pulling a blob, packing a layer. */
  | { kind: 'transfer'; action: TransferAction; id: string; done: number; total?: number; finished?: boolean; time: number };

export type TransferAction = 'unpack' | 'pull' | 'compress';

/** What a post-export step is given: the stored image, and the store it is in. */
export interface ExportedBuild {
  root: string;
  manifest: Descriptor;
  config: Descriptor;
  /** The names the image will be tagged with once every step has passed. */
  tags: string[];
}

export interface PostExportStep {
  /** Shown in progress ("verify", "sbom"). */
  name: string;
  run(image: ExportedBuild, emit: (e: ProgressEvent) => void): Promise<void>;
}

export interface LayerSummary {
  digest: string;
  diffID: string;
  size: number;
  mediaType: string;
  createdBy: string;
}

export interface BuildResult {
  /** Digest of the image manifest (OCI). */
  manifestDigest: string;
  /** The manifest's descriptor (its media type and size too), for --metadata-file. */
  manifest?: Descriptor;
  configDigest: string;
  /** Total compressed size of layers + config + manifest. */
  size: number;
  layers: LayerSummary[];
  tags: string[];
  stepsTotal: number;
  stepsCached: number;
  durationMs: number;
}
