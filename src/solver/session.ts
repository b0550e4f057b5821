import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ContentStore, ImageStore } from '../store/index.js';
import { SnapshotStore } from '../worker/snapshots.js';
import { CacheIndex } from './cache.js';

export function defaultRoot(): string {
  return process.env.STRATUM_ROOT || '/var/lib/stratum';
}

/** Handles on every part of one store root, opened once per process and root. */
export class Session {
  readonly content: ContentStore;
  readonly images: ImageStore;
  readonly snapshots: SnapshotStore;
  readonly cache: CacheIndex;

  private constructor(readonly root: string) {
    this.content = new ContentStore(root);
    this.images = new ImageStore(this.content);
    this.snapshots = new SnapshotStore(root);
    this.cache = new CacheIndex(path.join(root, 'cache'));
  }

  get tmp(): string {
    return path.join(this.root, 'tmp');
  }
  get gitCache(): string {
    return path.join(this.root, 'sources', 'git');
  }
  get httpCache(): string {
    return path.join(this.root, 'sources', 'http');
  }
  get cacheMounts(): string {
    return path.join(this.root, 'cache-mounts');
  }

  private static open = new Map<string, Promise<Session>>();

  static async get(root = defaultRoot()): Promise<Session> {
    const abs = path.resolve(root);
    let s = Session.open.get(abs);
    if (!s) {
      s = (async () => {
        const session = new Session(abs);
        await session.content.init();
        await session.snapshots.init();
        await session.cache.init();
        // Synchronous, as in the stores' init: these dirs nearly always exist, so it is one quick syscall each.
        mkdirSync(session.tmp, { recursive: true });
        return session;
      })();
      Session.open.set(abs, s);
    }
    return s;
  }
}
