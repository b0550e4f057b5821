import { InputError } from '../util/errors.js';
import type { ContextSource, OutputSpec, Platform } from '../solver/types.js';

/** commander helper: repeatable options collect into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `K=V` pairs; a bare `K` takes its value from the environment, as docker does for --build-arg. */
export function keyValues(list: string[] = [], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i === 0) throw new InputError(`${what}: "${item}" has no name`);
    if (i < 0) {
      const v = process.env[item];
      if (v !== undefined) out[item] = v;
      continue;
    }
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** Comma-separated `k=v` fields (--output, --secret). */
export function csvFields(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const i = part.indexOf('=');
    if (i < 0) out[part] = 'true';
    else out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

export function parseOutput(spec: string): OutputSpec {
  if (!spec.includes('=')) return { type: 'local', dest: spec };
  const f = csvFields(spec);
  const type = f.type ?? 'local';
  if (type === 'image' || type === 'registry') return { type: 'image' };
  if (!f.dest) throw new InputError(`--output ${spec}: dest=... is required for type=${type}`);
  switch (type) {
    case 'oci':
      return { type: 'oci', dest: f.dest, tar: f.tar === 'true' };
    case 'docker':
      return { type: 'docker', dest: f.dest };
    case 'local':
      return { type: 'local', dest: f.dest };
    default:
      throw new InputError(`--output ${spec}: type must be oci, docker, local or image`);
  }
}

/** NAME=SOURCE for --build-context: a directory, oci-layout://DIR[:TAG], or docker-image://REF. */
export function parseBuildContext(spec: string): [string, ContextSource] {
  const i = spec.indexOf('=');
  if (i <= 0) throw new InputError(`--build-context ${spec}: expected NAME=SOURCE`);
  const name = spec.slice(0, i);
  return [name, parseContextSource(spec.slice(i + 1), `--build-context ${name}`)];
}

export function parseContextSource(src: string, what: string): ContextSource {
  if (src.startsWith('docker-image://')) {
    const ref = src.slice('docker-image://'.length);
    if (!ref) throw new InputError(`${what}: docker-image:// needs an image reference`);
    return { kind: 'docker-image', ref };
  }
  if (src.startsWith('oci-layout://')) {
    const rest = src.slice('oci-layout://'.length);
    const at = rest.lastIndexOf('@');
    const colon = rest.lastIndexOf(':');
    if (at > rest.lastIndexOf('/')) return { kind: 'oci-layout', path: rest.slice(0, at), ref: rest.slice(at + 1) };
    if (colon > rest.lastIndexOf('/')) return { kind: 'oci-layout', path: rest.slice(0, colon), ref: rest.slice(colon + 1) };
    return { kind: 'oci-layout', path: rest };
  }
  if (/^[a-z]+:\/\//.test(src)) throw new InputError(`${what}: unsupported source ${src} (use a directory, oci-layout:// or docker-image://)`);
  return { kind: 'local', path: src };
}

export function parsePlatformFlag(p: string): Platform {
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture) throw new InputError(`--platform ${p}: expected OS/ARCH[/VARIANT], e.g. linux/amd64`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}
