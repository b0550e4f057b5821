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
const DIGEST_RE = /^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$/;

/**
 * Parses a docker-style image reference: `[host[:port]/]path[:tag][@digest]`. The first path component is a
 * registry when it contains '.' or ':' or is "localhost" (docker's rule). Invalid names throw InputError.
 */
export function normalizeRef(name: string): ParsedRef {
  const bad = (why: string): never => {
    throw new InputError(`invalid image reference ${JSON.stringify(name)}: ${why}`);
  };
  if (typeof name !== 'string' || name.length === 0) bad('empty');
  if (/\s/.test(name)) bad('contains whitespace');

  let rest = name;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) bad(`bad digest ${JSON.stringify(digest)}`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad(`bad tag ${JSON.stringify(tag)}`);
  }

  let registry: string | undefined;
  const firstSlash = rest.indexOf('/');
  if (firstSlash > 0) {
    const first = rest.slice(0, firstSlash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      rest = rest.slice(firstSlash + 1);
      if (!DOMAIN_RE.test(registry)) bad(`bad registry ${JSON.stringify(registry)}`);
    }
  }

  const repository = rest;
  if (!repository) bad('missing repository');
  for (const comp of repository.split('/')) {
    if (!PATH_COMPONENT_RE.test(comp)) {
      bad(comp !== comp.toLowerCase() ? 'repository must be lowercase' : `bad path component ${JSON.stringify(comp)}`);
    }
  }
  const fullName = `${registry ?? LOCAL_REGISTRY}/${repository}`;
  if (fullName.length > 255) bad('name longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';

  const full = fullName + (tag !== undefined ? `:${tag}` : '') + (digest !== undefined ? `@${digest}` : '');
  const out: ParsedRef = { repository, full };
  if (registry !== undefined) out.registry = registry;
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}
