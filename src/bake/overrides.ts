/**
 * `--set TARGET.KEY=VALUE` (and `--push`, `--load`, `--no-cache`, which buildx turns into
 * overrides of every target). TARGET is a target name or a glob over target names. Overrides
 * apply to a target as it is resolved, so one set on a parent reaches the targets inheriting
 * from it. List keys append when repeated, `KEY+=` appends to the file's list, an empty value
 * clears it; `args.NAME` without a value takes NAME from the environment.
 */
import { InputError } from '../util/errors.js';
import { ExprError } from './expr.js';
import { dedupeById, normalizeAttests, parseAttest, parseCache, parseExport, parseGoBool, parseSecret, parseSsh, removeDupes, cacheEq, exportEq, setResource, type ExportEntry } from './entries.js';
import type { Target } from './target.js';
import { globMatch } from './glob.js';

export interface Override {
  value: string;
  list: string[];
  append: boolean;
  clear: boolean;
}

/** Per target name, the overrides keyed by the attribute path (`tag`, `arg.FOO`, ...). */
export type Overrides = Map<string, Map<string, Override>>;

const ALIASES: Record<string, string> = {
  annotations: 'annotation',
  args: 'arg',
  entitlements: 'entitlement',
  'extra-hosts': 'extra-host',
  labels: 'label',
  platforms: 'platform',
  resources: 'resource',
  tags: 'tag',
  ulimits: 'ulimit',
};
const LISTS = new Set(['output', 'cache-to', 'cache-from', 'tag', 'platform', 'ssh', 'attest', 'entitlement', 'annotation', 'ulimit', 'no-cache-filter']);
const SCALARS = new Set(['context', 'dockerfile', 'target', 'call', 'no-cache', 'shm-size', 'network', 'pull', 'push', 'load']);

/** Targets a --set pattern names: the target of that exact name, else every target the glob matches. */
export function expandTargets(names: string[], pattern: string): string[] {
  if (names.includes(pattern)) return [pattern];
  const out = names.filter((n) => globMatch(pattern, n));
  if (!out.length) throw new InputError(`--set: could not find any target matching '${pattern}'`);
  return out;
}

export function parseOverrides(sets: string[], targetNames: string[], env: Record<string, string | undefined>, envLookup: boolean): Overrides {
  const m: Overrides = new Map();
  for (const v of sets) {
    const eq = v.indexOf('=');
    const lhs = eq < 0 ? v : v.slice(0, eq);
    const value = eq < 0 ? undefined : v.slice(eq + 1);
    const append = lhs.endsWith('+');
    const skey = append ? lhs.slice(0, -1) : lhs;
    const dot1 = skey.indexOf('.');
    if (dot1 < 0) throw new InputError(`--set ${v}: invalid override key ${skey}, expected target.name`);
    const dot2 = skey.indexOf('.', dot1 + 1);
    const keys = dot2 < 0 ? [skey.slice(0, dot1), skey.slice(dot1 + 1)] : [skey.slice(0, dot1), skey.slice(dot1 + 1, dot2), skey.slice(dot2 + 1)];
    let key = ALIASES[keys[1]!] ?? keys[1]!;
    if (key === 'secrets') {
      if (keys.length !== 2) throw new InputError(`--set ${v}: invalid key ${lhs}, secret does not support subkeys`);
      key = 'secret';
    }
    if (key === 'policy') throw new InputError(`--set ${v}: the "policy" attribute is not supported by stratum`);
    if (value === undefined && key !== 'arg') throw new InputError(`--set ${v}: invalid override ${v}, expected target.name=value`);
    const names = expandTargets(targetNames, keys[0]!);
    const okey = [key, ...keys.slice(2)].join('.');
    const bad = (msg: string) => new InputError(`--set ${v}: invalid key ${lhs}, ${msg}`);
    for (const name of names) {
      let t = m.get(name);
      if (!t) m.set(name, (t = new Map()));
      const o: Override = t.get(okey) ?? { value: '', list: [], append: false, clear: false };
      const listValue = () => {
        if (value === undefined) return;
        if (!append && value === '') {
          o.clear = true;
          o.list = [];
        } else o.list.push(value);
        o.append = append && !o.clear;
      };
      if (LISTS.has(key)) {
        if (keys.length !== 2) throw bad(`${key} does not support subkeys`);
        listValue();
      } else if (key === 'secret') {
        if (keys.length === 2) listValue();
        else if (append) throw bad('secret does not support append');
        else o.value = value!;
      } else if (key === 'resource') {
        if (keys.length !== 3) throw bad(`${key} requires name`);
        if (append) throw bad(`${key} does not support append`);
        o.value = value!;
      } else if (key === 'arg') {
        if (keys.length !== 3) throw bad('arg requires name');
        if (value === undefined && envLookup) {
          const e = env[keys[2]!];
          if (e === undefined) continue;
          o.value = e;
        }
        if (value !== undefined) o.value = value;
      } else if (key === 'contexts' || key === 'label' || key === 'extra-host') {
        if (keys.length !== 3) throw bad(`${key} requires name`);
        o.value = value!;
      } else if (SCALARS.has(key)) {
        if (keys.length !== 2) throw bad(`${key} does not support subkeys`);
        o.value = value!;
      } else o.value = value ?? '';
      t.set(okey, o);
    }
  }
  return m;
}

const boolValue = (key: string, value: string) => {
  const b = parseGoBool(value);
  if (b === undefined) throw new InputError(`--set: invalid value ${value} for boolean key ${key}`);
  return b;
};

function parseEach<T>(list: string[], parse: (s: string) => T): T[] {
  return list.filter((s) => s !== '').map(parse);
}

/** --push: pushes from every image output, or adds one when there is none but docker. */
function setPush(outputs: ExportEntry[] | undefined, push: boolean): ExportEntry[] | undefined {
  const outs = outputs ?? [];
  if (!push) {
    const out: ExportEntry[] = [];
    const rest = [...outs];
    // buildx drops registry outputs by swapping the last entry into their place
    for (let i = 0; i < rest.length; ) {
      if (rest[i]!.type === 'registry') {
        rest[i] = rest[rest.length - 1]!;
        rest.pop();
        continue;
      }
      if (rest[i]!.type === 'image') rest[i]!.attrs.push = 'false';
      i++;
    }
    out.push(...rest);
    return outputs === undefined && !out.length ? undefined : out;
  }
  let add = true;
  for (const o of outs) {
    if (o.type !== 'docker') add = false;
    if (o.type === 'image') o.attrs.push = 'true';
  }
  return add ? [...outs, { type: 'image', dest: '', attrs: { push: 'true' } }] : outs;
}

/** --load: adds a docker output unless one without dest exists, or an output of another kind does. */
function setLoad(outputs: ExportEntry[] | undefined, load: boolean): ExportEntry[] | undefined {
  if (!load) return outputs;
  for (const o of outputs ?? []) {
    if (o.type === 'docker') {
      if (!o.dest) return outputs;
    } else if (!['image', 'registry', 'oci'].includes(o.type)) return outputs;
  }
  return [...(outputs ?? []), { type: 'docker', dest: '', attrs: {} }];
}

/** Applies one target's overrides, in the order they were given. */
export function applyOverrides(t: Target, overrides: Map<string, Override> | undefined): void {
  if (!overrides) return;
  const secretUpdates: [string, string][] = [];
  for (const [okey, o] of overrides) {
    const dot = okey.indexOf('.');
    const key = dot < 0 ? okey : okey.slice(0, dot);
    const sub = dot < 0 ? undefined : okey.slice(dot + 1);
    const value = o.value;
    const list = <T>(cur: T[] | undefined, add: T[]) => (o.append ? [...(cur ?? []), ...add] : add);
    try {
      switch (key) {
        case 'context':
          t.context = value;
          break;
        case 'dockerfile':
          t.dockerfile = value;
          break;
        case 'arg':
          t.args = { ...(t.args ?? {}), [sub!]: value };
          break;
        case 'contexts':
          t.contexts = { ...(t.contexts ?? {}), [sub!]: value };
          break;
        case 'label':
          t.labels = { ...(t.labels ?? {}), [sub!]: value };
          break;
        case 'extra-host':
          t['extra-hosts'] = { ...(t['extra-hosts'] ?? {}), [sub!]: value };
          break;
        case 'tag':
          t.tags = o.append ? [...(t.tags ?? []), ...o.list] : o.list.length || !o.clear ? [...o.list] : undefined;
          break;
        case 'platform':
          t.platforms = o.append ? [...(t.platforms ?? []), ...o.list] : o.list.length || !o.clear ? [...o.list] : undefined;
          break;
        case 'cache-from':
        case 'cache-to': {
          const add = o.list.flatMap(parseCache);
          const next = o.append ? removeDupes([...(t[key] ?? []), ...add], cacheEq) : add.length ? add : undefined;
          if (next) t[key] = next;
          else delete t[key];
          break;
        }
        case 'target':
          t.target = value;
          break;
        case 'call':
          t.call = value;
          break;
        case 'secret':
          if (sub !== undefined) {
            secretUpdates.push([sub, value]);
            break;
          }
          t.secret = o.append ? dedupeById([...(t.secret ?? []), ...parseEach(o.list, parseSecret)]) : parseEach(o.list, parseSecret);
          break;
        case 'ssh':
          t.ssh = o.append ? dedupeById([...(t.ssh ?? []), ...parseEach(o.list, parseSsh)]) : parseEach(o.list, parseSsh);
          break;
        case 'output': {
          const add = parseEach(o.list, parseExport);
          t.output = o.append ? removeDupes([...(t.output ?? []), ...add], exportEq) : add;
          break;
        }
        case 'entitlement':
          t.entitlements = [...(o.clear ? [] : (t.entitlements ?? [])), ...o.list];
          break;
        case 'annotation':
          t.annotations = [...(o.clear ? [] : (t.annotations ?? [])), ...o.list];
          break;
        case 'attest':
          t.attest = normalizeAttests([...(o.clear ? [] : (t.attest ?? [])), ...parseEach(o.list, parseAttest)]);
          break;
        case 'no-cache':
          t['no-cache'] = boolValue('no-cache', value);
          break;
        case 'no-cache-filter':
          t['no-cache-filter'] = list(t['no-cache-filter'], o.list);
          break;
        case 'shm-size':
          t['shm-size'] = value;
          break;
        case 'ulimit':
          t.ulimits = list(t.ulimits, o.list);
          break;
        case 'resource':
          t.resources ??= {};
          setResource(t.resources, sub!, value);
          break;
        case 'network':
          t.network = value;
          break;
        case 'pull':
          t.pull = boolValue('pull', value);
          break;
        case 'push':
          t.output = setPush(t.output, boolValue('push', value));
          break;
        case 'load':
          t.output = setLoad(t.output, boolValue('load', value));
          break;
        default:
          throw new InputError(`--set: unknown key: ${key}`);
      }
    } catch (e) {
      if (e instanceof ExprError) throw new InputError(`--set ${t.name}.${okey}: ${e.message}`);
      throw e;
    }
  }
  for (const [id, value] of secretUpdates) {
    const s = t.secret?.find((x) => x.id === id);
    if (!s) throw new InputError(`--set: secret ${JSON.stringify(id)} must be declared before it can be overridden`);
    const next = parseSecret(value);
    if (next.id && next.id !== id) throw new InputError(`--set: secret override id ${JSON.stringify(next.id)} does not match declared secret ${JSON.stringify(id)}`);
    s.env = next.env;
    s.src = next.src;
  }
}
