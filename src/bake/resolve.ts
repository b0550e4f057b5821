/**
 * From evaluated blocks to the targets to build, as `docker buildx bake` resolves them: names
 * and globs expanded through groups, each target merged onto its parents with --set applied at
 * every level, defaults filled in, `target:` contexts pulled in as linked targets, and the
 * checks buildx makes before it would build (or print).
 */
import { InputError, SourceError } from '../util/errors.js';
import { globMatch, isGlob } from './glob.js';
import type { Config, Group } from './config.js';
import { applyOverrides, type Overrides } from './overrides.js';
import { mergeTarget, newTarget, normalizeTarget, uniqueStrings, type Target } from './target.js';
import { rebasePath } from './paths.js';
import type { TargetDef } from './types.js';

/** Every group and target name the files define (what buildx lists). */
export function definedNames(c: Config): string[] {
  return [...new Set([...c.groups.map((g) => g.name), ...c.targets.map((t) => t.name)])];
}

function matchNames(c: Config, pattern: string): string[] {
  if (!isGlob(pattern)) return [pattern];
  const out = [...c.groups.filter((g) => globMatch(pattern, g.name)).map((g) => g.name), ...c.targets.filter((t) => globMatch(pattern, t.name)).map((t) => t.name)];
  if (!out.length) throw new InputError(`could not find any target matching ${JSON.stringify(pattern)}`);
  return out;
}

/** An error about a target or group, at its definition when a file defines it. */
export function errorAt(c: Config, name: string, msg: string): InputError {
  const src = c.sources[name];
  return src ? new SourceError(src.file, src.line, 1, msg) : new InputError(msg);
}

function unknownName(c: Config, n: string): string {
  const known = definedNames(c).sort();
  return `unknown target or group "${n}"${known.length ? ` (defined: ${known.join(', ')})` : ''}`;
}

/** A group's targets (nested groups expanded) and the groups met; a name with no group is a target. */
export function resolveGroup(c: Config, name: string): { targets: string[]; groups: string[] } {
  const visited = new Map<string, { targets: string[]; groups: string[] }>();
  const walk = (n: string): { targets: string[]; groups: string[] } => {
    const seen = visited.get(n);
    if (seen) return seen;
    const g = c.groups.find((x) => x.name === n);
    if (!g) return { targets: [n], groups: [] };
    visited.set(n, { targets: [], groups: [] });
    const targets: string[] = [];
    const groups = [n];
    for (const t of g.targets) {
      const sub = walk(t);
      // a group naming itself, or a target of its own name, contributes that name as a target
      targets.push(...(sub.targets.length ? sub.targets : [t]));
      groups.push(...sub.groups);
    }
    const r = { targets, groups };
    visited.set(n, r);
    return r;
  };
  const r = walk(name);
  return { targets: [...new Set(r.targets)], groups: [...new Set(r.groups)] };
}

export interface ResolveOptions {
  overrides: Overrides;
  /** The environment, for SOURCE_DATE_EPOCH. */
  env: Record<string, string | undefined>;
}

/** One target with its parents merged in, overrides applied at each level, and defaults filled. */
export function resolveTarget(c: Config, name: string, o: Overrides): Target {
  const visited = new Map<string, Target | null>();
  const resolve = (n: string): Target | null => {
    if (visited.has(n)) return visited.get(n)!;
    visited.set(n, null);
    const own = c.targets.find((t) => t.name === n);
    if (!own) {
      const child = [...visited.keys()].at(-2);
      throw n === name || child === undefined ? new InputError(unknownName(c, n)) : errorAt(c, child, `target "${child}" inherits unknown target "${n}"`);
    }
    const parents = newTarget(n);
    for (const p of own.inherits ?? []) {
      const pt = resolve(p);
      if (pt) mergeTarget(parents, pt);
    }
    const t = newTarget(n);
    mergeTarget(t, parents);
    mergeTarget(t, own);
    applyOverrides(t, o.get(n));
    normalizeTarget(t);
    visited.set(n, t);
    return t;
  };
  const t = resolve(name)!;
  delete t.inherits;
  if (t.context === undefined) t.context = t.base.useDefault && t.base.defaultDir !== undefined ? rebasePath(t.base.defaultDir, '.') : '.';
  if (!t.dockerfile) t.dockerfile = 'Dockerfile';
  return t;
}

export interface Resolved {
  targets: Map<string, Target>;
  groups: Map<string, Group>;
  requested: string[];
}

/** buildx's ReadTargets: what `bake NAMES...` builds, and the groups --print shows. */
export function readTargets(c: Config, names: string[], opts: ResolveOptions): Resolved {
  const requested = [...new Set(names.map((n) => n.replace(/\./g, '_')).flatMap((n) => matchNames(c, n)))];
  const targets = new Map<string, Target>();
  const groups = new Map<string, Group>();
  for (const name of requested) {
    const r = resolveGroup(c, name);
    for (const tn of r.targets) {
      const holder = tn === name ? undefined : c.groups.find((g) => r.groups.includes(g.name) && g.targets.includes(tn));
      if (holder && !c.targets.some((t) => t.name === tn)) throw errorAt(c, holder.name, `group "${holder.name}" names unknown target "${tn}"`);
      targets.set(tn, resolveTarget(c, tn, opts.overrides));
    }
    for (const gn of r.groups) {
      const g = c.groups.find((x) => x.name === gn);
      if (g) groups.set(gn, g);
    }
  }
  for (const name of requested) {
    if (groups.has('default') && name === 'default') continue;
    const d = groups.get('default') ?? { name: 'default', description: '', targets: [] };
    groups.set('default', { ...d, targets: [...d.targets, name] });
  }
  const d = groups.get('default');
  if (d) groups.set('default', { ...d, targets: [...new Set(d.targets)].sort() });
  for (const [name, t] of [...targets]) loadLinks(c, name, t, targets, opts.overrides, []);
  const epoch = opts.env.SOURCE_DATE_EPOCH;
  for (const t of targets.values()) {
    if (t.args && Object.prototype.hasOwnProperty.call(t.args, 'SOURCE_DATE_EPOCH')) continue;
    if (epoch) t.args = { ...(t.args ?? {}), SOURCE_DATE_EPOCH: epoch };
  }
  return { targets, groups, requested };
}

/** Pulls in the targets used as `target:NAME` contexts; they build for their users only. */
function loadLinks(c: Config, name: string, t: Target, m: Map<string, Target>, o: Overrides, visited: string[]): void {
  const path = [...visited, name];
  for (const v of Object.values(t.contexts ?? {})) {
    if (!v.startsWith('target:')) continue;
    const dep = v.slice('target:'.length);
    if (dep === name) throw errorAt(c, name, `target ${dep} cannot link to itself`);
    if (path.includes(dep)) throw errorAt(c, name, `infinite loop from ${name} to ${dep} through target: contexts`);
    let t2 = m.get(dep);
    if (!t2) {
      if (!c.targets.some((x) => x.name === dep)) throw errorAt(c, name, `target "${name}": context refers to unknown target "${dep}"`);
      t2 = resolveTarget(c, dep, o);
      t2.output = [{ type: 'cacheonly', dest: '', attrs: {} }];
      t2.linked = true;
      m.set(dep, t2);
    }
    loadLinks(c, dep, t2, m, o, path);
    // entitlements a dependency needs are needed by its users too
    if (t2.entitlements?.length) t.entitlements = uniqueStrings([...(t.entitlements ?? []), ...t2.entitlements]);
    if ((t.platforms?.length ?? 0) > 1 && (t2.platforms?.length ?? 0) > 1 && !t.platforms!.every((p) => t2.platforms!.includes(p))) {
      throw errorAt(c, name, `target ${dep} can't be used by ${name} because its platforms [${t.platforms!.join(' ')}] are not a subset of [${t2.platforms!.join(' ')}]`);
    }
  }
}

/** `target:NAME` references in a target's contexts. */
export function targetDeps(t: TargetDef): string[] {
  return Object.values(t.contexts ?? {})
    .filter((v): v is string => typeof v === 'string' && v.startsWith('target:'))
    .map((v) => v.slice('target:'.length));
}
