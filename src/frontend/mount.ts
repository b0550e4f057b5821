/** RUN --mount values, COPY --chmod and --chown values. */
import { SourceError } from '../util/errors.js';

export interface MountSpec {
  type: 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
  /** Mount path in the container ('' for a secret exposed only as an env variable). */
  target: string;
  source?: string;
  from?: string;
  readonly: boolean;
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required?: boolean;
  env?: string;
  /** tmpfs size in bytes. */
  size?: number;
}

/** Splits a CSV record (as Go's encoding/csv reads one line): commas separate, double quotes group. */
export function splitCsv(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let fieldStart = true;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (value[i + 1] === '"') {
          cur += '"';
          i++;
        } else quoted = false;
      } else cur += ch;
      continue;
    }
    if (ch === '"' && fieldStart) {
      quoted = true;
      fieldStart = false;
      continue;
    }
    if (ch === ',') {
      out.push(cur);
      cur = '';
      fieldStart = true;
      continue;
    }
    cur += ch;
    fieldStart = false;
  }
  if (quoted) throw new Error('unterminated quote');
  out.push(cur);
  return out;
}

const TYPES = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);

function parseBool(v: string): boolean | null {
  const l = v.toLowerCase();
  if (['1', 't', 'true'].includes(l)) return true;
  if (['0', 'f', 'false'].includes(l)) return false;
  return null;
}

/** Sizes as `64m`, `1g`, `1024`, `512kb` (binary multiples), to bytes. */
export function parseSize(v: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(v.trim());
  if (!m) return null;
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.floor(Number(m[1]) * (mult[(m[2] as string).toLowerCase()] as number));
}

/**
 * Parses one `--mount` value (already expanded) and applies BuildKit's defaults: bind mounts are read-only,
 * a cache mount's id is its target with sharing `shared` and mode 0755, a secret's id defaults to the
 * target's basename and its target to /run/secrets/<id>, ssh uses id `default`.
 */
export function parseMount(value: string, where: { file: string; line: number; column?: number }, sshIndex = 0): MountSpec {
  const fail = (msg: string): never => {
    throw new SourceError(where.file, where.line, where.column ?? 1, `invalid --mount=${value}: ${msg}`);
  };
  let fields: string[];
  try {
    fields = splitCsv(value);
  } catch {
    return fail('unterminated quote; expected comma-separated key=value fields');
  }
  let type: MountSpec['type'] = 'bind';
  for (const f of fields) {
    const [k, v] = splitKV(f);
    if (k.toLowerCase() === 'type') {
      if (v === undefined || !TYPES.has(v.toLowerCase())) fail(`unsupported mount type ${JSON.stringify(v ?? '')}; expected bind, cache, tmpfs, secret or ssh`);
      type = (v as string).toLowerCase() as MountSpec['type'];
    }
  }
  const m: MountSpec = { type, target: '', readonly: type === 'bind' || type === 'secret' || type === 'ssh' };
  let targetSet = false;
  for (const f of fields) {
    if (f.trim() === '') continue;
    const [rawKey, v] = splitKV(f);
    const key = rawKey.toLowerCase();
    if (v === undefined) {
      if (key === 'readonly' || key === 'ro') m.readonly = true;
      else if (key === 'readwrite' || key === 'rw') m.readonly = false;
      else if (key === 'required') m.required = true;
      else fail(`field ${JSON.stringify(f)} must be a key=value pair`);
      continue;
    }
    const bool = (): boolean => {
      const b = parseBool(v);
      if (b === null) fail(`invalid value for ${key}: ${JSON.stringify(v)}; expected true or false`);
      return b as boolean;
    };
    const uint = (base: 8 | 10): number => {
      const re = base === 8 ? /^[0-7]+$/ : /^\d+$/;
      if (!re.test(v)) fail(`invalid value for ${key}: ${JSON.stringify(v)}; expected ${base === 8 ? 'an octal mode like 0755' : 'a non-negative integer'}`);
      const n = parseInt(v, base);
      if (n > 0xffffffff) fail(`value for ${key} is out of range: ${v}`);
      return n;
    };
    switch (key) {
      case 'type':
        break;
      case 'source':
      case 'src':
        m.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = v;
        targetSet = true;
        break;
      case 'readonly':
      case 'ro':
        m.readonly = bool();
        break;
      case 'readwrite':
      case 'rw':
        m.readonly = !bool();
        break;
      case 'required':
        m.required = bool();
        break;
      case 'id':
        m.id = v;
        break;
      case 'from':
        m.from = v;
        break;
      case 'sharing':
        if (v !== 'shared' && v !== 'private' && v !== 'locked') fail(`unsupported sharing value ${JSON.stringify(v)}; expected shared, private or locked`);
        m.sharing = v as MountSpec['sharing'];
        break;
      case 'mode':
        m.mode = uint(8);
        break;
      case 'uid':
        m.uid = uint(10);
        break;
      case 'gid':
        m.gid = uint(10);
        break;
      case 'size': {
        const s = parseSize(v);
        if (s === null) fail(`invalid size ${JSON.stringify(v)}; expected e.g. 64m`);
        m.size = s as number;
        break;
      }
      case 'env':
        m.env = v;
        break;
      default:
        fail(`unexpected key ${JSON.stringify(rawKey)}; expected one of type, target, source, from, id, readonly, rw, sharing, mode, uid, gid, required, env, size`);
    }
  }
  if (m.sharing !== undefined && type !== 'cache') fail('sharing is only allowed for cache mounts');
  if (m.size !== undefined && type !== 'tmpfs') fail('size is only allowed for tmpfs mounts');
  if (m.env !== undefined && type !== 'secret') fail('env is only allowed for secret mounts');
  if (m.mode !== undefined && type !== 'cache' && type !== 'secret' && type !== 'ssh') fail(`mode is not allowed for ${type} mounts`);
  switch (type) {
    case 'bind':
    case 'tmpfs':
      if (!targetSet || m.target === '') fail('target is required; expected target=<path in the container>');
      break;
    case 'cache':
      if (!targetSet || m.target === '') fail('target is required; expected target=<path in the container>');
      m.id ??= m.target;
      m.sharing ??= 'shared';
      m.mode ??= 0o755;
      m.uid ??= 0;
      m.gid ??= 0;
      break;
    case 'secret':
      // As BuildKit: source= names the secret too, and wins over id=.
      if (m.source !== undefined && m.source !== '') m.id = m.source;
      if (m.id === undefined || m.id === '') {
        if (m.target === '') fail('one of id or target is required for a secret mount');
        m.id = m.target.replace(/\/+$/, '').split('/').pop() ?? '';
      }
      if (m.target === '' && m.env === undefined) m.target = `/run/secrets/${m.id}`;
      m.mode ??= 0o400;
      m.uid ??= 0;
      m.gid ??= 0;
      m.required ??= false;
      break;
    case 'ssh':
      if (m.source !== undefined) fail('ssh does not support source');
      m.id ??= 'default';
      if (m.target === '') m.target = `/run/buildkit/ssh_agent.${sshIndex}`;
      m.mode ??= 0o600;
      m.uid ??= 0;
      m.gid ??= 0;
      m.required ??= false;
      break;
  }
  return m;
}

function splitKV(field: string): [string, string | undefined] {
  const eq = field.indexOf('=');
  return eq < 0 ? [field.trim(), undefined] : [field.slice(0, eq).trim(), field.slice(eq + 1)];
}

/** `from=` of a raw mount value, without validating the rest (for planning dependencies). */
export function mountFrom(value: string): string | undefined {
  let fields: string[];
  try {
    fields = splitCsv(value);
  } catch {
    return undefined;
  }
  let from: string | undefined;
  for (const f of fields) {
    const [k, v] = splitKV(f);
    if (k.toLowerCase() === 'from' && v !== undefined) from = v;
  }
  return from;
}

export type ChmodSpec = { kind: 'octal'; mode: number } | { kind: 'symbolic'; text: string; clauses: ChmodClause[] };

export interface ChmodClause {
  who: string; // subset of 'ugo' ('a' expanded); '' means all, masked by nothing (as chmod without umask)
  op: '+' | '-' | '=';
  perms: string; // subset of 'rwxXst' or a copy source 'u'|'g'|'o'
}

/** `--chmod` value: octal (`755`, `0644`) or symbolic (`u=rwX,go=rX`, `+x`, `g=u`). */
export function parseChmod(value: string): ChmodSpec {
  if (/^[0-7]{1,4}$/.test(value)) return { kind: 'octal', mode: parseInt(value, 8) };
  const clauses: ChmodClause[] = [];
  for (const part of value.split(',')) {
    const m = /^([ugoa]*)((?:[+=-](?:[rwxXst]*|[ugo]))+)$/.exec(part);
    if (!m) throw new Error(`invalid chmod ${JSON.stringify(value)}: expected octal like 0755 or symbolic like u=rwX,go=rX`);
    let who = m[1] as string;
    if (who.includes('a')) who = 'ugo';
    for (const action of (m[2] as string).matchAll(/([+=-])([ugo](?![rwxXst])|[rwxXst]*)/g)) {
      clauses.push({ who, op: action[1] as ChmodClause['op'], perms: action[2] as string });
    }
  }
  return { kind: 'symbolic', text: value, clauses };
}

/** Applies a chmod spec to an existing mode (permission bits and setuid/setgid/sticky). */
export function applyChmod(spec: ChmodSpec, mode: number, isDir: boolean): number {
  if (spec.kind === 'octal') return spec.mode;
  let cur = mode & 0o7777;
  const shift: Record<string, number> = { u: 6, g: 3, o: 0 };
  for (const c of spec.clauses) {
    const who = c.who === '' ? 'ugo' : c.who;
    let bits = 0;
    if (c.perms === 'u' || c.perms === 'g' || c.perms === 'o') {
      const src = (cur >> (shift[c.perms] as number)) & 7;
      for (const w of who) bits |= src << (shift[w] as number);
    } else {
      for (const p of c.perms) {
        let b = 0;
        if (p === 'r') b = 4;
        else if (p === 'w') b = 2;
        else if (p === 'x') b = 1;
        else if (p === 'X') b = isDir || (mode & 0o111) !== 0 ? 1 : 0;
        for (const w of who) bits |= b << (shift[w] as number);
        if (p === 's') {
          if (who.includes('u')) bits |= 0o4000;
          if (who.includes('g')) bits |= 0o2000;
        }
        if (p === 't') bits |= 0o1000;
      }
    }
    let mask = 0;
    for (const w of who) mask |= 7 << (shift[w] as number);
    if (who.includes('u')) mask |= 0o4000;
    if (who.includes('g')) mask |= 0o2000;
    if (c.op === '+') cur |= bits;
    else if (c.op === '-') cur &= ~bits;
    else cur = (cur & ~mask) | bits;
  }
  return cur;
}

export interface ChownSpec {
  user: string;
  group?: string;
  /** Numeric ids when given as numbers (no /etc/passwd lookup needed). */
  uid?: number;
  gid?: number;
}

/** `--chown=user[:group]`; names or numeric ids. */
export function parseChown(value: string): ChownSpec {
  if (value === '' || value.startsWith(':')) throw new Error(`invalid chown ${JSON.stringify(value)}: expected user[:group]`);
  const [user, group, ...extra] = value.split(':');
  if (extra.length > 0 || group === '') throw new Error(`invalid chown ${JSON.stringify(value)}: expected user[:group]`);
  const spec: ChownSpec = { user: user as string };
  if (/^\d+$/.test(user as string)) spec.uid = Number(user);
  if (group !== undefined) {
    spec.group = group;
    if (/^\d+$/.test(group)) spec.gid = Number(group);
  }
  return spec;
}
