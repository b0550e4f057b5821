import type { Readable } from 'node:stream';

// The image spec's documents are the store's (one definition); the registry adds what it asks registries for.
import { MediaTypes } from '../store/types.js';
export { MediaTypes };
export { isIndexMediaType, isManifestMediaType } from '../store/types.js';
export type { Descriptor, Platform, Manifest as ImageManifest, Index as ImageIndex } from '../store/types.js';

export const MANIFEST_ACCEPT = [MediaTypes.index, MediaTypes.manifest, MediaTypes.dockerManifestList, MediaTypes.dockerManifest].join(', ');

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
  /** Bytes of a blob received so far (every chunk: views throttle). */
  | { kind: 'blob-progress'; digest: string; done: number; total: number }
  | { kind: 'blob-cached'; digest: string }
  | { kind: 'manifest-pushed'; registry: string; repository: string; reference: string; digest: string }
  | { kind: 'retry'; registry: string; operation: string; attempt: number; delayMs: number; reason: string }
  | { kind: 'upload-resumed'; registry: string; repository: string; digest: string; offset: number };
