import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ContentStore } from './content.js';
import { StoreLayout } from './layout.js';
import { atomicWrite } from './fsutil.js';
import { withFileLock } from './lock.js';
import { LOCAL_REGISTRY, normalizeRef } from './reference.js';
import { MediaTypes, REF_NAME_ANNOTATION, type Descriptor, type Index } from './types.js';

/**
 * Local tags, kept in the content store's OCI-layout index.json: one manifest descriptor per tag, named by the
 * `org.opencontainers.image.ref.name` annotation holding the full normalised reference.
 */
export class ImageStore {
  readonly content: ContentStore;
  readonly #indexPath: string;
  readonly #lockPath: string;

  constructor(content: ContentStore) {
    this.content = content;
    this.#indexPath = new StoreLayout(content.root).indexFile;
    this.#lockPath = path.join(content.root, 'index.json.lock');
  }

  // Synchronous: every build reads this small file (to tag, to resolve FROM), and a promise-based read costs four
  // round trips through libuv's thread pool.
  async #read(): Promise<Index> {
    try {
      const idx = JSON.parse(readFileSync(this.#indexPath, 'utf8')) as Index;
      if (!Array.isArray(idx.manifests)) idx.manifests = [];
      return idx;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: MediaTypes.index, manifests: [] };
      throw e;
    }
  }

  async #update(fn: (idx: Index) => boolean): Promise<void> {
    await fsp.mkdir(this.content.root, { recursive: true });
    await withFileLock(this.#lockPath, async () => {
      const idx = await this.#read();
      if (fn(idx)) await atomicWrite(this.#indexPath, JSON.stringify(idx, null, 2) + '\n', this.content.tmpDir);
    });
  }

  /** Points `name` at `desc` (replacing any previous target of that name). */
  async tag(name: string, desc: Descriptor): Promise<void> {
    const ref = normalizeRef(name);
    const full = ref.full;
    const entry: Descriptor = {
      mediaType: desc.mediaType,
      digest: desc.digest,
      size: desc.size,
      ...(desc.platform ? { platform: desc.platform } : {}),
      annotations: { ...(desc.annotations ?? {}), [REF_NAME_ANNOTATION]: full },
    };
    // A rebuild that changed nothing tags the same manifest again: leave index.json (and its two fsyncs) alone.
    // Reading without the lock is safe: had another writer moved the tag since, that write simply comes after ours.
    const same = (idx: Index) => idx.manifests.some((m) => m.annotations?.[REF_NAME_ANNOTATION] === full && sameEntry(m, entry));
    if (same(await this.#read())) return;
    await this.#update((idx) => {
      if (same(idx)) return false;
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== full);
      idx.manifests.push(entry);
      idx.manifests.sort((a, b) => cmp(a.annotations?.[REF_NAME_ANNOTATION] ?? '', b.annotations?.[REF_NAME_ANNOTATION] ?? ''));
      return true;
    });
  }

  /**
   * Looks up a tag. Short names are normalised ("foo" == "localhost/foo:latest"). For "name@sha256:...", a tag of
   * that repository with that digest wins; otherwise a manifest blob with that digest in the store is returned.
   */
  async resolve(name: string): Promise<Descriptor | undefined> {
    const ref = normalizeRef(name);
    const idx = await this.#read();
    if (ref.digest === undefined) {
      const hit = idx.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === ref.full);
      return hit ? strip(hit) : undefined;
    }
    const repoFull = `${ref.registry ?? LOCAL_REGISTRY}/${ref.repository}`;
    const hit =
      idx.manifests.find((m) => m.digest === ref.digest && (m.annotations?.[REF_NAME_ANNOTATION] ?? '').startsWith(repoFull + ':')) ??
      idx.manifests.find((m) => m.digest === ref.digest);
    if (hit) return strip(hit);
    if (ref.digest.startsWith('sha256:') && (await this.content.has(ref.digest))) {
      const buf = await this.content.readBytes(ref.digest);
      let mediaType: string;
      try {
        const parsed = JSON.parse(buf.toString('utf8')) as { mediaType?: string; manifests?: unknown };
        mediaType = parsed.mediaType ?? (parsed.manifests ? MediaTypes.index : MediaTypes.manifest);
      } catch {
        return undefined;
      }
      return { mediaType, digest: ref.digest, size: buf.length };
    }
    return undefined;
  }

  async list(): Promise<{ name: string; descriptor: Descriptor }[]> {
    const idx = await this.#read();
    return idx.manifests
      .filter((m) => m.annotations?.[REF_NAME_ANNOTATION])
      .map((m) => ({ name: m.annotations![REF_NAME_ANNOTATION]!, descriptor: strip(m) }));
  }

  /** Removes a tag; false when it did not exist. Blobs stay (garbage collection is separate). */
  async remove(name: string): Promise<boolean> {
    const full = normalizeRef(name).full;
    let removed = false;
    await this.#update((idx) => {
      const before = idx.manifests.length;
      idx.manifests = idx.manifests.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== full);
      removed = idx.manifests.length !== before;
      return removed;
    });
    return removed;
  }
}

/** Same descriptor, field by field (key order in index.json is not ours to rely on). */
function sameEntry(a: Descriptor, b: Descriptor): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The descriptor as tagged, without our naming annotation. */
function strip(d: Descriptor): Descriptor {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.platform) out.platform = d.platform;
  const ann = { ...(d.annotations ?? {}) };
  delete ann[REF_NAME_ANNOTATION];
  if (Object.keys(ann).length) out.annotations = ann;
  return out;
}
