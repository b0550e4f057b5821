/** --set overrides, target selection, defaults and the `--print` view. */
import { InputError, SourceError } from '../util/errors.js';
import { ExprError } from './expr.js';
import { finalizeTarget, mergeTargets, parseCsvAttrs } from './parse.js';
import type { BakeDefinition, GroupDef, TargetDef } from './types.js';

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const parseBool = (s: string, what: string): boolean => {
  if (['1', 't', 'T', 'TRUE', 'true', 'True', ''].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new InputError(`--set ${what}: ${JSON.stringify(s)} is not a bool`);
};

/**
 * Applies `--set TARGET.KEY=VALUE` overrides (TARGET may be a glob or a group) in order.
 * `KEY+=VALUE` appends to lists and merges into maps.
 */
export function applySet(def: BakeDefinition, sets: string[]): void {
  for (const s of sets) {
    const m = /^([^=+]+?)(\+?=)(.*)$/s.exec(s);
    if (!m) throw new InputError(`--set ${s}: expected TARGET.KEY=VALUE`);
    const [, lhs, op, value] = m as unknown as [string, string, string, string];
    const dot = lhs.indexOf('.');
    if (dot <= 0) throw new InputError(`--set ${s}: expected TARGET.KEY=VALUE`);
    const pattern = lhs.slice(0, dot);
    const keyPath = lhs.slice(dot + 1).split('.');
    const re = globToRegExp(pattern);
    let names = Object.keys(def.targets).filter((n) => re.test(n));
    if (!names.length && def.groups[pattern]) names = expandNames(def, [pattern]);
    if (!names.length) throw new InputError(`--set ${s}: no target matches "${pattern}"`);
    for (const n of names) def.targets[n] = setOne(def.targets[n]!, keyPath, value, op === '+=', s);
  }
}

function setOne(t: TargetDef, keyPath: string[], value: string, append: boolean, orig: string): TargetDef {
  const [key0, sub] = keyPath as [string, string | undefined];
  const key = key0 === 'platform' ? 'platforms' : key0;
  const list = () => (value === '' ? [] : value.split(',').map((x) => x.trim()));
  const patch: Record<string, unknown> = {};
  switch (key) {
    case 'args':
    case 'labels':
    case 'contexts':
    case 'extra-hosts': {
      if (!sub) throw new InputError(`--set ${orig}: ${key} needs a name (${key}.NAME=VALUE)`);
      const name = keyPath.slice(1).join('.');
      return { ...t, [key]: { ...(t[key] ?? {}), [name]: value } };
    }
    case 'tags':
    case 'platforms':
    case 'annotations':
    case 'no-cache-filter':
    case 'entitlements':
    case 'ulimits':
      patch[key] = append ? [...((t[key] as string[] | undefined) ?? []), ...list()] : list();
      break;
    case 'output':
    case 'cache-from':
    case 'cache-to':
    case 'attest':
    case 'ssh':
    case 'secret': {
      let items;
      try {
        items = value === '' ? [] : [parseCsvAttrs(value, key)];
      } catch (e) {
        throw new InputError(`--set ${orig}: ${(e as ExprError).message}`);
      }
      if (sub && key === 'secret') {
        // --set t.secret.ID=src=... changes the source of an existing secret
        const cur = t.secret ?? [];
        if (!cur.some((x) => x.id === sub)) throw new InputError(`--set ${orig}: target has no secret "${sub}"`);
        return { ...t, secret: cur.map((x) => (x.id === sub ? { id: sub, ...parseCsvAttrs(value.includes('=') ? value : `src=${value}`, 'secret') } : x)) };
      }
      patch[key] = append ? [...((t[key] as unknown[] | undefined) ?? []), ...items] : items;
      break;
    }
    case 'no-cache':
    case 'pull':
      patch[key] = parseBool(value, orig);
      break;
    case 'context':
    case 'dockerfile':
    case 'dockerfile-inline':
    case 'target':
    case 'description':
    case 'shm-size':
    case 'call':
    case 'network':
      patch[key] = value;
      break;
    case 'push': {
      const out = (t.output ?? []).filter((o) => o.type !== 'image' && o.type !== 'registry');
      return parseBool(value, orig) ? { ...t, output: [...out, { type: 'image', push: 'true' }] } : t;
    }
    case 'load': {
      const out = (t.output ?? []).filter((o) => o.type !== 'docker');
      return parseBool(value, orig) ? { ...t, output: [...out, { type: 'docker' }] } : t;
    }
    default:
      throw new InputError(`--set ${orig}: unknown key "${key0}"`);
  }
  if (append) return mergeTargets(t as Record<string, unknown>, patch) as TargetDef;
  return { ...t, ...patch } as TargetDef;
}

/** Expands group names (recursively, groups win over targets of the same name) to target names. */
export function expandNames(def: BakeDefinition, names: string[]): string[] {
  const out: string[] = [];
  const visiting: string[] = [];
  const visit = (n: string) => {
    const g = def.groups[n];
    if (g) {
      if (visiting.includes(n)) {
        const src = def.sources[n];
        throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `group cycle: ${[...visiting.slice(visiting.indexOf(n)), n].join(' -> ')}`);
      }
      visiting.push(n);
      for (const t of g.targets) visit(t);
      visiting.pop();
      return;
    }
    if (def.targets[n]) {
      if (!out.includes(n)) out.push(n);
      return;
    }
    const parent = visiting[visiting.length - 1];
    if (parent) {
      const src = def.sources[parent];
      throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `group "${parent}" names unknown target "${n}"`);
    }
    const known = [...Object.keys(def.groups), ...Object.keys(def.targets).filter((t) => !t.startsWith('_'))].sort();
    throw new InputError(`unknown target or group "${n}"${known.length ? ` (defined: ${known.join(', ')})` : ''}`);
  };
  for (const n of names) visit(n);
  return out;
}

/** `target:NAME` references in a target's contexts. */
export function targetDeps(t: TargetDef): string[] {
  return Object.values(t.contexts ?? {})
    .filter((v): v is string => typeof v === 'string' && v.startsWith('target:'))
    .map((v) => v.slice('target:'.length));
}

/** Fills what buildx fills: context "." and dockerfile "Dockerfile". */
export function withDefaults(t: TargetDef): TargetDef {
  const out = finalizeTarget(t);
  out.context ??= '.';
  if (out.dockerfile === undefined) out.dockerfile = 'Dockerfile';
  return out;
}

export interface Selection {
  /** The names asked for (or ["default"]). */
  requested: string[];
  /** Every target to build: the requested ones and what they depend on through `target:` contexts. */
  targets: string[];
  /** Groups met while expanding (printed by --print). */
  groups: string[];
}

/** Resolves what to build: groups expanded, `target:` dependencies pulled in, unknown names reported. */
export function select(def: BakeDefinition, names: string[]): Selection {
  const requested = names.length ? names : ['default'];
  if (!names.length && !def.groups.default && !def.targets.default) {
    throw new InputError('no target given and the bake file defines no "default" group or target');
  }
  const groups: string[] = [];
  const walkGroups = (n: string, seen: Set<string>) => {
    const g = def.groups[n];
    if (!g || seen.has(n)) return;
    seen.add(n);
    if (!groups.includes(n)) groups.push(n);
    g.targets.forEach((t) => walkGroups(t, seen));
  };
  requested.forEach((n) => walkGroups(n, new Set()));
  const targets = expandNames(def, requested);
  for (let i = 0; i < targets.length; i++) {
    const name = targets[i]!;
    for (const dep of targetDeps(def.targets[name]!)) {
      if (!def.targets[dep]) {
        const src = def.sources[name];
        throw new SourceError(src?.file ?? '?', src?.line ?? 1, 1, `target "${name}": context refers to unknown target "${dep}"`);
      }
      if (!targets.includes(dep)) targets.push(dep);
    }
  }
  return { requested, targets, groups };
}

/** buildx prints target fields in its struct order; keep that so output diffs cleanly. */
const PRINT_ORDER = [
  'description',
  'context',
  'contexts',
  'dockerfile',
  'dockerfile-inline',
  'args',
  'annotations',
  'attest',
  'labels',
  'tags',
  'cache-from',
  'cache-to',
  'target',
  'secret',
  'ssh',
  'platforms',
  'output',
  'pull',
  'no-cache',
  'no-cache-filter',
  'shm-size',
  'ulimits',
  'call',
  'entitlements',
  'network',
  'extra-hosts',
] as const;

function sortedMap<T>(m: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]!]));
}

/** The JSON `docker buildx bake --print` shows: {"group": {...}, "target": {...}}, maps sorted. */
export function printView(def: BakeDefinition, sel: Selection): { group?: Record<string, GroupDef>; target: Record<string, Record<string, unknown>> } {
  const group: Record<string, GroupDef> = {};
  for (const g of sel.groups) group[g] = { ...(def.groups[g]!.description ? { description: def.groups[g]!.description } : {}), targets: [...def.groups[g]!.targets] };
  const isOnlyDefault = sel.requested.length === 1 && sel.requested[0] === 'default';
  if (!group.default && !isOnlyDefault) group.default = { targets: [...sel.requested] };
  const target: Record<string, Record<string, unknown>> = {};
  for (const name of [...sel.targets].sort()) {
    const t = withDefaults(def.targets[name]!) as Record<string, unknown>;
    const o: Record<string, unknown> = {};
    for (const k of PRINT_ORDER) {
      const v = t[k];
      if (v === undefined) continue;
      if (Array.isArray(v) && !v.length) continue;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        if (!Object.keys(v).length) continue;
        o[k] = sortedMap(v as Record<string, unknown>);
      } else o[k] = v;
    }
    target[name] = o;
  }
  return Object.keys(group).length ? { group: sortedMap(group), target } : { target };
}
