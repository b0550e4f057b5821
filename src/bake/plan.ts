/** A resolved target → the engine's BuildOptions. */
import fs from 'node:fs';
import path from 'node:path';
import { InputError, SourceError } from '../util/errors.js';
import type { BuildOptions, ContextSource, OutputSpec, Platform } from '../solver/types.js';
import { withDefaults } from './resolve.js';
import type { BakeDefinition, TargetDef } from './types.js';

export interface PlanContext {
  cwd: string;
  runId: string;
  /** Directory for files the run creates (secrets given as env). */
  runDir: string;
  env: Record<string, string | undefined>;
  push?: boolean;
  noCache?: boolean;
  /** Targets other targets depend on (they get an internal tag so dependents can find them). */
  needed: Set<string>;
}

/** The reference dependents use for a dependency's image: its first tag, else an internal one. */
export function imageRefFor(name: string, t: TargetDef, runId: string): string {
  return t.tags?.[0] ?? internalTag(name, runId);
}

export function internalTag(name: string, runId: string): string {
  return `localhost/bake/${name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}:${runId.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}`;
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture) throw new InputError(`bad platform "${s}" (expected os/arch[/variant])`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

const REMOTE = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

export function planTarget(def: BakeDefinition, name: string, ctx: PlanContext): BuildOptions {
  const t = withDefaults(def.targets[name]!);
  const src = def.sources[name];
  const fail = (msg: string): never => {
    throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `target "${name}": ${msg}`);
  };
  const local = (p: string) => path.resolve(ctx.cwd, p.startsWith('cwd://') ? p.slice('cwd://'.length) : p);

  const contextValue = t.context!;
  if (REMOTE.test(contextValue)) fail(`remote build contexts are not supported yet: ${contextValue}`);
  const context = local(contextValue);
  if (!fs.existsSync(context) || !fs.statSync(context).isDirectory()) fail(`context directory ${contextValue} does not exist (${context})`);

  const opts: BuildOptions = { context };
  if (t['dockerfile-inline'] !== undefined) opts.dockerfileInline = t['dockerfile-inline'];
  else {
    const df = path.resolve(context, t.dockerfile!);
    if (!fs.existsSync(df)) fail(`Dockerfile ${t.dockerfile} not found (${df})`);
    opts.dockerfile = df;
  }

  const epoch = ctx.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch)) throw new InputError(`SOURCE_DATE_EPOCH must be a number of seconds, not "${epoch}"`);
    opts.sourceDateEpoch = Number(epoch);
  }

  const tags = [...(t.tags ?? [])];
  if (ctx.needed.has(name) && !tags.length) tags.push(internalTag(name, ctx.runId));
  if (tags.length) opts.tags = tags;
  if (t.args && Object.keys(t.args).length) opts.buildArgs = { ...t.args };
  if (t.labels && Object.keys(t.labels).length) opts.labels = { ...t.labels };
  if (t.target) opts.target = t.target;
  if (t.platforms?.length) opts.platform = parsePlatform(t.platforms[0]!);
  if (t['no-cache'] || ctx.noCache) opts.noCache = true;
  if (t['no-cache-filter']?.length) opts.noCacheFilter = [...t['no-cache-filter']];

  const contexts: Record<string, ContextSource> = {};
  for (const [k, v] of Object.entries(t.contexts ?? {})) {
    if (v.startsWith('target:')) {
      const dep = v.slice('target:'.length);
      const dt = def.targets[dep];
      if (!dt) fail(`context "${k}" refers to unknown target "${dep}"`);
      contexts[k] = { kind: 'docker-image', ref: imageRefFor(dep, dt!, ctx.runId) };
    } else if (v.startsWith('docker-image://')) contexts[k] = { kind: 'docker-image', ref: v.slice('docker-image://'.length) };
    else if (v.startsWith('oci-layout://')) {
      const rest = v.slice('oci-layout://'.length);
      const m = /^(.*?)(?:([:@])([^/:@]+))?$/.exec(rest)!;
      const p = local(m[1]!);
      if (!fs.existsSync(p)) fail(`context "${k}": OCI layout ${m[1]} does not exist`);
      contexts[k] = m[3] ? { kind: 'oci-layout', path: p, ref: m[2] === '@' ? m[3] : m[3] } : { kind: 'oci-layout', path: p };
    } else if (REMOTE.test(v)) fail(`context "${k}": remote contexts are not supported yet: ${v}`);
    else {
      const p = local(v);
      if (!fs.existsSync(p)) fail(`context "${k}": directory ${v} does not exist (${p})`);
      contexts[k] = { kind: 'local', path: p };
    }
  }
  if (Object.keys(contexts).length) opts.contexts = contexts;

  const outputs: OutputSpec[] = [];
  // --push pushes what has tags (an untagged intermediate stays local); an output asking to push needs tags
  let push = false;
  for (const o of t.output ?? []) {
    const type = o.type ?? 'image';
    const dest = o.dest ? local(o.dest) : undefined;
    switch (type) {
      case 'image':
      case 'registry':
        // the local store always gets the image
        if (type === 'registry' || o.push === 'true') push = true;
        break;
      case 'docker':
        if (dest) outputs.push({ type: 'docker', dest });
        break;
      case 'oci':
        if (!dest) fail('output type=oci needs dest=');
        outputs.push({ type: 'oci', dest: dest!, tar: o.tar !== 'false' });
        break;
      case 'local':
        if (!dest) fail('output type=local needs dest=');
        outputs.push({ type: 'local', dest: dest! });
        break;
      case 'cacheonly':
        break;
      default:
        fail(`output type "${type}" is not supported (image, registry, docker, oci, local, cacheonly)`);
    }
  }
  if (outputs.length) opts.outputs = outputs;
  if (push && !t.tags?.length) fail('an output with push needs at least one tag');
  if (push || (ctx.push && t.tags?.length)) opts.push = true;

  const secrets: Record<string, string> = {};
  for (const s of t.secret ?? []) {
    const id = s.id ?? fail('secret without id');
    const type = s.type ?? (s.env ? 'env' : 'file');
    if (type === 'env') {
      const val = ctx.env[s.env ?? id];
      if (val === undefined) continue; // buildx skips an unset env secret; the RUN that needs it fails
      const dir = path.join(ctx.runDir, 'secrets');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const f = path.join(dir, `${name}-${id}`.replace(/[^A-Za-z0-9_.-]/g, '_'));
      fs.writeFileSync(f, val, { mode: 0o600 });
      secrets[id] = f;
    } else {
      const p = s.src ?? s.source ?? fail(`secret "${id}" needs src=`);
      secrets[id] = local(p!.replace(/^~(?=\/)/, ctx.env.HOME ?? '~'));
    }
  }
  if (Object.keys(secrets).length) opts.secrets = secrets;
  return opts;
}
