import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InputError } from '../util/errors.js';

const SKIP_DIRS = new Set(['.git', 'node_modules', 'dist']);

export function isDockerfileName(name: string): boolean {
  return name === 'Dockerfile' || name.startsWith('Dockerfile.') || /\.dockerfile$/i.test(name) || name.endsWith('.Dockerfile');
}

export function isBakeFileName(name: string): boolean {
  return name.endsWith('.hcl');
}

/** Dockerfiles and bake files under `root` (or `root` itself when it is a file), sorted. */
export async function catalogFiles(root: string): Promise<string[]> {
  let st;
  try {
    st = await stat(root);
  } catch {
    throw new InputError(`${root}: no such file or directory`);
  }
  if (st.isFile()) return [root];
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(p);
      } else if (e.isFile() && (isDockerfileName(e.name) || isBakeFileName(e.name))) out.push(p);
    }
  };
  await walk(root);
  return out.sort();
}

/** Replaces `path` with `data` so readers see either the old or the new file, never a torn one. */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let mode = 0o644;
  try {
    mode = (await stat(path)).mode & 0o7777;
  } catch {
    // new file: default mode
  }
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Now as RFC 3339 UTC with whole seconds, e.g. 2024-06-25T22:49:25Z. */
export function rfc3339Now(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

export { REBUILD_TIME_RE } from '../frontend/rebuild-time.js';
export const RFC3339_UTC_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
