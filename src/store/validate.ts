/**
 * Shape checks for the JSON documents an image is made of. Manifests, indexes and configs come from registries,
 * OCI layouts and tarballs that anyone can write; everything past this point trusts their types, so a document
 * that does not match the image spec is refused here with the field that is wrong, never half-used.
 */
import { InputError } from '../util/errors.js';
import type { ContainerConfig, ImageConfig, Index, Manifest } from './types.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  constructor(readonly what: string) {}

  fail(field: string, why: string): never {
    throw new InputError(`${this.what}: ${field} ${why}`);
  }

  object(v: unknown, field: string): Obj {
    if (!isObject(v)) this.fail(field, `is ${describe(v)}, not an object`);
    return v;
  }

  string(v: unknown, field: string, optional = false): void {
    if (v === undefined && optional) return;
    if (typeof v !== 'string') this.fail(field, `is ${describe(v)}, not a string`);
  }

  strings(v: unknown, field: string, opts: { optional?: boolean; nullable?: boolean } = {}): void {
    if ((v === undefined && opts.optional) || (v === null && opts.nullable)) return;
    this.list(v, field).forEach((x, i) => this.string(x, `${field}[${i}]`));
  }

  stringMap(v: unknown, field: string): void {
    if (v === undefined || v === null) return;
    const o = this.object(v, field);
    for (const [k, x] of Object.entries(o)) this.string(x, `${field}[${JSON.stringify(k)}]`);
  }

  list(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, `is ${describe(v)}, not a list`);
    return v;
  }

  set(v: unknown, field: string): void {
    if (v === undefined || v === null) return;
    this.object(v, field);
  }

  digest(v: unknown, field: string): void {
    this.string(v, field);
    if (!DIGEST.test(v as string)) this.fail(field, `${JSON.stringify(v)} is not a sha256 digest`);
  }

  descriptor(v: unknown, field: string): void {
    const d = this.object(v, field);
    this.string(d.mediaType, `${field}.mediaType`, true);
    this.digest(d.digest, `${field}.digest`);
    if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) this.fail(`${field}.size`, `is ${describe(d.size)}, not a byte count`);
    this.stringMap(d.annotations, `${field}.annotations`);
    if (d.platform !== undefined) {
      const p = this.object(d.platform, `${field}.platform`);
      this.string(p.os, `${field}.platform.os`);
      this.string(p.architecture, `${field}.platform.architecture`);
      this.string(p.variant, `${field}.platform.variant`, true);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (v === undefined) return 'missing';
  return `${typeof v} ${JSON.stringify(v)}`.slice(0, 60);
}

export function checkManifest(doc: unknown, what: string): Manifest {
  const c = new Checker(what);
  const m = c.object(doc, 'the manifest');
  c.descriptor(m.config, 'config');
  c.list(m.layers, 'layers').forEach((l, i) => c.descriptor(l, `layers[${i}]`));
  return m as unknown as Manifest;
}

export function checkIndex(doc: unknown, what: string): Index {
  const c = new Checker(what);
  const idx = c.object(doc, 'the index');
  c.list(idx.manifests, 'manifests').forEach((d, i) => c.descriptor(d, `manifests[${i}]`));
  return idx as unknown as Index;
}

export function checkImageConfig(doc: unknown, what: string): ImageConfig {
  const c = new Checker(what);
  const cfg = c.object(doc, 'the config');
  c.string(cfg.architecture, 'architecture');
  c.string(cfg.os, 'os');
  c.string(cfg.created, 'created', true);
  const rootfs = c.object(cfg.rootfs, 'rootfs');
  if (rootfs.type !== 'layers') c.fail('rootfs.type', `is ${describe(rootfs.type)}, not "layers"`);
  c.list(rootfs.diff_ids, 'rootfs.diff_ids').forEach((d, i) => c.digest(d, `rootfs.diff_ids[${i}]`));
  if (cfg.config !== undefined && cfg.config !== null) checkContainerConfig(c, c.object(cfg.config, 'config'));
  if (cfg.history !== undefined && cfg.history !== null) {
    c.list(cfg.history, 'history').forEach((h, i) => {
      const e = c.object(h, `history[${i}]`);
      for (const k of ['created', 'created_by', 'author', 'comment']) c.string(e[k], `history[${i}].${k}`, true);
      if (e.empty_layer !== undefined && typeof e.empty_layer !== 'boolean') c.fail(`history[${i}].empty_layer`, 'is not true or false');
    });
  }
  return cfg as unknown as ImageConfig;
}

function checkContainerConfig(c: Checker, cc: Obj): ContainerConfig {
  for (const k of ['User', 'WorkingDir', 'StopSignal']) c.string(cc[k], `config.${k}`, true);
  for (const k of ['Env', 'OnBuild', 'Shell']) c.strings(cc[k], `config.${k}`, { optional: true, nullable: true });
  for (const k of ['Entrypoint', 'Cmd']) c.strings(cc[k], `config.${k}`, { optional: true, nullable: true });
  c.stringMap(cc.Labels, 'config.Labels');
  c.set(cc.ExposedPorts, 'config.ExposedPorts');
  c.set(cc.Volumes, 'config.Volumes');
  if (cc.Healthcheck !== undefined && cc.Healthcheck !== null) {
    const h = c.object(cc.Healthcheck, 'config.Healthcheck');
    c.strings(h.Test, 'config.Healthcheck.Test', { optional: true, nullable: true });
  }
  return cc as ContainerConfig;
}
