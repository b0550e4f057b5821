import { checkStore, clearLeftovers, type CheckOptions, type Problem } from '../store/index.js';
import { snapshotContentProblem } from '../worker/verify.js';
import { Session } from './session.js';

export interface StoreCheckReport {
  problems: Problem[];
  /** What killed builds had left and this check cleared; undefined when the store was in use. */
  leftovers?: { unmounted: number; containers: number; removed: number; bytes: number };
}

/**
 * `stratum store check`: clears a killed build's leftovers when nobody is using the store, then verifies the
 * store's structure and every snapshot's files against the layers they claim to hold.
 */
export async function storeCheck(root: string, opts: Omit<CheckOptions, 'snapshotContents'> = {}): Promise<StoreCheckReport> {
  const session = await Session.get(root);
  const leftovers = await clearLeftovers(session.root);
  const problems = await checkStore(session.root, {
    ...opts,
    snapshotContents: (id) => snapshotContentProblem(session.content, session.snapshots, id),
  });
  return { problems, ...(leftovers ? { leftovers } : {}) };
}
