import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm, writeFile, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SNAPSHOT_ID, StoreLayout, type LayerRecord, type SnapshotMeta } from '../store/index.js';

export type { LayerRecord, SnapshotMeta };

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
  readonly layout: StoreLayout;

  constructor(root: string | StoreLayout) {
    this.layout = typeof root === 'string' ? new StoreLayout(root) : root;
    this.dir = this.layout.snapshots;
    this.tmp = this.layout.tmp;
    this.emptyDir = this.layout.emptySnapshot;
  }

  async init(): Promise<void> {
    await mkdir(this.emptyDir, { recursive: true });
    await mkdir(this.layout.byDiffID, { recursive: true });
    await mkdir(this.tmp, { recursive: true });
  }

  fsPath(id: string): string {
    return this.layout.snapshotFs(id);
  }

  /**
   * A fresh staging area: `fs` (the upper dir) and `work` (overlay's work dir). `id` is given only by a cache import:
   * later steps' keys name their parent's snapshot id, so an imported snapshot keeps the id it had where it was made.
   */
  async prepare(id?: string): Promise<Staging> {
    const fresh = randomBytes(6).toString('hex');
    // A given id may be wanted by two builds at once: each stages apart, and the loser's rename fails.
    const base = this.layout.staging('snapshot', id ? `${id}-${fresh}` : fresh);
    id ??= fresh;
    await mkdir(path.join(base, 'fs'), { recursive: true });
    await mkdir(path.join(base, 'work'), { recursive: true });
    return new Staging(this, id, base);
  }

  async meta(id: string): Promise<SnapshotMeta | undefined> {
    try {
      // Synchronous: a tiny file read on every cache hit, where a thread-pool round trip costs more than the read.
      return JSON.parse(readFileSync(this.layout.snapshotMeta(id), 'utf8')) as SnapshotMeta;
    } catch {
      return undefined;
    }
  }

  async exists(id: string): Promise<boolean> {
    return (await this.meta(id)) !== undefined;
  }

  async writeMeta(meta: SnapshotMeta): Promise<void> {
    const file = this.layout.snapshotMeta(meta.id);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(meta));
    await rename(tmp, file);
  }

  async byDiffID(diffID: string): Promise<string | undefined> {
    try {
      const id = readFileSync(this.layout.byDiffIDFile(diffID), 'utf8').trim();
      return (await this.exists(id)) ? id : undefined;
    } catch {
      return undefined;
    }
  }

  async linkDiffID(diffID: string, id: string): Promise<void> {
    const file = this.layout.byDiffIDFile(diffID);
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, id);
    await rename(tmp, file);
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.dir);
    return names.filter((n) => SNAPSHOT_ID.test(n));
  }

  async remove(id: string): Promise<void> {
    const doomed = this.layout.staging('removal', `${id}-${randomBytes(3).toString('hex')}`);
    try {
      await rename(this.layout.snapshot(id), doomed);
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
    await rename(this.base, this.store.layout.snapshot(this.id));
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
