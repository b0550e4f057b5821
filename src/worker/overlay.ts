import { mkdir } from 'node:fs/promises';
import { run } from '../util/exec.js';
import { StratumError } from '../util/errors.js';

// The kernel copies mount options into one page; leave room for upper/work paths.
const MAX_OPTIONS = 4000;

/**
 * Mounts an overlay of `lowers` (topmost first) with `upper` as the writable layer.
 * redirect_dir and metacopy are turned off so every change lands in full in the upper dir:
 * the upper dir alone then describes the layer.
 */
export async function mountOverlay(lowers: string[], upper: string, work: string, target: string, emptyLower: string): Promise<void> {
  await mkdir(work, { recursive: true });
  await mkdir(target, { recursive: true });
  const lowerdir = (lowers.length > 0 ? lowers : [emptyLower]).join(':');
  const options = `lowerdir=${lowerdir},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off,index=off`;
  if (options.length > MAX_OPTIONS) {
    throw new StratumError(`image has too many layers (${lowers.length}) for one overlay mount`);
  }
  await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target]);
}

/** Read-only overlay of lowers only (for bind mounts from other stages). */
export async function mountReadonlyOverlay(lowers: string[], target: string, emptyLower: string): Promise<void> {
  await mkdir(target, { recursive: true });
  const all = lowers.length > 0 ? lowers : [emptyLower];
  // overlayfs wants at least two lower dirs when there is no upper dir.
  const lowerdir = (all.length === 1 ? [...all, emptyLower] : all).join(':');
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir},redirect_dir=off,metacopy=off,index=off`, target]);
}

export async function unmount(target: string): Promise<void> {
  const r = await run('umount', [target], { check: false });
  if (r.code !== 0) await run('umount', ['-l', target]);
}
