import { applyLayer, parseLayerMemoKey, treeDiffID } from '../exporter/index.js';
import type { ContentStore } from '../store/index.js';
import { InputError } from '../util/errors.js';
import type { SnapshotStore } from './snapshots.js';

/**
 * Checks a snapshot's files against what its layer records claim, and returns what is wrong (undefined when
 * sound or when nothing can be checked). A layer this store made from the snapshot must have the diff_id its tar
 * would have now; an imported layer is unpacked afresh (checked against its digest and diff_id) and must give the
 * same tree. So a snapshot that was changed, or filed under a layer it does not hold, is found.
 */
export async function snapshotContentProblem(content: ContentStore, snapshots: SnapshotStore, id: string): Promise<string | undefined> {
  const meta = await snapshots.meta(id);
  if (!meta) return undefined;
  const fsDir = snapshots.fsPath(id);
  const clamps = new Set<string>();
  let imported = false;
  for (const [key, rec] of Object.entries(meta.layers)) {
    const memo = parseLayerMemoKey(key);
    if (memo) {
      const clamp = String(memo.sourceDateEpoch ?? '');
      if (clamps.has(clamp)) continue;
      clamps.add(clamp);
      const actual = await treeDiffID(fsDir, memo.sourceDateEpoch);
      if (actual !== rec.diffID) return `its files hash to ${actual}, but the layer ${rec.digest} made from it has diff_id ${rec.diffID}`;
      continue;
    }
    if (imported || /:v\d+$/.test(key) || !(await content.has(rec.digest))) continue; // an older layer format, or a pruned blob
    imported = true;
    const staging = await snapshots.prepare();
    try {
      try {
        await applyLayer({ path: content.blobPath(rec.digest), mediaType: rec.mediaType, digest: rec.digest, diffID: rec.diffID }, staging.upper, { format: 'overlay' });
      } catch (e) {
        if (e instanceof InputError) return `it is filed under a layer that does not hold: ${e.message}`;
        throw e;
      }
      const [want, have] = await Promise.all([treeDiffID(staging.upper), treeDiffID(fsDir)]);
      if (want !== have) return `its files differ from those of its layer ${rec.digest} (diff_id ${rec.diffID})`;
    } finally {
      await staging.discard();
    }
  }
  return undefined;
}
