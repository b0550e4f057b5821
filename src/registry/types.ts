import type { Readable } from 'node:stream';

/** An OCI content descriptor (the subset the registry client reads and writes). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(', ');

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaTypes.ociManifest || mt === MediaTypes.dockerManifest;
}

/**
 * What the registry client needs from a content store to push: ContentStore (src/store) satisfies it
 * structurally, so the two parts only share this narrow shape.
 */
export interface BlobSource {
  has(digest: string): Promise<boolean>;
  /** Path of the stored blob file (read in ranges for chunked uploads). */
  blobPath(digest: string): string;
  readBytes(digest: string): Promise<Buffer>;
}

/** What the registry client needs from a content store to pull. */
export interface BlobSink {
  has(digest: string): Promise<boolean>;
  /** Stores a stream; must verify it against `expected` while streaming and place it atomically. */
  ingest(stream: Readable, expected?: { digest: string; size?: number }): Promise<{ digest: string; size: number }>;
  putBytes(buf: Buffer): Promise<{ digest: string; size: number }>;
}

export type BlobStore = BlobSource & BlobSink;

/** Progress and accounting events, e.g. for a CLI progress line or for tests that count uploads. */
export type RegistryEvent =
  | { kind: 'blob-exists'; registry: string; repository: string; digest: string }
  | { kind: 'blob-mounted'; registry: string; repository: string; digest: string; from: string }
  | { kind: 'blob-uploaded'; registry: string; repository: string; digest: string; size: number; chunks: number }
  | { kind: 'blob-downloaded'; registry: string; repository: string; digest: string; size: number }
  | { kind: 'blob-cached'; digest: string }
  | { kind: 'manifest-pushed'; registry: string; repository: string; reference: string; digest: string }
  | { kind: 'retry'; registry: string; operation: string; attempt: number; delayMs: number; reason: string }
  | { kind: 'upload-resumed'; registry: string; repository: string; digest: string; offset: number };
