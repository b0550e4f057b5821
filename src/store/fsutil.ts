import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** A name no other writer (thread, process) will pick for a temp file. */
export function uniqueName(prefix = ''): string {
  return `${prefix}${process.pid}-${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`;
}

/** fsync a directory so a rename inside it survives a crash. Best effort: some filesystems refuse. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // not all filesystems allow fsync on a directory handle
  } finally {
    await fh?.close();
  }
}

/** Write `data` to `file` atomically: temp sibling in `tmpDir`, fsync, rename. */
export async function atomicWrite(file: string, data: Buffer | string, tmpDir = path.dirname(file)): Promise<void> {
  await fsp.mkdir(tmpDir, { recursive: true });
  const tmp = path.join(tmpDir, uniqueName('.tmp-'));
  try {
    const fh = await fsp.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
