/**
 * A resolved target → the engine's BuildOptions. An attribute the engine cannot honour is refused
 * here, naming it, rather than dropped: --print shows every attribute, a build takes only what
 * it can do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError, SourceError } from '../util/errors.js';
import type { BuildOptions, CacheSpec, ContextSource, OutputSpec } from '../solver/types.js';
import { parseCacheFields, parseContextSource, parseOutputFields, parseSourceDateEpoch, type ParsedOutput } from '../solver/request.js';
import { parsePlatform } from '../util/platform.js';
import type { FromEdge } from './infer.js';
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
  /** Images a target's Dockerfile uses that another target of the bake tags (infer.ts). */
  fromDeps?: Record<string, FromEdge[]>;
}

/** The reference dependents use for a dependency's image: its first tag, else an internal one. */
export function imageRefFor(name: string, t: TargetDef, runId: string, linked = false): string {
  return (!linked && t.tags?.[0]) || internalTag(name, runId);
}

export function internalTag(name: string, runId: string): string {
  return `localhost/bake/${name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}:${runId.toLowerCase().replace(/[^a-z0-9_.-]/g, '-')}`;
}

export { parsePlatform };

const REMOTE = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/|github\.com\/)/;

/** Attributes --print shows that the engine has no way to carry out. */
function refuseUnsupported(t: TargetDef, fail: (msg: string) => never): void {
  const refuse = (attr: string, why: string) => fail(`attribute "${attr}" is not supported by the stratum engine (${why}); remove it or build with docker buildx`);
  if (t.annotations?.length) refuse('annotations', 'no OCI annotations are written');
  if (t.attest?.length) refuse('attest', 'no SBOM or provenance attestations');
  if (t.ssh?.length) refuse('ssh', 'no SSH agent forwarding');
  if (t.pull) refuse('pull', 'FROM images are pulled only when missing from the store');
  if (t.network !== undefined && t.network !== 'default') refuse('network', 'set the network per RUN with --network');
  if (t['shm-size'] !== undefined) refuse('shm-size', '/dev/shm size is not configurable');
  if (t.ulimits?.length) refuse('ulimits', 'no ulimits for RUN');
  if (t.resources) refuse('resources', 'no cgroup limits for RUN');
  if (t.call !== undefined && t.call !== 'build') refuse('call', 'only "build"');
  if (t.entitlements?.length) refuse('entitlements', 'no entitlements to grant');
  if (t['extra-hosts'] && Object.keys(t['extra-hosts']).length) refuse('extra-hosts', 'RUN uses the host\'s /etc/hosts');
  if ((t.platforms?.length ?? 0) > 1) refuse('platforms', `one platform per build, got ${t.platforms!.join(', ')}`);
}


export function planTarget(def: BakeDefinition, name: string, ctx: PlanContext): BuildOptions {
  const t = def.targets[name]!;
  const src = def.sources[name];
  const fail = (msg: string): never => {
    throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `target "${name}": ${msg}`);
  };
  refuseUnsupported(t, fail);
  const local = (p: string) => path.resolve(ctx.cwd, p.startsWith('cwd://') ? p.slice('cwd://'.length) : p);
  const linked = def.linked.includes(name);

  const contextValue = t.context ?? '.';
  if (REMOTE.test(contextValue)) fail(`remote build contexts are not supported yet: ${contextValue}`);
  const context = local(contextValue);
  if (!fs.existsSync(context) || !fs.statSync(context).isDirectory()) fail(`context directory ${contextValue} does not exist (${context})`);

  const opts: BuildOptions = { context };
  if (t['dockerfile-inline'] !== undefined) opts.dockerfileInline = t['dockerfile-inline'];
  else {
    const dfName = t.dockerfile ?? 'Dockerfile';
    const df = dfName.startsWith('cwd://') ? local(dfName) : path.resolve(context, dfName);
    if (!fs.existsSync(df)) fail(`Dockerfile ${dfName} not found (${df})`);
    opts.dockerfile = df;
  }

  const epoch = parseSourceDateEpoch(t.args?.SOURCE_DATE_EPOCH ?? ctx.env.SOURCE_DATE_EPOCH);
  if (epoch !== undefined) opts.sourceDateEpoch = epoch;

  // a target built only as another's context is kept under an internal name, not its tags
  const tags = linked ? [] : [...(t.tags ?? [])];
  if (ctx.needed.has(name) && (linked || !tags.length)) tags.push(internalTag(name, ctx.runId));
  if (tags.length) opts.tags = tags;
  if (t.args && Object.keys(t.args).length) opts.buildArgs = { ...t.args };
  if (t.labels && Object.keys(t.labels).length) opts.labels = { ...t.labels };
  if (t.target) opts.target = t.target;
  if (t.platforms?.length) opts.platform = parsePlatform(t.platforms[0]!, 'platforms');
  if (t['no-cache'] || ctx.noCache) opts.noCache = true;
  if (t['no-cache-filter']?.length) opts.noCacheFilter = [...t['no-cache-filter']];

  const contexts: Record<string, ContextSource> = {};
  for (const [k, v] of Object.entries(t.contexts ?? {})) {
    if (v.startsWith('target:')) {
      const dep = v.slice('target:'.length);
      const dt = def.targets[dep];
      if (!dt) fail(`context "${k}" refers to unknown target "${dep}"`);
      contexts[k] = { kind: 'docker-image', ref: imageRefFor(dep, dt!, ctx.runId, def.linked.includes(dep)) };
    } else if (REMOTE.test(v)) fail(`context "${k}": remote contexts are not supported yet: ${v}`);
    else {
      // The same reading as --build-context; bake resolves paths against its working directory.
      const c = parseContextSource(v.startsWith('cwd://') ? v.slice('cwd://'.length) : v, `context "${k}"`);
      if (c.kind === 'docker-image') contexts[k] = c;
      else {
        const p = local(c.path);
        if (!fs.existsSync(p)) fail(`context "${k}": ${c.kind === 'oci-layout' ? 'OCI layout' : 'directory'} ${c.path} does not exist (${p})`);
        contexts[k] = { ...c, path: p };
      }
    }
  }
  // the image the dependency has just built, not whatever the store or a registry had under its tag
  for (const e of ctx.fromDeps?.[name] ?? []) contexts[e.ref] ??= { kind: 'docker-image', ref: imageRefFor(e.dep, def.targets[e.dep]!, ctx.runId, def.linked.includes(e.dep)) };
  if (Object.keys(contexts).length) opts.contexts = contexts;

  const outputs: OutputSpec[] = [];
  // --push pushes what has tags (an untagged intermediate stays local); an output asking to push needs tags
  let push = false;
  for (const o of t.output ?? []) {
    // cacheonly: a target built only as another's context; the local store has it, nothing else is written
    if ((o.type ?? 'image') === 'cacheonly') {
      for (const k of Object.keys(o)) if (k !== 'type') fail(`output type=cacheonly: attribute "${k}" is not supported by the stratum engine`);
      continue;
    }
    let parsed: ParsedOutput;
    try {
      parsed = parseOutputFields(o, 'image', `output type=${o.type ?? 'image'}`);
    } catch (e) {
      if (e instanceof InputError) fail(e.message);
      throw e;
    }
    if (parsed!.push) push = true;
    if (parsed!.tags.length) fail(`output type=${o.type ?? 'image'}: "name" is not supported in bake (use tags)`);
    if (parsed!.output) outputs.push('dest' in parsed!.output ? { ...parsed!.output, dest: local(parsed!.output.dest) } : parsed!.output);
  }
  if (outputs.length) opts.outputs = outputs;
  // Read as --cache-from/--cache-to are; a local cache directory is relative to bake's working directory.
  for (const [attr, direction] of [['cache-from', 'from'], ['cache-to', 'to']] as const) {
    const specs: CacheSpec[] = [];
    for (const c of t[attr] ?? []) {
      let spec: CacheSpec;
      try {
        spec = parseCacheFields(c, direction, `${attr} type=${c.type ?? 'registry'}`);
      } catch (e) {
        if (e instanceof InputError) fail(e.message);
        throw e;
      }
      specs.push(spec!.type === 'local' ? { ...spec!, dir: local(spec!.dir) } : spec!);
    }
    if (specs.length) opts[direction === 'from' ? 'cacheFrom' : 'cacheTo'] = specs;
  }
  if (push && !t.tags?.length) fail('an output with push needs at least one tag');
  if (!linked && (push || (ctx.push && t.tags?.length))) opts.push = true;

  const secrets: Record<string, string> = {};
  for (const s of t.secret ?? []) {
    const id = s.id ?? fail('secret without id');
    // as buildx: a secret naming neither file nor env is the env variable of its id if set, else a file of that name
    const env = s.env ?? (!s.src && ctx.env[id!] !== undefined ? id : undefined);
    if (env !== undefined) {
      const val = ctx.env[env];
      if (val === undefined) continue; // buildx skips an unset env secret; the RUN that needs it fails
      const dir = path.join(ctx.runDir, 'secrets');
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const f = path.join(dir, `${name}-${id}`.replace(/[^A-Za-z0-9_.-]/g, '_'));
      fs.writeFileSync(f, val, { mode: 0o600 });
      secrets[id!] = f;
    } else secrets[id!] = local((s.src ?? id!).replace(/^~(?=\/)/, ctx.env.HOME ?? '~'));
  }
  if (Object.keys(secrets).length) opts.secrets = secrets;
  return opts;
}
