/**
 * The list attributes whose entries are specs rather than plain strings (attest, cache-from,
 * cache-to, output, secret, ssh) and the resources object: how each is read from a
 * `key=value,...` string or from an HCL object, how duplicates collapse, and how --print
 * shows them. The rules are buildx's: attest, secret and ssh keep one entry per type/id (a
 * later one takes the earlier one's place); cache and output entries drop exact duplicates.
 */
import { csvFields, cutEq } from './csv.js';
import { ExprError, toStr, typeName, type Value } from './expr.js';

export interface Attest {
  type: string;
  disabled?: boolean;
  attrs: Record<string, string>;
}
export interface CacheEntry {
  type: string;
  attrs: Record<string, string>;
}
export interface ExportEntry {
  type: string;
  dest: string;
  attrs: Record<string, string>;
}
export interface Secret {
  id: string;
  src: string;
  env: string;
}
export interface SshKey {
  id: string;
  paths: string[];
}
export interface Resources {
  memory?: string;
  'memory-swap'?: string;
  'cpu-shares'?: number;
  'cpu-period'?: number;
  'cpu-quota'?: number;
  'cpuset-cpus'?: string;
  'cpuset-mems'?: string;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

const sameMap = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
};

/** An HCL object/map whose values must all be strings (cty's conversion to map(string)). */
function stringMap(v: Value, what: string): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ExprError(`${what}: a string or a map of strings is required, got ${typeName(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null) continue;
    if (typeof x === 'object') throw new ExprError(`${what}: attribute "${k}" must be a string, got ${typeName(x)}`);
    out[k] = toStr(x);
  }
  return out;
}

// ---- attest ----

export function parseAttest(s: string): Attest {
  const a: Attest = { type: '', attrs: {} };
  for (const f of csvFields(s)) {
    const kv = cutEq(f);
    if (!kv) throw new ExprError(`invalid value ${f}`);
    const key = kv[0].trim().toLowerCase();
    if (key === 'type') a.type = kv[1];
    else if (key === 'disabled') {
      const b = parseGoBool(kv[1]);
      if (b === undefined) throw new ExprError(`invalid value ${f}`);
      a.disabled = b;
    } else a.attrs[kv[0]] = kv[1];
  }
  if (!a.type) throw new ExprError('attestation type not specified');
  return a;
}

function attestFromValue(v: Value): Attest {
  if (typeof v === 'string') return parseAttest(v);
  const m = stringMap(v, 'attest');
  const a: Attest = { type: '', attrs: {} };
  for (const [k, x] of Object.entries(m)) {
    if (k === 'type') a.type = x;
    else if (k === 'disabled') {
      const b = parseGoBool(x);
      if (b === undefined) throw new ExprError(`attest: invalid disabled value ${JSON.stringify(x)}`);
      a.disabled = b;
    } else a.attrs[k] = x;
  }
  return a;
}

/** One entry per type; a later one replaces the earlier in its place. */
export function normalizeAttests(list: Attest[]): Attest[] {
  const out: Attest[] = [];
  const at = new Map<string, number>();
  for (const a of list) {
    const i = at.get(a.type);
    if (i === undefined) {
      at.set(a.type, out.length);
      out.push(a);
    } else out[i] = a;
  }
  return out;
}

// ---- cache ----

function parseCacheOne(s: string): CacheEntry {
  const fields = csvFields(s);
  if (fields.length === 1 && !fields[0]!.includes('=')) return { type: 'registry', attrs: { ref: fields[0]! } };
  const e: CacheEntry = { type: '', attrs: {} };
  for (const f of fields) {
    const kv = cutEq(f);
    if (!kv) throw new ExprError(`invalid value ${f}`);
    const key = kv[0].toLowerCase();
    if (key === 'type') e.type = kv[1];
    else e.attrs[key] = kv[1];
  }
  if (!e.type) throw new ExprError(`type required for ${JSON.stringify(s)}`);
  return e;
}

/** A cache spec string; without any `=` it may name several registry refs separated by commas. */
export function parseCache(s: string): CacheEntry[] {
  if (s === '') return [];
  if (!s.includes('=')) return csvFields(s).map(parseCacheOne);
  return [parseCacheOne(s)];
}

function cacheFromValue(v: Value): CacheEntry[] {
  if (typeof v === 'string') return parseCache(v);
  const m = stringMap(v, 'cache');
  const { type, ...attrs } = m;
  if (!type) throw new ExprError(`type required for ${JSON.stringify(JSON.stringify(v))}`);
  return [{ type, attrs }];
}

// ---- output ----

export function parseExport(s: string): ExportEntry {
  const fields = csvFields(s);
  if (fields.length === 1 && fields[0] === s && !s.startsWith('type=')) return s !== '-' ? { type: 'local', dest: s, attrs: {} } : { type: 'tar', dest: '-', attrs: {} };
  const e: ExportEntry = { type: '', dest: '', attrs: {} };
  for (const f of fields) {
    const kv = cutEq(f);
    if (!kv) throw new ExprError(`invalid value ${f}`);
    const key = kv[0].trim().toLowerCase();
    if (key === 'type') e.type = kv[1];
    else if (key === 'dest') e.dest = kv[1];
    else e.attrs[key] = kv[1];
  }
  if (!e.type) throw new ExprError('type is required for output');
  return e;
}

function exportFromValue(v: Value): ExportEntry {
  if (typeof v === 'string') return parseExport(v);
  const { type, dest, ...attrs } = stringMap(v, 'output');
  if (!type) throw new ExprError('type is required for output');
  return { type, dest: dest ?? '', attrs };
}

// ---- secret ----

export function parseSecret(s: string): Secret {
  const sec: Secret = { id: '', src: '', env: '' };
  let typ = '';
  for (const f of csvFields(s)) {
    const kv = cutEq(f);
    const key = (kv ? kv[0] : f).toLowerCase();
    if (!kv) throw new ExprError(`invalid field '${f}' must be a key=value pair`);
    const val = kv[1];
    if (key === 'type') {
      if (val !== 'file' && val !== 'env') throw new ExprError(`unsupported secret type ${JSON.stringify(val)}`);
      typ = val;
    } else if (key === 'id') sec.id = val;
    else if (key === 'source' || key === 'src') sec.src = val;
    else if (key === 'env') sec.env = val;
    else throw new ExprError(`unexpected key '${key}' in '${f}'`);
  }
  if (typ === 'env' && !sec.env) {
    sec.env = sec.src;
    sec.src = '';
  }
  return sec;
}

function objectOf(v: Value, what: string, allowed: string[]): Record<string, Value> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ExprError(`${what}: a string or an object is required, got ${typeName(v)}`);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new ExprError(`${what}: unsupported attribute "${k}" (expected ${allowed.join(', ')})`);
  return v;
}

function secretFromValue(v: Value): Secret {
  if (typeof v === 'string') return parseSecret(v);
  const o = objectOf(v, 'secret', ['id', 'src', 'env']);
  const str = (x: Value | undefined) => (x === undefined || x === null ? '' : toStr(x));
  return { id: str(o.id), src: str(o.src), env: str(o.env) };
}

/** One entry per id; a later one replaces the earlier in its place (secret and ssh alike). */
export function dedupeById<T extends { id: string }>(list: T[]): T[] {
  const out: T[] = [];
  const at = new Map<string, number>();
  for (const x of list) {
    const i = at.get(x.id);
    if (i === undefined) {
      at.set(x.id, out.length);
      out.push(x);
    } else out[i] = x;
  }
  return out;
}

// ---- ssh ----

export function parseSsh(s: string): SshKey {
  const i = s.indexOf('=');
  return i < 0 ? { id: s, paths: [] } : { id: s.slice(0, i), paths: s.slice(i + 1).split(',') };
}

function sshFromValue(v: Value): SshKey {
  if (typeof v === 'string') return parseSsh(v);
  const o = objectOf(v, 'ssh', ['id', 'paths']);
  const id = o.id === undefined || o.id === null ? '' : toStr(o.id);
  let paths: string[] = [];
  if (o.paths !== undefined && o.paths !== null) {
    if (!Array.isArray(o.paths)) throw new ExprError(`ssh: paths must be a list of strings, got ${typeName(o.paths)}`);
    paths = o.paths.map((p) => toStr(p));
  }
  return { id, paths };
}

// ---- resources ----

const RESOURCE_KEYS = ['memory', 'memory-swap', 'cpu-shares', 'cpu-period', 'cpu-quota', 'cpuset-cpus', 'cpuset-mems'] as const;
const INT_RESOURCES = new Set(['cpu-shares', 'cpu-period', 'cpu-quota']);

export function resourcesFromValue(v: Value): Resources {
  const o = objectOf(v, 'resources', [...RESOURCE_KEYS]);
  const r: Resources = {};
  for (const k of RESOURCE_KEYS) {
    const x = o[k];
    if (x === undefined || x === null) continue;
    if (INT_RESOURCES.has(k)) {
      const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN;
      if (!Number.isInteger(n)) throw new ExprError(`resources: ${k} must be a whole number, got ${JSON.stringify(x)}`);
      (r as Record<string, number>)[k] = n;
    } else (r as Record<string, string>)[k] = toStr(x);
  }
  return r;
}

/** `--set t.resources.NAME=VALUE`. */
export function setResource(r: Resources, name: string, value: string): void {
  if (!(RESOURCE_KEYS as readonly string[]).includes(name)) throw new ExprError(`unknown resources key ${name}`);
  if (INT_RESOURCES.has(name)) {
    if (!/^[+-]?\d+$/.test(value)) throw new ExprError(`invalid value ${value} for int64 key resources.${name}`);
    (r as Record<string, number>)[name] = Number(value);
  } else (r as Record<string, string>)[name] = value;
}

export function resourcesJson(r: Resources): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const k of RESOURCE_KEYS) if (r[k] !== undefined) out[k] = r[k];
  return out;
}

// ---- lists ----

/**
 * Reads a list attribute of entries. Empty strings are skipped, as buildx skips them; each
 * entry is a spec string or an object.
 */
function entries<T>(v: Value, what: string, one: (x: Value) => T | T[]): T[] {
  if (!Array.isArray(v)) throw new ExprError(`${what}: a list is required, got ${typeName(v)}`);
  const out: T[] = [];
  for (const x of v) {
    if (x === '' || x === null) continue;
    const r = one(x);
    if (Array.isArray(r)) out.push(...r);
    else out.push(r);
  }
  return out;
}

export const attestsFromValue = (v: Value) => entries(v, 'attest', attestFromValue);
export const cachesFromValue = (v: Value) => entries(v, 'cache', cacheFromValue);
export const exportsFromValue = (v: Value) => entries(v, 'output', exportFromValue);
export const secretsFromValue = (v: Value) => entries(v, 'secret', secretFromValue);
export const sshFromValues = (v: Value) => entries(v, 'ssh', sshFromValue);

/** Drops later exact duplicates the way buildx does (the last entry takes the dropped one's slot). */
export function removeDupes<T>(list: T[], eq: (a: T, b: T) => boolean): T[] {
  const s = [...list];
  for (let i = s.length - 2; i >= 0; i--) {
    for (let j = i + 1; j < s.length; j++) {
      if (eq(s[i]!, s[j]!)) {
        s[j] = s[s.length - 1]!;
        s.pop();
        break;
      }
    }
  }
  return s;
}

export const cacheEq = (a: CacheEntry, b: CacheEntry) => a.type === b.type && sameMap(a.attrs, b.attrs);
export const exportEq = (a: ExportEntry, b: ExportEntry) => a.type === b.type && a.dest === b.dest && sameMap(a.attrs, b.attrs);

// ---- --print forms ----

export const attestJson = (a: Attest) => ({ ...a.attrs, type: a.type, ...(a.disabled ? { disabled: true } : {}) });
export const cacheJson = (e: CacheEntry) => ({ ...e.attrs, type: e.type });
export const exportJson = (e: ExportEntry) => ({ ...e.attrs, type: e.type, ...(e.dest ? { dest: e.dest } : {}) });
export const secretJson = (s: Secret) => ({ ...(s.id ? { id: s.id } : {}), ...(s.src ? { src: s.src } : {}), ...(s.env ? { env: s.env } : {}) });
export const sshJson = (s: SshKey) => ({ ...(s.id ? { id: s.id } : {}), ...(s.paths.length ? { paths: s.paths } : {}) });
