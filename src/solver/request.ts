/**
 * From what a user writes to the engine's request: outputs, named contexts, platforms, secrets, the epoch. The one
 * parser behind every front door (`stratum build` flags, bake attributes, `stratum bootstrap`, the library), so a
 * spec means the same thing wherever it is written.
 */
import { InputError } from '../util/errors.js';
import { parsePlatform, type Platform } from '../util/platform.js';
import type { CacheSpec, ContextSource, OutputSpec } from './types.js';

/** `K=V` pairs; a bare `K` takes its value from `env`, as docker does for --build-arg. */
export function keyValues(list: string[] = [], what: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i === 0) throw new InputError(`${what}: "${item}" has no name`);
    if (i < 0) {
      const v = env[item];
      if (v !== undefined) out[item] = v;
      continue;
    }
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/**
 * Splits on commas as buildx's CSV reader does: a double-quoted stretch keeps its commas (`"name=a:1,b:1"`, and
 * `name="a:1,b:1"` too), `""` inside quotes is one quote.
 */
export function csvSplit(spec: string, what = spec): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === '"') {
      if (quoted && spec[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new InputError(`${what}: unterminated quote`);
  out.push(cur);
  return out;
}

/** Comma-separated `k=v` fields (--output, --secret); a field without `=` is `k=true`. */
export function csvFields(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of csvSplit(spec)) {
    const i = part.indexOf('=');
    if (i < 0) out[part.trim()] = 'true';
    else out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** What an output adds to the request besides its own spec: tags (`name=`) and a push (`type=registry`, `push=true`). */
export interface ParsedOutput {
  output?: OutputSpec;
  tags: string[];
  push: boolean;
}

const OUTPUT_KEYS: Record<string, string[]> = {
  image: ['name', 'push'],
  registry: ['name', 'push'],
  oci: ['dest', 'tar', 'name'],
  docker: ['dest', 'name'],
  local: ['dest'],
  tar: ['dest'],
};

function bool(v: string | undefined, what: string): boolean {
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new InputError(`${what}: expected true or false, not "${v}"`);
}

/**
 * `-o DIR`, `-o type=oci,dest=PATH[,tar=false]`, `type=docker,dest=FILE`, `type=local,dest=DIR`, `type=tar,dest=FILE`,
 * `type=image[,name=N][,push=true]`, `type=registry[,name=N]`. A key the engine would not honour is refused.
 */
export function parseOutput(spec: string, what = `--output ${spec}`): ParsedOutput {
  // `-o -` is a tar of the root filesystem on stdout, as buildx has it.
  if (spec === '-') return { output: { type: 'tar', dest: '-' }, tags: [], push: false };
  if (!spec.includes('=')) return { output: { type: 'local', dest: spec }, tags: [], push: false };
  return parseOutputFields(csvFields(spec), 'local', what);
}

/**
 * An output given as fields (a bake `output` entry, or a parsed `-o`); `type` defaults to `defaultType` (bake's is
 * image, the CLI's local). An OCI output is a tar unless `tar=false`, as buildx writes it.
 */
export function parseOutputFields(f: Record<string, string>, defaultType: string, what: string): ParsedOutput {
  const type = f.type ?? defaultType;
  const allowed = OUTPUT_KEYS[type];
  if (!allowed) throw new InputError(`${what}: type must be one of ${Object.keys(OUTPUT_KEYS).join(', ')}, not "${type}"`);
  for (const k of Object.keys(f)) if (k !== 'type' && !allowed.includes(k)) throw new InputError(`${what}: "${k}" is not supported for type=${type}`);
  const tags = (f.name ?? '').split(/[,\s]+/).filter(Boolean);
  if (type === 'image' || type === 'registry') return { tags, push: type === 'registry' || bool(f.push, `${what} push`) };
  // docker without dest loads the image into the daemon: here, the local store has it already.
  if (type === 'docker' && !f.dest) return { tags, push: false };
  if (!f.dest) throw new InputError(`${what}: dest=... is required for type=${type}`);
  if (type === 'local' && f.dest === '-') throw new InputError(`${what}: a local output cannot go to stdout (use type=tar,dest=-)`);
  switch (type) {
    case 'oci':
      return { output: { type: 'oci', dest: f.dest, tar: f.tar === undefined || bool(f.tar, `${what} tar`) }, tags, push: false };
    case 'docker':
      return { output: { type: 'docker', dest: f.dest }, tags, push: false };
    case 'tar':
      return { output: { type: 'tar', dest: f.dest }, tags, push: false };
    default:
      return { output: { type: 'local', dest: f.dest }, tags, push: false };
  }
}

const CACHE_KEYS: Record<'from' | 'to', Record<string, string[]>> = {
  from: { registry: ['ref'], local: ['src'] },
  to: { registry: ['ref', 'mode'], local: ['dest', 'mode'] },
};

/**
 * `--cache-from`/`--cache-to`: `type=registry,ref=REF[,mode=min|max]` or `type=local,src=DIR|dest=DIR[,mode=…]`; a
 * bare `REF` is a registry cache, as buildx reads it. Another type or key is refused by name.
 */
export function parseCacheSpec(spec: string, direction: 'from' | 'to', what = `--cache-${direction} ${spec}`): CacheSpec {
  if (!spec.includes('=')) return parseCacheFields({ type: 'registry', ref: spec }, direction, what);
  return parseCacheFields(csvFields(spec), direction, what);
}

/** A cache given as fields (a bake `cache-from`/`cache-to` entry, or a parsed flag). */
export function parseCacheFields(f: Record<string, string>, direction: 'from' | 'to', what: string): CacheSpec {
  const type = f.type ?? 'registry';
  const allowed = CACHE_KEYS[direction][type];
  if (!allowed) throw new InputError(`${what}: cache type must be registry or local, not "${type}"`);
  const unknown = Object.keys(f).filter((k) => k !== 'type' && !allowed.includes(k));
  if (unknown.length) throw new InputError(`${what}: ${unknown.map((k) => `"${k}"`).join(', ')} not supported for type=${type} (${allowed.join(', ')})`);
  if (f.mode !== undefined && f.mode !== 'min' && f.mode !== 'max') throw new InputError(`${what}: mode must be min or max, not "${f.mode}"`);
  const mode = f.mode as 'min' | 'max' | undefined;
  if (type === 'registry') {
    if (!f.ref) throw new InputError(`${what}: ref=REGISTRY/REPOSITORY:TAG is required for type=registry`);
    return { type, ref: f.ref, ...(mode ? { mode } : {}) };
  }
  const dir = direction === 'from' ? f.src : f.dest;
  if (!dir) throw new InputError(`${what}: ${direction === 'from' ? 'src' : 'dest'}=DIR is required for type=local`);
  return { type: 'local', dir, ...(mode ? { mode } : {}) };
}

/** NAME=SOURCE for --build-context. */
export function parseBuildContext(spec: string): [string, ContextSource] {
  const i = spec.indexOf('=');
  if (i <= 0) throw new InputError(`--build-context ${spec}: expected NAME=SOURCE`);
  const name = spec.slice(0, i);
  return [name, parseContextSource(spec.slice(i + 1), `--build-context ${name}`)];
}

/** A directory, `oci-layout://DIR[:TAG|@DIGEST]`, or `docker-image://REF`. */
export function parseContextSource(src: string, what: string): ContextSource {
  if (src.startsWith('docker-image://')) {
    const ref = src.slice('docker-image://'.length);
    if (!ref) throw new InputError(`${what}: docker-image:// needs an image reference`);
    return { kind: 'docker-image', ref };
  }
  if (src.startsWith('oci-layout://')) {
    const rest = src.slice('oci-layout://'.length);
    // DIR@sha256:<hex> names a manifest by digest; the ':' inside it is not a tag's.
    const at = rest.lastIndexOf('@');
    if (at > rest.lastIndexOf('/')) return { kind: 'oci-layout', path: rest.slice(0, at), ref: rest.slice(at + 1) };
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) return { kind: 'oci-layout', path: rest.slice(0, colon), ref: rest.slice(colon + 1) };
    if (!rest) throw new InputError(`${what}: oci-layout:// needs a directory`);
    return { kind: 'oci-layout', path: rest };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(src)) throw new InputError(`${what}: unsupported source ${src} (use a directory, oci-layout:// or docker-image://)`);
  return { kind: 'local', path: src };
}

export function parsePlatforms(spec: string, what = '--platform'): Platform {
  const list = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length !== 1) throw new InputError(`${what} ${spec}: one platform per build (several as one image index are not built yet)`);
  return parsePlatform(list[0]!, what);
}

/** SOURCE_DATE_EPOCH: whole seconds since 1970, or unset/empty. */
export function parseSourceDateEpoch(value: string | undefined, what = 'SOURCE_DATE_EPOCH'): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw new InputError(`${what} must be a number of seconds, not "${value}"`);
  return Number(value);
}

/** A --secret as written: a file, an environment variable, or (neither given) decided by `secretSource`. */
export interface SecretSpec {
  id: string;
  src?: string;
  env?: string;
}

/** `id=ID[,src=FILE|,env=VAR][,type=file|env]`, as buildx reads --secret; `env=VAR` alone is the secret VAR. */
export function parseSecret(spec: string): SecretSpec {
  const f = csvFields(spec);
  for (const k of Object.keys(f)) if (!['id', 'src', 'source', 'env', 'type'].includes(k)) throw new InputError(`--secret ${spec}: "${k}" is not supported (id=ID,src=FILE or id=ID,env=VAR)`);
  if (f.type !== undefined && f.type !== 'file' && f.type !== 'env') throw new InputError(`--secret ${spec}: type must be file or env`);
  let src = f.src ?? f.source;
  let env = f.env;
  if (f.type === 'env' && env === undefined) [env, src] = [src, undefined];
  if (src !== undefined && env !== undefined) throw new InputError(`--secret ${spec}: give src= or env=, not both`);
  const id = f.id ?? env ?? '';
  if (!id) throw new InputError(`--secret ${spec}: expected id=ID[,src=FILE|,env=VAR]`);
  return { id, ...(src !== undefined ? { src } : {}), ...(env !== undefined ? { env } : {}) };
}

/**
 * Where a secret's value comes from. As buildx: one naming neither file nor variable is the variable of its id when
 * that is set, else the file of that name; an unset variable gives no secret (the RUN that needs it fails).
 */
export function secretSource(s: SecretSpec, env: NodeJS.ProcessEnv = process.env): { file: string } | { value: string } | undefined {
  if (s.src !== undefined) return { file: s.src };
  const name = s.env ?? (env[s.id] !== undefined ? s.id : undefined);
  if (name === undefined) return { file: s.id };
  const value = env[name];
  return value === undefined ? undefined : { value };
}

/** `default`, `ID` or `ID=SOCKET` for --ssh: an agent socket per id (SSH_AUTH_SOCK when none is named). */
export function parseSsh(spec: string, env: NodeJS.ProcessEnv = process.env): [string, string] {
  const i = spec.indexOf('=');
  const id = i < 0 ? spec : spec.slice(0, i);
  if (!id) throw new InputError(`--ssh ${spec}: expected default, ID or ID=SOCKET`);
  const paths = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  if (paths.length > 1) throw new InputError(`--ssh ${spec}: one agent socket per id (key files are not supported)`);
  const sock = paths[0] ?? env.SSH_AUTH_SOCK;
  if (!sock) throw new InputError(`--ssh ${spec}: SSH_AUTH_SOCK is not set; name the agent socket as ${id}=SOCKET`);
  return [id, sock];
}

/** `HOST:IP` or `HOST=IP` for --add-host (`=` lets an IPv6 address keep its colons). */
export function parseAddHost(spec: string, isIP: (s: string) => boolean): { host: string; ip: string } {
  const eq = spec.indexOf('=');
  const i = eq >= 0 ? eq : spec.indexOf(':');
  const host = i < 0 ? '' : spec.slice(0, i);
  const ip = i < 0 ? '' : spec.slice(i + 1).replace(/^\[(.*)\]$/, '$1');
  if (!host || !/^[A-Za-z0-9_.-]+$/.test(host)) throw new InputError(`--add-host ${spec}: expected HOST:IP`);
  if (ip === 'host-gateway') throw new InputError(`--add-host ${spec}: host-gateway is not supported (no daemon gateway; give the address)`);
  if (!isIP(ip)) throw new InputError(`--add-host ${spec}: "${ip}" is not an IP address`);
  return { host, ip };
}

/** `KEY=VALUE` or `manifest:KEY=VALUE` for --annotation: the image manifest's annotations (there is no index yet). */
export function parseAnnotation(spec: string): [string, string] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new InputError(`--annotation ${spec}: expected KEY=VALUE`);
  let key = spec.slice(0, eq);
  const colon = key.indexOf(':');
  const kind = colon < 0 ? '' : key.slice(0, colon);
  if (/^(manifest|index|manifest-descriptor|index-descriptor)(\[.*\])?$/.test(kind)) {
    if (kind !== 'manifest') throw new InputError(`--annotation ${spec}: only manifest annotations are supported (a single-platform build writes no index)`);
    key = key.slice(colon + 1);
  }
  if (!key) throw new InputError(`--annotation ${spec}: expected KEY=VALUE`);
  return [key, spec.slice(eq + 1)];
}

export const ENTITLEMENTS = ['network.host', 'security.insecure'];

/** `--allow network.host|security.insecure`: what RUN may ask for with --network=host and --security=insecure. */
export function parseEntitlement(spec: string): string {
  if (!ENTITLEMENTS.includes(spec)) throw new InputError(`--allow ${spec}: expected one of ${ENTITLEMENTS.join(', ')}`);
  return spec;
}
