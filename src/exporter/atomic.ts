import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { uniqueName } from '../store/fsutil.js';

/**
 * Builds an output at a temp sibling of `dest` and moves it into place only once complete, so a failure never
 * leaves a half-written output. An existing dest (file or directory) is replaced.
 */
export async function writeOutput(dest: string, build: (tmp: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dest);
  const dir = path.dirname(target);
  await fsp.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, uniqueName(`.${path.basename(target)}.tmp-`));
  try {
    await build(tmp);
    const old = await fsp.lstat(target).catch(() => undefined);
    if (old?.isDirectory()) {
      const aside = path.join(dir, uniqueName(`.${path.basename(target)}.old-`));
      await fsp.rename(target, aside);
      await fsp.rename(tmp, target);
      await fsp.rm(aside, { recursive: true, force: true });
    } else {
      await fsp.rename(tmp, target);
    }
  } catch (e) {
    await fsp.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
