import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, writeFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface LayerRecord {
  digest: string;
  diffID: string;
  size: number;
  mediaType: string;
}

export interface SnapshotMeta {
  id: string;
  created: string;
  /** Layer blobs made from this snapshot, by compression; filled lazily on export. */
  layers: Record<string, LayerRecord>;
  /** True when the step changed nothing: the snapshot adds no layer. */
  empty: boolean;
}

/**
 * Snapshots are directories in overlayfs upper-dir format (whiteouts as 0/0 char devices,
 * opaque dirs by xattr), stacked as lower dirs to form a rootfs. A snapshot is created under a
 * temporary name and renamed into place once complete, so a crash never leaves one that looks
 * finished.
 */
export class SnapshotStore {
  readonly dir: string;
  readonly tmp: string;
  readonly emptyDir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'snapshots');
    this.tmp = path.join(root, 'tmp');
    this.emptyDir = path.join(root, 'snapshots', 'empty');
  }

  async init(): Promise<void> {
    await mkdir(this.emptyDir, { recursive: true });
    await mkdir(path.join(this.dir, 'by-diffid'), { recursive: true });
    await mkdir(this.tmp, { recursive: true });
  }

  fsPath(id: string): string {
    return path.join(this.dir, id, 'fs');
  }

  /** A fresh staging area: `fs` (the upper dir) and `work` (overlay's work dir). */
  async prepare(): Promise<Staging> {
    const id = randomBytes(6).toString('hex');
    const base = path.join(this.tmp, `snap-${id}`);
    await mkdir(path.join(base, 'fs'), { recursive: true });
    await mkdir(path.join(base, 'work'), { recursive: true });
    return new Staging(this, id, base);
  }

  async meta(id: string): Promise<SnapshotMeta | undefined> {
    try {
      // Synchronous: a tiny file read on every cache hit, where a thread-pool round trip costs more than the read.
      return JSON.parse(readFileSync(path.join(this.dir, id, 'meta.json'), 'utf8')) as SnapshotMeta;
    } catch {
      return undefined;
    }
  }

  async exists(id: string): Promise<boolean> {
    return (await this.meta(id)) !== undefined;
  }

  async writeMeta(meta: SnapshotMeta): Promise<void> {
    const file = path.join(this.dir, meta.id, 'meta.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, file);
  }

  async byDiffID(diffID: string): Promise<string | undefined> {
    try {
      const id = readFileSync(path.join(this.dir, 'by-diffid', diffID.replace(/^sha256:/, '')), 'utf8').trim();
      return (await this.exists(id)) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  async linkDiffID(diffID: string, id: string): Promise<void> {
    const file = path.join(this.dir, 'by-diffid', diffID.replace(/^sha256:/, ''));
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, id);
    await rename(tmp, file);
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => /^[0-9a-f]{12}$/.test(n));
  }

  async remove(id: string): Promise<void> {
    const doomed = path.join(this.tmp, `rm-${id}-${randomBytes(3).toString('hex')}`);
    try {
      await rename(path.join(this.dir, id), doomed);
    } catch {
      return;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  async diskUsage(id: string): Promise<number> {
    return duBytes(path.join(this.dir, id));
  }
}

export class Staging {
  constructor(
    private readonly store: SnapshotStore,
    readonly id: string,
    readonly base: string,
  ) {}

  get upper(): string {
    return path.join(this.base, 'fs');
  }

  get work(): string {
    return path.join(this.base, 'work');
  }

  get merged(): string {
    return path.join(this.base, 'merged');
  }

  /** Moves the finished upper dir into the store under its id. */
  async commit(empty: boolean): Promise<string> {
    await rm(this.work, { recursive: true, force: true });
    await rm(this.merged, { recursive: true, force: true });
    const meta: SnapshotMeta = { id: this.id, created: new Date().toISOString(), layers: {}, empty };
    await writeFile(path.join(this.base, 'meta.json'), JSON.stringify(meta));
    await rename(this.base, path.join(this.store.dir, this.id));
    return this.id;
  }

  async discard(): Promise<void> {
    await rm(this.base, { recursive: true, force: true });
  }
}

async function duBytes(p: string): Promise<number> {
  const st = await lstat(p).catch(() => undefined);
  if (!st) return 0;
  let total = st.blocks * 512;
  if (st.isDirectory()) {
    for (const name of await readdir(p)) total += await duBytes(path.join(p, name));
  }
  return total;
}
