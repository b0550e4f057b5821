import { lstat, mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mountOverlay, mountReadonlyOverlay, unmount } from './overlay.js';
import type { SnapshotStore, Staging } from './snapshots.js';

/** A stack of snapshots, bottom first (a stage's chain). */
export type Chain = readonly { snapshot: string }[];

/** Host paths of a chain's snapshots, topmost first, as overlayfs wants its lower dirs. */
export function lowerDirs(snapshots: SnapshotStore, chain: Chain): string[] {
  return chain.map((c) => snapshots.fsPath(c.snapshot)).reverse();
}

export interface StepOutcome {
  snapshot?: string;
  empty: boolean;
}

/*
 * Root filesystems for steps: overlay mounts of a chain of snapshots, writable (the upper dir becomes a new
 * snapshot), read-only, or scratch (thrown away). The solver says which chain; the worker mounts it.
 */

/**
 * Runs `fn` against a writable rootfs: the chain as lower dirs, a fresh upper dir. The upper dir
 * becomes a new snapshot unless the step changed nothing.
 */
export async function withWritableRootfs(
  snapshots: SnapshotStore,
  chain: Chain,
  fn: (merged: string, upper: string) => Promise<void>,
): Promise<StepOutcome> {
  const staging = await snapshots.prepare();
  let mounted = false;
  try {
    await mountOverlay(lowerDirs(snapshots, chain), staging.upper, staging.work, staging.merged, snapshots.emptyDir);
    mounted = true;
    await fn(staging.merged, staging.upper);
    await unmount(staging.merged);
    mounted = false;
    return await keepUnlessEmpty(staging);
  } catch (e) {
    if (mounted) await unmount(staging.merged).catch(() => undefined);
    await staging.discard();
    throw e;
  }
}

/** A step that changed nothing adds no snapshot (and so no layer). */
async function keepUnlessEmpty(staging: Staging): Promise<StepOutcome> {
  if ((await readdir(staging.upper)).length === 0) {
    await staging.discard();
    return { empty: true };
  }
  return { snapshot: await staging.commit(false), empty: false };
}

/** A fresh snapshot written directly (COPY --link): no parent underneath. */
export async function withDetachedDir(snapshots: SnapshotStore, fn: (root: string) => Promise<void>): Promise<StepOutcome> {
  const staging = await snapshots.prepare();
  try {
    await fn(staging.upper);
    return await keepUnlessEmpty(staging);
  } catch (e) {
    await staging.discard();
    throw e;
  }
}

/**
 * Runs `fn` on a writable rootfs of the chain whose changes are thrown away afterwards (`stratum run`, the checks
 * of `stratum verify`): a container needs a writable root, and nothing it does may reach a snapshot.
 */
export async function withScratchRootfs<T>(snapshots: SnapshotStore, chain: Chain, fn: (rootfs: string) => Promise<T>): Promise<T> {
  const staging = await snapshots.prepare();
  let mounted = false;
  try {
    await mountOverlay(lowerDirs(snapshots, chain), staging.upper, staging.work, staging.merged, snapshots.emptyDir);
    mounted = true;
    return await fn(staging.merged);
  } finally {
    if (mounted) await unmount(staging.merged).catch(() => undefined);
    await staging.discard();
  }
}

/** Mounts a chain read-only for reading (COPY --from, RUN --mount from=); unmounts after `fn`. */
export async function withReadonlyRootfs<T>(snapshots: SnapshotStore, chain: Chain, fn: (root: string) => Promise<T>): Promise<T> {
  const dir = snapshots.layout.staging('readonlyMount', randomBytes(6).toString('hex'));
  await mountReadonlyOverlay(lowerDirs(snapshots, chain), dir, snapshots.emptyDir);
  try {
    return await fn(dir);
  } finally {
    await unmount(dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * runc creates a file or directory for every mount point that is missing in the rootfs. Those
 * stubs are not the step's doing: note which mount points are missing before the run, and
 * remove the empty stubs (and the empty parents made for them) from the upper dir after.
 */
export async function missingMountPoints(merged: string, targets: string[]): Promise<string[][]> {
  const missing: string[][] = [];
  for (const t of targets) {
    const parts = t.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = path.join(merged, ...parts.slice(0, i));
      if (!(await lstat(p).catch(() => undefined))) {
        missing.push(parts.map((_, j) => '/' + parts.slice(0, j + 1).join('/')).slice(i - 1));
        break;
      }
    }
  }
  return missing;
}

export async function removeMountStubs(upper: string, missing: string[][]): Promise<void> {
  for (const created of missing) {
    // Deepest first: the mount point, then the parents runc made for it, while they stay empty.
    for (const p of [...created].reverse()) {
      const host = path.join(upper, p);
      const st = await lstat(host).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        if ((await readdir(host)).length > 0) break;
        await rmdir(host);
      } else if (st.isFile() && st.size === 0) {
        await rm(host);
      } else break;
    }
  }
}

export async function writeTempFile(snapshots: SnapshotStore, content: string, mode = 0o644): Promise<string> {
  const dir = snapshots.layout.staging('heredoc', randomBytes(6).toString('hex'));
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'content');
  await writeFile(file, content, { mode });
  return file;
}
