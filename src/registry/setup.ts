import path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../util/errors.js';
import { RegistryClient, type PulledImage, type RegistryClientOptions } from './client.js';
import { BlobOrigins } from './origins.js';
import type { BlobSink, Descriptor, Platform } from './types.js';

/** Options every registry command shares (`--insecure-registry`, `--ca-cert`). */
export interface RegistryFlags {
  insecureRegistry?: string[];
  caCert?: string[];
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * A client configured the way the CLI and the engine use it: docker config credentials, insecure
 * registries from flags and STRATUM_INSECURE_REGISTRIES, CA files from flags and certs.d, and the
 * blob-origin record kept in the store root (so later pushes can mount).
 */
export function createRegistryClient(root: string | undefined, flags: RegistryFlags = {}, extra: RegistryClientOptions = {}): RegistryClient {
  for (const f of flags.caCert ?? []) {
    if (!existsSync(f)) throw new InputError(`--ca-cert ${f}: no such file`);
    if (!statSync(f).isFile()) throw new InputError(`--ca-cert ${f}: not a file (a PEM certificate)`);
  }
  return new RegistryClient({
    insecureRegistries: flags.insecureRegistry ?? [],
    caCertFiles: flags.caCert ?? [],
    ...(root ? { origins: new BlobOrigins(path.join(root, 'registry', 'blob-origins.json')) } : {}),
    ...extra,
  });
}

/** Where a pulled image is named locally. */
export interface TagStore {
  tag(name: string, desc: Descriptor): Promise<void>;
}

/**
 * Pulls `ref` into a content store and names it in the local image store: under `name:tag` when the
 * reference has a tag (a pinned `name:tag@digest` too), while digest-only references stay reachable by
 * digest. The name is the platform manifest, which is what builds start FROM.
 */
export async function pullAndTag(client: RegistryClient, ref: string, content: BlobSink, images: TagStore, opts: { platform?: Platform } = {}): Promise<PulledImage> {
  const pulled = await client.pullImage(ref, content, opts);
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  if (pulled.reference.tag || at < 0) await images.tag(name, pulled.manifest);
  return pulled;
}

/** Parses `os/arch[/variant]`. */
export { parsePlatform } from '../util/platform.js';

/**
 * An image resolver for the build engine (`FROM host/repo:tag`, `docker-image://`): pulls the image
 * into the store, names it locally, and returns its platform manifest.
 */
export function registryImageResolver(
  client: RegistryClient,
  content: BlobSink,
  images: TagStore,
  opts: { platform?: Platform } = {},
): (ref: string) => Promise<Descriptor | undefined> {
  return async (ref) => (await pullAndTag(client, ref, content, images, opts)).manifest;
}
