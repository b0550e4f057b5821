/**
 * The registry side of "skip what is already built": where the images a build reads are (for its input digest,
 * inputs.ts), and whether a registry already serves an image of a given input digest under a target's tags.
 */
import {
  createRegistryClient,
  formatReference,
  isIndexMediaType,
  isManifestMediaType,
  parseReference,
  RegistryError,
  repositoryName,
  type BlobSource,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type RegistryClient,
} from '../registry/index.js';
import { LOCAL_REGISTRY, normalizeRef } from '../store/index.js';
import { platformMatches } from '../util/platform.js';
import { INPUTS_ANNOTATION, type InputSources } from './inputs.js';
import { Session } from './session.js';
import type { BuildOptions, Platform } from './types.js';

export interface RemoteImages {
  /** Image digests as a build would find them: the store first (unless pull is 'always'), then the registry. */
  image: InputSources['image'];
  /** Whether a registry serves an image of `digest` under one of `tags`; re-tags the others to it when so. */
  check(tags: string[], digest: string): Promise<RemoteCheck>;
  close(): void;
}

export type RemoteCheck =
  /** `ref` is `registry/repository@digest`; `pinned` a `registry/repository:tag@digest` a dependent can build FROM. */
  | { upToDate: true; ref: string; digest: string; pinned: string; retagged: string[] }
  | { upToDate: false; why: string };

const isRemote = (ref: string): boolean => {
  const r = normalizeRef(ref).registry;
  return r !== undefined && r !== LOCAL_REGISTRY;
};

export function remoteImages(opts: { root?: string; registry?: BuildOptions['registry']; pull?: BuildOptions['pull'] }): RemoteImages {
  let client: RegistryClient | undefined;
  const reg = () => (client ??= createRegistryClient(opts.root, opts.registry ?? {}));
  const known = new Map<string, Promise<string | undefined>>();

  const fromRegistry = async (ref: string, platform: Platform): Promise<string | undefined> => {
    const c = reg();
    const desc = await c.resolveDigest(ref).catch(() => undefined);
    if (!desc || !isIndexMediaType(desc.mediaType)) return desc?.digest;
    // The platform's manifest, as a pull names it in the store: a store that has pulled it gives the same digest.
    const { bytes } = await c.getManifest({ ...parseReference(ref), digest: desc.digest });
    const idx = JSON.parse(bytes.toString('utf8')) as ImageIndex;
    const hit = idx.manifests.find((m) => platformMatches(m.platform, platform));
    return hit?.digest ?? desc.digest;
  };
  const fromStore = async (ref: string): Promise<string | undefined> => {
    const session = await Session.get(opts.root);
    return (await session.images.resolve(ref).catch(() => undefined))?.digest;
  };
  const image = (ref: string, platform: Platform): Promise<string | undefined> => {
    const k = `${ref}\0${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let p = known.get(k);
    if (!p) {
      // The order the build resolves in (build.ts imageByRef, resolveImage): what it would build FROM.
      p = (async () => {
        if (opts.pull === 'always' && isRemote(ref)) return (await fromRegistry(ref, platform)) ?? (await fromStore(ref));
        return (await fromStore(ref)) ?? (isRemote(ref) && opts.pull !== false ? await fromRegistry(ref, platform) : undefined);
      })();
      known.set(k, p);
    }
    return p;
  };

  const check = async (tags: string[], digest: string): Promise<RemoteCheck> => {
    const remote = tags.filter(isRemote).map((t) => parseReference(normalizeRef(t).full));
    if (!remote.length) return { upToDate: false, why: 'no tag names a registry' };
    const c = reg();
    const found: { ref: (typeof remote)[number]; bytes?: Buffer; desc?: Descriptor; inputs?: string }[] = [];
    for (const ref of remote) {
      try {
        const { bytes, descriptor } = await c.getManifest(ref);
        const doc = JSON.parse(bytes.toString('utf8')) as Partial<ImageManifest>;
        const inputs = isManifestMediaType(descriptor.mediaType) && !isIndexMediaType(descriptor.mediaType) ? doc.annotations?.[INPUTS_ANNOTATION] : undefined;
        found.push({ ref, bytes, desc: descriptor, ...(inputs ? { inputs } : {}) });
      } catch (e) {
        if (e instanceof RegistryError && e.status === 404) found.push({ ref });
        // Not knowing is a reason to build, never to skip: the push then says what is wrong with the registry.
        else return { upToDate: false, why: `could not ask ${formatReference(ref)}: ${(e as Error).message.split('\n')[0]}` };
      }
    }
    const match = found.find((f) => f.inputs === digest);
    if (!match) return { upToDate: false, why: `no image of these inputs under ${remote.map(formatReference).join(', ')}` };
    const bytes = match.bytes!;
    const desc = match.desc!;
    const lacking = found.filter((f) => f.desc?.digest !== desc.digest);
    // A manifest PUT of the same bytes re-tags within a repository, whose blobs are there already; another repository
    // would need the blobs copied, which a build and push does.
    const elsewhere = lacking.find((f) => repositoryName(f.ref) !== repositoryName(match.ref));
    if (elsewhere) return { upToDate: false, why: `${formatReference(elsewhere.ref)} is in another repository than ${formatReference(match.ref)}` };
    const source: BlobSource = {
      has: async (d) => d === desc.digest,
      readBytes: async () => bytes,
      blobPath: (d) => {
        throw new RegistryError({ registry: match.ref.registry, repository: match.ref.repository, operation: `re-tag ${desc.digest}`, detail: `blob ${d} is missing from the repository` });
      },
    };
    const retagged: string[] = [];
    for (const f of lacking) {
      try {
        await c.push(source, desc, f.ref);
      } catch (e) {
        return { upToDate: false, why: `could not re-tag ${formatReference(f.ref)}: ${(e as Error).message.split('\n')[0]}` };
      }
      retagged.push(formatReference(f.ref));
    }
    const ref = `${repositoryName(match.ref)}@${desc.digest}`;
    return { upToDate: true, ref, digest: desc.digest, pinned: `${formatReference({ ...match.ref, digest: undefined })}@${desc.digest}`, retagged };
  };

  return { image, check, close: () => client?.close() };
}
