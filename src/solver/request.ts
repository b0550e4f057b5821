/**
 * From what a user writes to the engine's request: outputs, named contexts, platforms, secrets, the epoch. The one
 * parser behind every front door (`stratum build` flags, bake attributes, `stratum bootstrap`, the library), so a
 * spec means the same thing wherever it is written.
 */
import { InputError } from '../util/errors.js';
import { parsePlatform, type Platform } from '../util/platform.js';
import type { ContextSource, OutputSpec } from './types.js';

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

/** Comma-separated `k=v` fields (--output, --secret); a field without `=` is `k=true`. */
export function csvFields(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
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

/** `id=ID,src=FILE` (or `source=`) for --secret: a file RUN --mount=type=secret shows. */
export function parseSecret(spec: string): [string, string] {
  const f = csvFields(spec);
  for (const k of Object.keys(f)) if (!['id', 'src', 'source', 'type'].includes(k)) throw new InputError(`--secret ${spec}: "${k}" is not supported (id=ID,src=FILE)`);
  if (f.type !== undefined && f.type !== 'file') throw new InputError(`--secret ${spec}: only type=file secrets are supported`);
  const id = f.id;
  const src = f.src ?? f.source;
  if (!id || !src) throw new InputError(`--secret ${spec}: expected id=ID,src=FILE`);
  return [id, src];
}
