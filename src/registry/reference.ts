import { LOCAL_REGISTRY, parseImageName } from '../store/reference.js';

/** An image reference split for talking to a registry. */
export interface ImageReference {
  /** Registry host as written (`docker.io` when none was given), e.g. `localhost:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/debian`, `x/y`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_REGISTRY = 'docker.io';
/** Docker Hub's API lives on a different host than the name users write. */
const DOCKER_HUB_API = 'registry-1.docker.io';

/** Parses a reference for talking to a registry: a name without a host goes to docker.io (store/reference.ts). */
export function parseReference(input: string): ImageReference {
  return parseImageName(input, { registry: DEFAULT_REGISTRY }) as ImageReference;
}

/** `registry/repository[:tag][@digest]`, always with the registry spelled out. */
export function formatReference(ref: ImageReference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** `registry/repository`: the name without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** What to put after `/manifests/`: the digest when there is one (it is exact), else the tag, else `latest`. */
export function manifestReference(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/**
 * `localhost` without a port is the local store's own prefix for short names (podman's way), which FROM never
 * pulls and build --push never pushes: no registry. `localhost:5000` is one.
 */
export function namesLocalStore(ref: ImageReference): boolean {
  return ref.registry === LOCAL_REGISTRY;
}

/** Host:port to connect to for a registry name. */
export function registryEndpoint(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_API : registry;
}

/** Normalises the keys found in docker's config.json `auths` (`https://host/v1/`, `host`) to a registry name. */
export function normalizeRegistryHost(key: string): string {
  let h = key.trim();
  h = h.replace(/^[a-z]+:\/\//i, '');
  h = h.replace(/\/.*$/, '');
  h = h.toLowerCase();
  if (h === 'index.docker.io' || h === 'registry-1.docker.io') return DEFAULT_REGISTRY;
  return h;
}

/** Whether a host is a loopback address (used for clear messages about insecure registries). */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
