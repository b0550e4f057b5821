/**
 * The store's layout: every path under a store root, the records kept there, and the names of what builds stage in
 * tmp/. The one place that spells them out; every part of stratum asks here.
 *
 *   oci-layout, index.json, blobs/sha256/<hex>   an OCI image layout (content store and tags): `oci:ROOT` works
 *   snapshots/<12 hex>/{fs,meta.json}           snapshots in overlayfs upper-dir format, and what was made of them
 *   snapshots/by-diffid/<hex>                   the snapshot holding the layer of that diff_id (verified)
 *   snapshots/empty                             an empty lower dir for overlays of nothing
 *   cache/<2 hex>/<64 hex>.json                 step cache records
 *   cache/images/<64 hex>.json                  images a build made, by the key of all their inputs
 *   cache-mounts/<id hash>[...]                 RUN --mount=type=cache directories
 *   gzip-members/<2 hex>/<62 hex>               where a compressed tar segment sits in a layer blob
 *   sources/{git,http}                          fetched sources
 *   tmp/                                        staging (snapshots being made, mounts, runc bundles)
 *   locks/store/                                the store lock
 */
import path from 'node:path';

export class StoreLayout {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }

  get ociLayoutFile(): string {
    return path.join(this.root, 'oci-layout');
  }
  get indexFile(): string {
    return path.join(this.root, 'index.json');
  }
  get blobs(): string {
    return path.join(this.root, 'blobs', 'sha256');
  }
  get snapshots(): string {
    return path.join(this.root, 'snapshots');
  }
  snapshot(id: string): string {
    return path.join(this.root, 'snapshots', id);
  }
  snapshotFs(id: string): string {
    return path.join(this.root, 'snapshots', id, 'fs');
  }
  snapshotMeta(id: string): string {
    return path.join(this.root, 'snapshots', id, 'meta.json');
  }
  get byDiffID(): string {
    return path.join(this.root, 'snapshots', 'by-diffid');
  }
  byDiffIDFile(diffID: string): string {
    return path.join(this.byDiffID, diffID.replace(/^sha256:/, ''));
  }
  get emptySnapshot(): string {
    return path.join(this.root, 'snapshots', 'empty');
  }
  get cache(): string {
    return path.join(this.root, 'cache');
  }
  get cacheImages(): string {
    return path.join(this.root, 'cache', 'images');
  }
  get cacheMounts(): string {
    return path.join(this.root, 'cache-mounts');
  }
  get gzipMembers(): string {
    return path.join(this.root, 'gzip-members');
  }
  get gitSources(): string {
    return path.join(this.root, 'sources', 'git');
  }
  get httpSources(): string {
    return path.join(this.root, 'sources', 'http');
  }
  get tmp(): string {
    return path.join(this.root, 'tmp');
  }
  /** runc bundles of running containers, named after the container. */
  get bundles(): string {
    return path.join(this.root, 'tmp', 'bundles');
  }
  get lock(): string {
    return path.join(this.root, 'locks', 'store');
  }
  /** A fresh name under tmp/ for what a build stages there (see STAGING). */
  staging(kind: keyof typeof STAGING, id: string): string {
    return path.join(this.root, 'tmp', `${STAGING[kind]}${id}`);
  }
}

/** The prefixes of what builds stage in tmp/: a sweep after a crash knows them as a killed build's leftovers. */
export const STAGING = {
  snapshot: 'snap-',
  readonlyMount: 'ro-',
  bindMount: 'bind-',
  writableBind: 'rwbind-',
  source: 'src-',
  heredoc: 'heredoc-',
  archive: 'archive-',
  removal: 'rm-',
} as const;

/** A name in tmp/ that only a build makes (a staging dir, or the bundles dir of its containers). */
export const BUILD_STAGING = new RegExp(`^(${Object.values(STAGING).join('|')})|^bundles$`);

/** The prefix runc container names (and their bundle dirs) get. */
export const CONTAINER_PREFIX = 'stratum-';

export const SNAPSHOT_ID = /^[0-9a-f]{12}$/;

/** A layer made of (or unpacked into) a snapshot. */
export interface LayerRecord {
  digest: string;
  diffID: string;
  size: number;
  mediaType: string;
}

/** snapshots/<id>/meta.json */
export interface SnapshotMeta {
  id: string;
  created: string;
  /**
   * Layers of this snapshot: made from it (keyed by compression, clamp and format: exporter/layer.ts's
   * layerMemoKey), or the image layer it was unpacked from (keyed by media type, or `blob:<digest>` for another
   * blob shown to hold the same diff_id).
   */
  layers: Record<string, LayerRecord>;
  /** True when the step changed nothing: the snapshot adds no layer. */
  empty: boolean;
}

/** cache/<2 hex>/<64 hex>.json */
export interface CacheRecord {
  key: string;
  /** The snapshot the step made; '' for a step that changed nothing. */
  snapshot: string;
  /** When the step ran; entries older than a Dockerfile's Rebuild-Time are stale. */
  created: string;
  createdBy: string;
}
