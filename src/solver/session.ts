import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ContentStore, ImageStore, StoreLayout, STAGING } from '../store/index.js';
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
  readonly layout: StoreLayout;

  private constructor(readonly root: string) {
    this.layout = new StoreLayout(root);
    this.content = new ContentStore(root);
    this.images = new ImageStore(this.content);
    this.snapshots = new SnapshotStore(this.layout);
    this.cache = new CacheIndex(this.layout.cache);
  }

  get tmp(): string {
    return this.layout.tmp;
  }
  get gitCache(): string {
    return this.layout.gitSources;
  }
  get httpCache(): string {
    return this.layout.httpSources;
  }
  get cacheMounts(): string {
    return this.layout.cacheMounts;
  }

  /** A fresh path in tmp/ for something a step stages there, named so a crash sweep knows it for a build's. */
  staging(kind: keyof typeof STAGING): string {
    return this.layout.staging(kind, randomBytes(6).toString('hex'));
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
