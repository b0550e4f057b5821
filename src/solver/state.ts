import type { ContainerConfig, ImageConfig, HistoryEntry } from '../store/index.js';
import type { LayerRecord } from '../worker/snapshots.js';
import { cacheKey } from './cache.js';

/** One snapshot in a stage's stack; `layer` is known for layers that came from an image. */
export interface ChainEntry {
  snapshot: string;
  layer?: LayerRecord;
  createdBy: string;
}

/** Where a stage stands after some of its steps: the snapshot stack, the config, the cache key. */
export interface StageState {
  chain: ChainEntry[];
  config: ImageConfig;
  /** History entries, one per instruction; `empty_layer` marks those without a snapshot. */
  history: HistoryEntry[];
  key: string;
}

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function emptyConfig(platform: { os: string; architecture: string; variant?: string }): ImageConfig {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    // As BuildKit's empty image: the default PATH, and `/` as the working directory.
    config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
}

export function cloneState(s: StageState): StageState {
  return {
    chain: [...s.chain],
    config: structuredClone(s.config),
    history: [...s.history],
    key: s.key,
  };
}

export function containerConfig(s: StageState): ContainerConfig {
  s.config.config ??= {};
  return s.config.config;
}

/** The ENV of the image as a map (later entries win, as in Docker). */
export function envMap(cfg: ContainerConfig): Map<string, string> {
  const m = new Map<string, string>();
  for (const kv of cfg.Env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

export function setEnv(cfg: ContainerConfig, key: string, value: string): void {
  const env = (cfg.Env ?? []).filter((kv) => !kv.startsWith(`${key}=`));
  env.push(`${key}=${value}`);
  cfg.Env = env;
}

/**
 * The state after a step. Its key names the snapshot the step produced, not only the step's
 * inputs: when a step runs again (--no-cache, a Rebuild-Time, a filter) and gives a new snapshot,
 * everything built on it misses the cache too, instead of reusing results of the old output.
 */
export function advance(state: StageState, key: string, snapshot: string | undefined, createdBy: string): StageState {
  const next = cloneState(state);
  next.key = snapshot ? cacheKey(key, snapshot) : key;
  if (snapshot) next.chain.push({ snapshot, createdBy });
  next.history.push({ created_by: createdBy, comment: 'stratum', ...(snapshot ? {} : { empty_layer: true }) });
  return next;
}

