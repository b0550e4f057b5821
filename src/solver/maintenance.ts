/**
 * Looking after a store: the store's own sweeps, checks and prune, joined to what the worker knows (undoing a
 * killed build's mounts and containers, checking a snapshot's files against its layers). The CLI and library
 * users call these; the store module alone cannot do them whole.
 */
import {
  checkStore,
  clearLeftovers,
  prune as pruneStore,
  recoverStore as recoverStoreWith,
  type CheckOptions,
  type Problem,
  type PruneOptions,
  type PruneReport,
  type Swept,
} from '../store/index.js';
import { reaper } from '../worker/reaper.js';
import { snapshotContentProblem } from '../worker/verify.js';
import { Session } from './session.js';

/** Clears after crashed builds when nobody is using the store; never waits. False when somebody is. */
export function recoverStore(root: string): Promise<boolean> {
  return recoverStoreWith(root, reaper);
}

export function prune(root: string, opts: Omit<PruneOptions, 'reaper'> = {}): Promise<PruneReport> {
  return pruneStore(root, { ...opts, reaper });
}

export interface StoreCheckReport {
  problems: Problem[];
  /** What killed builds had left and this check cleared; undefined when the store was in use. */
  leftovers?: Swept & { bytes: number };
}

/**
 * `stratum store check`: clears a killed build's leftovers when nobody is using the store, then verifies the
 * store's structure and every snapshot's files against the layers they claim to hold.
 */
export async function storeCheck(root: string, opts: Omit<CheckOptions, 'snapshotContents'> = {}): Promise<StoreCheckReport> {
  const session = await Session.get(root);
  const leftovers = await clearLeftovers(session.root, reaper);
  const problems = await checkStore(session.root, {
    ...opts,
    snapshotContents: (id) => snapshotContentProblem(session.content, session.snapshots, id),
  });
  return { problems, ...(leftovers ? { leftovers } : {}) };
}
