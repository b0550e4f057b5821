import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { uniqueName } from '../store/fsutil.js';
import { InputError } from '../util/errors.js';

/**
 * Builds an output at a temp sibling of `dest` and moves it into place only once complete, so a failure never
 * leaves a half-written output.
 *
 * - `file`: a tar (OCI or docker archive) replaces a file of that name; a directory there is refused, never removed.
 * - `dir`: a directory output is written *into* an existing directory, as BuildKit's local exporter does: paths the
 *   output has replace the same paths there, everything else the user had is kept (`-o .` in a project).
 */
export async function writeOutput(dest: string, kind: 'file' | 'dir', build: (tmp: string) => Promise<void>): Promise<void> {
  let target = path.resolve(dest);
  const old = await fsp.stat(target).catch(() => undefined);
  if (old?.isDirectory() && kind === 'file') throw new InputError(`output ${dest} is a directory; a tar output needs a file name`);
  if (old && !old.isDirectory() && kind === 'dir') throw new InputError(`output ${dest} exists and is not a directory`);
  // A dest that is a symlink to a directory: write into the directory it names (the user pointed there).
  if (old?.isDirectory()) target = await fsp.realpath(target);
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, uniqueName(`.${path.basename(target)}.tmp-`));
  try {
    await build(tmp);
    if (old?.isDirectory()) await mergeInto(tmp, target);
    else await fsp.rename(tmp, target);
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Moves every entry of `src` into `dst`. Directories on both sides merge (the output's mode, owner and times win);
 * anything else of the same name is replaced. A symlink in `dst` is replaced, never followed, so an output cannot
 * be steered outside the directory the user named.
 */
async function mergeInto(src: string, dst: string): Promise<void> {
  for (const name of await fsp.readdir(src)) {
    const from = path.join(src, name);
    const to = path.join(dst, name);
    const [s, d] = await Promise.all([fsp.lstat(from), fsp.lstat(to).catch(() => undefined)]);
    if (d && s.isDirectory() && d.isDirectory()) {
      await mergeInto(from, to);
      await fsp.lchown(to, s.uid, s.gid);
      await fsp.chmod(to, s.mode & 0o7777);
      await fsp.utimes(to, s.atime, s.mtime);
      continue;
    }
    if (d) await fsp.rm(to, { recursive: true, force: true });
    await fsp.rename(from, to);
  }
}
