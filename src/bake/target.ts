/**
 * A bake target as buildx models it: decoded from the evaluated attributes of one block,
 * merged with other blocks of the same name and with its parents, normalized, and shown by
 * --print. Unset and empty differ (`tags = []` clears inherited tags), so unset fields are
 * absent rather than empty.
 */
import { ExprError, toStr, typeName, type Value } from './expr.js';
import {
  attestJson,
  attestsFromValue,
  cacheEq,
  cacheJson,
  cachesFromValue,
  dedupeById,
  exportEq,
  exportJson,
  exportsFromValue,
  normalizeAttests,
  removeDupes,
  resourcesFromValue,
  resourcesJson,
  secretJson,
  secretsFromValue,
  sshFromValues,
  sshJson,
  type Attest,
  type CacheEntry,
  type ExportEntry,
  type Resources,
  type Secret,
  type SshKey,
} from './entries.js';
import type { TargetDef } from './types.js';

export type NullableMap = Record<string, string | null>;

export interface Target {
  name: string;
  description?: string;
  inherits?: string[];
  annotations?: string[];
  attest?: Attest[];
  context?: string;
  contexts?: Record<string, string>;
  dockerfile?: string;
  'dockerfile-inline'?: string;
  args?: NullableMap;
  labels?: NullableMap;
  tags?: string[];
  'cache-from'?: CacheEntry[];
  'cache-to'?: CacheEntry[];
  target?: string;
  secret?: Secret[];
  ssh?: SshKey[];
  platforms?: string[];
  output?: ExportEntry[];
  pull?: boolean;
  'no-cache'?: boolean;
  network?: string;
  'no-cache-filter'?: string[];
  'shm-size'?: string;
  ulimits?: string[];
  resources?: Resources;
  call?: string;
  entitlements?: string[];
  'extra-hosts'?: NullableMap;
  /** Built only as another target's `target:` context (printed with a cacheonly output). */
  linked?: boolean;
  /** Where relative paths are rebased to with BUILDX_BAKE_FILE_RELATIVE_PATHS. */
  base: PathBase;
}

export interface PathBase {
  /** Directory of the file of the last block merged in, for a target without its own context. */
  defaultDir?: string;
  useDefault?: boolean;
  /** Directory of the file whose block set `context`. */
  contextDir?: string;
  /** `context = target.X.context`: the context is X's, and so is its base. */
  contextRef?: string;
  contextsDir: Record<string, string>;
}

type Kind = 'string' | 'bool' | 'strings' | 'map' | 'strmap' | 'attest' | 'cache' | 'output' | 'secret' | 'ssh' | 'resources';

/** Every attribute a target block takes, with the kind of value it holds. */
export const TARGET_ATTRS: Record<string, Kind> = {
  description: 'string',
  inherits: 'strings',
  annotations: 'strings',
  attest: 'attest',
  context: 'string',
  contexts: 'strmap',
  dockerfile: 'string',
  'dockerfile-inline': 'string',
  args: 'map',
  labels: 'map',
  tags: 'strings',
  'cache-from': 'cache',
  'cache-to': 'cache',
  target: 'string',
  secret: 'secret',
  ssh: 'ssh',
  platforms: 'strings',
  output: 'output',
  pull: 'bool',
  'no-cache': 'bool',
  network: 'string',
  'no-cache-filter': 'strings',
  'shm-size': 'string',
  ulimits: 'strings',
  resources: 'resources',
  call: 'string',
  entitlements: 'strings',
  'extra-hosts': 'map',
};

function primitive(v: Value, what: string): string {
  if (v !== null && typeof v === 'object') throw new ExprError(`${what}: a string is required, got ${typeName(v)}`);
  return toStr(v);
}

/** cty's string → bool conversion. */
export function boolOf(v: Value, what: string): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ExprError(`${what}: a bool is required, got ${typeName(v)} ${JSON.stringify(v)}`);
}

/** Decodes one evaluated attribute into its field; null leaves the field unset. */
export function decodeAttr(t: Target, key: string, v: Value): void {
  if (v === null) return;
  const kind = TARGET_ATTRS[key];
  const rec = t as unknown as Record<string, unknown>;
  switch (kind) {
    case 'string':
      rec[key] = primitive(v, key);
      return;
    case 'bool':
      rec[key] = boolOf(v, key);
      return;
    case 'strings':
      if (!Array.isArray(v)) throw new ExprError(`${key}: a list of strings is required, got ${typeName(v)}`);
      rec[key] = v.map((x) => {
        if (x === null) throw new ExprError(`${key}: list elements must not be null`);
        return primitive(x, key);
      });
      return;
    case 'map':
    case 'strmap': {
      if (typeof v !== 'object' || Array.isArray(v)) throw new ExprError(`${key}: a map is required, got ${typeName(v)}`);
      const m: NullableMap = {};
      for (const [k, x] of Object.entries(v)) {
        if (x === null && kind === 'strmap') throw new ExprError(`${key}: "${k}" must not be null`);
        m[k] = x === null ? null : primitive(x, `${key}.${k}`);
      }
      rec[key] = m;
      return;
    }
    case 'attest':
      t.attest = attestsFromValue(v);
      return;
    case 'cache':
      rec[key] = cachesFromValue(v);
      return;
    case 'output':
      t.output = exportsFromValue(v);
      return;
    case 'secret':
      t.secret = secretsFromValue(v);
      return;
    case 'ssh':
      t.ssh = sshFromValues(v);
      return;
    case 'resources':
      t.resources = resourcesFromValue(v);
      return;
  }
  throw new ExprError(`unsupported attribute "${key}"`);
}

/** What `target.NAME.ATTR` evaluates to: the decoded field as an HCL value (null when unset). */
export function attrValue(t: Target, key: string): Value {
  if (key === 'name') return t.name;
  if (key === 'description') return t.description ?? '';
  const rec = t as unknown as Record<string, unknown>;
  const v = rec[key];
  // an unset list of entries reads as an empty list, other unset attributes as null
  const kind = TARGET_ATTRS[key];
  if (v === undefined) return kind === 'attest' || kind === 'cache' || kind === 'output' || kind === 'secret' || kind === 'ssh' ? [] : null;
  switch (TARGET_ATTRS[key]) {
    case 'attest':
      return (v as Attest[]).map((a) => ({ ...a.attrs, type: a.type, ...(a.disabled ? { disabled: 'true' } : {}) }));
    case 'cache':
      return (v as CacheEntry[]).map((e) => ({ ...e.attrs, type: e.type }));
    case 'output':
      return (v as ExportEntry[]).map((e) => ({ ...e.attrs, type: e.type, dest: e.dest }));
    case 'secret':
      return (v as Secret[]).map((s) => ({ id: s.id, src: s.src, env: s.env }));
    case 'ssh':
      return (v as SshKey[]).map((s) => ({ id: s.id, paths: [...s.paths] }));
    case 'resources': {
      const r = v as Resources;
      return { memory: r.memory ?? null, 'memory-swap': r['memory-swap'] ?? null, 'cpu-shares': r['cpu-shares'] ?? null, 'cpu-period': r['cpu-period'] ?? null, 'cpu-quota': r['cpu-quota'] ?? null, 'cpuset-cpus': r['cpuset-cpus'] ?? null, 'cpuset-mems': r['cpuset-mems'] ?? null };
    }
  }
  return structuredClone(v) as Value;
}

export function newTarget(name: string): Target {
  return { name, base: { contextsDir: {} } };
}

const setIfNonNull = (into: NullableMap | undefined, from: NullableMap): NullableMap | undefined => {
  let out = into;
  for (const [k, v] of Object.entries(from)) {
    if (v === null) continue;
    out ??= {};
    out[k] = v;
  }
  return out;
};

const REPLACED = ['dockerfile', 'dockerfile-inline', 'tags', 'target', 'call', 'platforms', 'cache-to', 'output', 'pull', 'no-cache', 'network', 'shm-size'] as const;
const APPENDED = ['annotations', 'no-cache-filter', 'ulimits', 'entitlements'] as const;

/** Merges t2 onto t (a later block of the same name, or a child onto its parents), as buildx does. */
export function mergeTarget(t: Target, t2: Target): void {
  if (t2.base.defaultDir !== undefined) {
    t.base.defaultDir = t2.base.defaultDir;
    t.base.useDefault = t2.base.useDefault;
  }
  if (t2.context !== undefined) {
    t.context = t2.context;
    t.base.contextDir = t2.base.contextDir;
    t.base.contextRef = t2.base.contextRef;
  }
  for (const k of REPLACED) if (t2[k] !== undefined) (t as unknown as Record<string, unknown>)[k] = structuredClone(t2[k]);
  for (const k of APPENDED) if (t2[k] !== undefined) t[k] = [...(t[k] ?? []), ...t2[k]!];
  for (const [k, v] of Object.entries(t2.contexts ?? {})) {
    t.contexts = { ...(t.contexts ?? {}), [k]: v };
    const dir = t2.base.contextsDir[k];
    if (dir !== undefined) t.base.contextsDir[k] = dir;
    else delete t.base.contextsDir[k];
  }
  if (t2.args) t.args = setIfNonNull(t.args, t2.args);
  if (t2.labels) t.labels = setIfNonNull(t.labels, t2.labels);
  if (t2['extra-hosts']) t['extra-hosts'] = setIfNonNull(t['extra-hosts'], t2['extra-hosts']);
  if (t2.attest) t.attest = normalizeAttests([...(t.attest ?? []), ...t2.attest]);
  if (t2.secret) t.secret = dedupeById([...(t.secret ?? []), ...t2.secret]);
  if (t2.ssh) t.ssh = dedupeById([...(t.ssh ?? []), ...t2.ssh]);
  if (t2['cache-from']) t['cache-from'] = removeDupes([...(t['cache-from'] ?? []), ...t2['cache-from']], cacheEq);
  if (t2.resources) t.resources = { ...(t.resources ?? {}), ...t2.resources };
  if (t2.description) t.description = t2.description;
  if (t2.inherits) t.inherits = [...(t.inherits ?? []), ...t2.inherits];
  if (t2.linked) t.linked = true;
}

/** Drops empty strings and repeats, keeping the first. */
export function uniqueStrings(list: string[]): string[] {
  return [...new Set(list.filter((s) => s !== ''))];
}

/** What buildx does to a target once its parents and overrides are applied. */
export function normalizeTarget(t: Target): void {
  for (const k of ['annotations', 'tags', 'platforms', 'no-cache-filter', 'ulimits'] as const) if (t[k]) t[k] = uniqueStrings(t[k]!);
  if (t.attest) t.attest = normalizeAttests(t.attest);
  if (t.secret) t.secret = dedupeById(t.secret);
  if (t.ssh) t.ssh = dedupeById(t.ssh);
  if (t['cache-from']) t['cache-from'] = removeDupes(t['cache-from'], cacheEq);
  if (t['cache-to']) t['cache-to'] = removeDupes(t['cache-to'], cacheEq);
  if (t.output) t.output = removeDupes(t.output, exportEq);
  if (t.network === 'host') t.entitlements = [...(t.entitlements ?? []), 'network.host'];
  if (t.entitlements) t.entitlements = uniqueStrings(t.entitlements);
  if (t.contexts) {
    for (const [k, v] of Object.entries(t.contexts)) if (v === '') delete t.contexts[k];
    if (!Object.keys(t.contexts).length) delete t.contexts;
  }
}

const nonNull = (m: NullableMap): Record<string, string> => Object.fromEntries(Object.entries(m).filter((e): e is [string, string] => e[1] !== null));

/** The resolved target as --print shows it (before `${` is escaped) and as the scheduler builds it. */
export function toDef(t: Target): TargetDef {
  const d: TargetDef = {};
  const list = <T>(l: T[] | undefined) => (l && l.length ? l : undefined);
  const map = <T>(m: Record<string, T> | undefined) => (m && Object.keys(m).length ? m : undefined);
  const put = <K extends keyof TargetDef>(k: K, v: TargetDef[K] | undefined) => {
    if (v !== undefined) d[k] = v;
  };
  if (t.description) d.description = t.description;
  put('annotations', list(t.annotations));
  put('attest', list(t.attest?.map(attestJson)));
  put('context', t.context);
  put('contexts', map(t.contexts));
  put('dockerfile', t.dockerfile);
  put('dockerfile-inline', t['dockerfile-inline']);
  put('args', map(t.args && nonNull(t.args)));
  put('labels', map(t.labels && nonNull(t.labels)));
  put('tags', list(t.tags));
  put('cache-from', list(t['cache-from']?.map(cacheJson)));
  put('cache-to', list(t['cache-to']?.map(cacheJson)));
  put('target', t.target);
  put('secret', list(t.secret?.map(secretJson)));
  put('ssh', list(t.ssh?.map(sshJson)));
  put('platforms', list(t.platforms));
  put('output', list(t.output?.map(exportJson)));
  put('pull', t.pull);
  put('no-cache', t['no-cache']);
  put('network', t.network);
  put('no-cache-filter', list(t['no-cache-filter']));
  put('shm-size', t['shm-size']);
  put('ulimits', list(t.ulimits));
  if (t.resources) d.resources = resourcesJson(t.resources);
  put('call', t.call);
  put('entitlements', list(t.entitlements));
  put('extra-hosts', map(t['extra-hosts'] && nonNull(t['extra-hosts'])));
  return d;
}
