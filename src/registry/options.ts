/** How a registry client is set up, and what a push reports. */
import type { Credentials } from './auth.js';
import type { BlobOrigins } from './origins.js';
import type { RetryPolicy } from './retry.js';
import type { Platform, RegistryEvent } from './types.js';

export interface RegistryClientOptions {
  /** docker config.json to read credentials from (default `$DOCKER_CONFIG/config.json` or ~/.docker/config.json). */
  dockerConfigFile?: string;
  /** Credentials by registry host; win over the docker config. */
  credentials?: Record<string, Credentials>;
  /** Registries reachable over plain HTTP or with unverified TLS. `STRATUM_INSECURE_REGISTRIES` (comma-separated) adds to it. */
  insecureRegistries?: string[];
  /** Extra CA certificate files (PEM) trusted for every registry (`--ca-cert`). */
  caCertFiles?: string[];
  /**
   * Directories holding `<host[:port]>/*.crt` CA files per registry, as docker's certs.d. Default:
   * `$STRATUM_CERTS_DIR`, /etc/stratum/certs.d, /etc/docker/certs.d.
   */
  certsDirs?: string[];
  /** Upload chunk size in bytes (default 8 MiB). */
  chunkSize?: number;
  /** Blobs transferred at once (default 4). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** A connection silent this long is dropped and retried (default 30 s). */
  idleTimeoutMs?: number;
  /** Where blobs were seen, for cross-repository mounts (default: in memory only). */
  origins?: BlobOrigins;
  /** Platform picked from an index when pulling (default linux/amd64). */
  platform?: Platform;
  onEvent?: (e: RegistryEvent) => void;
  env?: NodeJS.ProcessEnv;
}

export interface PushResult {
  /** Digest of the manifest (or index) the tag now points at. */
  digest: string;
  mediaType: string;
  size: number;
  /** Blobs sent in full. */
  uploaded: number;
  /** Blobs mounted from another repository. */
  mounted: number;
  /** Blobs the registry already had. */
  skipped: number;
  /** Manifests (and indexes) written. */
  manifests: number;
  bytesUploaded: number;
}
