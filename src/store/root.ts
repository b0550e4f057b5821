import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { EnvironmentError } from '../util/errors.js';

/**
 * The store root is the one gate in front of every snapshot: snapshots are image root filesystems, set-uid
 * binaries included, so a root any local user can traverse would let them run those binaries (Docker's
 * CVE-2021-41091). The root is made 0700 and owned by the user running stratum; a looser one (a store made by an
 * older version, or by hand) is tightened, and one owned by somebody else is refused. Two syscalls: cheap enough for every start.
 */
export function secureStoreRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = statSync(root);
  if (!st.isDirectory()) throw new EnvironmentError(`the store ${root} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new EnvironmentError(`the store ${root} belongs to uid ${st.uid}, not to this user (uid ${uid}); run stratum as its owner or use --root`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(root, 0o700);
}
