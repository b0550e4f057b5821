import { InputError } from '../util/errors.js';

export interface ParsedRef {
  /** Registry host[:port]; undefined when the name has none (a local short name). */
  registry?: string;
  /** Path inside the registry, e.g. "library/debian" or "a/b". */
  repository: string;
  /** Tag; "latest" when neither a tag nor a digest was given. */
  tag?: string;
  digest?: string;
  /** Fully normalised name: registry (default "localhost") / repository [:tag] [@digest]. */
  full: string;
}

/** Registry used in `full` for names without one (podman-style local names). */
export const LOCAL_REGISTRY = 'localhost';

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const KNOWN_DIGESTS: Record<string, RegExp> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };

/** An image name split into its parts. */
export interface ImageName {
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export interface ImageNameDefaults {
  /** The registry of a name that has none: `docker.io` for pulls, none for the local store's short names. */
  registry?: string;
  /** The tag of a name that has neither tag nor digest. */
  tag?: string;
}

/**
 * Parses a docker-style image reference, `[host[:port]/]path[:tag][@digest]`, the one parser every part uses with
 * the defaults of its use. The first path component is a registry when it contains '.' or ':', is "localhost",
 * or has capitals (docker's rule). A single component on docker.io gets the `library/` namespace, as docker does.
 * Invalid names throw InputError naming the part that is wrong.
 */
export function parseImageName(input: string, defaults: ImageNameDefaults = {}): ImageName {
  const name = typeof input === 'string' ? input.trim() : '';
  const bad = (why: string): never => {
    throw new InputError(`invalid image reference ${JSON.stringify(input)}: ${why}`);
  };
  if (name.length === 0) bad('empty');

  let rest = name;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) bad(`invalid digest ${JSON.stringify(digest)}`);
    const [alg, hex] = digest.split(':') as [string, string];
    const known = KNOWN_DIGESTS[alg];
    if (!known) bad(`invalid digest ${JSON.stringify(digest)}: only sha256 and sha512 are supported`);
    if (!known!.test(hex)) bad(`invalid ${alg} digest ${JSON.stringify(digest)}`);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad(`invalid tag ${JSON.stringify(tag)}`);
  }

  let registry: string | undefined;
  const firstSlash = rest.indexOf('/');
  if (firstSlash > 0) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      rest = rest.slice(firstSlash + 1);
      if (!DOMAIN_RE.test(registry)) bad(`invalid registry host ${JSON.stringify(registry)}`);
    }
  }
  if (registry === 'index.docker.io') registry = 'docker.io';
  registry ??= defaults.registry;
  if (registry === 'docker.io' && rest && !rest.includes('/')) rest = `library/${rest}`;

  const repository = rest;
  if (!repository) bad('missing repository');
  for (const comp of repository.split('/')) {
    if (!PATH_COMPONENT_RE.test(comp)) bad(`invalid repository name ${JSON.stringify(repository)} (lowercase letters, digits, and . _ - separators)`);
  }
  if (`${registry ?? LOCAL_REGISTRY}/${repository}`.length > 255) bad('name longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = defaults.tag;
  return { ...(registry !== undefined ? { registry } : {}), repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** A name in the local store: no registry means the local one (`localhost/`, podman's way), no tag `latest`. */
export function normalizeRef(name: string): ParsedRef {
  const n = parseImageName(name, { tag: 'latest' });
  const full = `${n.registry ?? LOCAL_REGISTRY}/${n.repository}` + (n.tag !== undefined ? `:${n.tag}` : '') + (n.digest !== undefined ? `@${n.digest}` : '');
  return { ...n, full };
}
