import { InputError } from '../util/errors.js';

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

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;

/** True when the first path component names a registry host rather than a namespace (docker's rule). */
function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/**
 * Parses `[host[:port]/]path[:tag][@algo:hex]`. A name without a host goes to docker.io, and a single
 * component there gets the `library/` namespace, as docker does.
 */
export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (!text) throw new InputError('empty image reference');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new InputError(`invalid digest in image reference "${input}"`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new InputError(`invalid sha256 digest in image reference "${input}"`);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InputError(`invalid tag "${tag}" in image reference "${input}"`);
  }
  const parts = rest.split('/');
  let registry = DEFAULT_REGISTRY;
  if (parts.length > 1 && looksLikeHost(parts[0]!)) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) throw new InputError(`invalid registry host "${registry}" in image reference "${input}"`);
  }
  if (registry === 'index.docker.io') registry = DEFAULT_REGISTRY;
  if (registry === DEFAULT_REGISTRY && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      throw new InputError(`invalid repository name "${parts.join('/')}" in image reference "${input}" (lowercase letters, digits, and . _ - separators)`);
    }
  }
  const repository = parts.join('/');
  if (repository.length > 255) throw new InputError(`repository name too long in "${input}"`);
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
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
