/** The standard functions bake files call (the go-cty stdlib set that buildx documents). */
import { createHash, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { deepEqual, ExprError, formatNumber, toBool, toNum, toStr, typeName, type HclFunction, type Value } from './expr.js';

type Obj = { [k: string]: Value };

function arity(name: string, args: Value[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
    throw new ExprError(`${name}(): expects ${want} argument(s), got ${args.length}`);
  }
}

function list(v: Value, what: string): Value[] {
  if (Array.isArray(v)) return v;
  throw new ExprError(`${what}: a list is required, got ${typeName(v)}`);
}

function obj(v: Value, what: string): Obj {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v;
  throw new ExprError(`${what}: a map is required, got ${typeName(v)}`);
}

function distinct(vs: Value[]): Value[] {
  const out: Value[] = [];
  for (const v of vs) if (!out.some((o) => deepEqual(o, v))) out.push(v);
  return out;
}

/** Go's regexp syntax is close enough to JS for what bake files use; named groups differ. */
function goRegex(pattern: string, flags = ''): RegExp {
  let p = pattern.replace(/\(\?P</g, '(?<');
  let f = flags;
  const inline = /^\(\?([imsU]+)\)/.exec(p);
  if (inline) {
    p = p.slice(inline[0].length);
    for (const c of inline[1]!) if ('ims'.includes(c) && !f.includes(c)) f += c;
  }
  try {
    return new RegExp(p, f);
  } catch (e) {
    throw new ExprError(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/** Go regexp replacement strings use $1 / ${1} / ${name}; JS uses $1 / $<name>. */
function goReplacement(s: string): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, n: string) => (/^[0-9]+$/.test(n) ? `$${n}` : `$<${n}>`));
}

/** Go-style fmt verbs as cty's format() supports them. */
export function format(fmt: string, args: Value[]): string {
  let i = 0;
  return fmt.replace(/%([-+ #0]*)(\d+)?(?:\.(\d+))?([%vsdqftbxXeEgGo])/g, (_m, flags: string, width?: string, prec?: string, verb?: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) throw new ExprError(`format(): not enough arguments for ${JSON.stringify(fmt)}`);
    const a = args[i++]!;
    let s: string;
    switch (verb) {
      case 'v':
        s = typeof a === 'object' && a !== null ? JSON.stringify(a) : a === null ? 'null' : toStr(a);
        break;
      case 's':
        s = toStr(a);
        break;
      case 'q':
        s = JSON.stringify(toStr(a));
        break;
      case 'd':
        s = Math.trunc(toNum(a)).toFixed(0);
        if (flags.includes('+') && toNum(a) >= 0) s = '+' + s;
        break;
      case 'f':
        s = toNum(a).toFixed(prec === undefined ? 6 : Number(prec));
        break;
      case 'e':
      case 'E':
        s = toNum(a).toExponential(prec === undefined ? 6 : Number(prec));
        if (verb === 'E') s = s.toUpperCase();
        break;
      case 'g':
      case 'G':
        s = formatNumber(toNum(a));
        break;
      case 't':
        s = toBool(a) ? 'true' : 'false';
        break;
      case 'b':
        s = Math.trunc(toNum(a)).toString(2);
        break;
      case 'o':
        s = Math.trunc(toNum(a)).toString(8);
        break;
      case 'x':
        s = typeof a === 'string' ? Buffer.from(a).toString('hex') : Math.trunc(toNum(a)).toString(16);
        break;
      case 'X':
        s = (typeof a === 'string' ? Buffer.from(a).toString('hex') : Math.trunc(toNum(a)).toString(16)).toUpperCase();
        break;
      default:
        s = toStr(a);
    }
    if (prec !== undefined && verb === 's') s = s.slice(0, Number(prec));
    if (width !== undefined && s.length < Number(width)) {
      const pad = Number(width) - s.length;
      if (flags.includes('-')) s = s + ' '.repeat(pad);
      else if (flags.includes('0') && verb !== 's') s = (s.startsWith('-') ? '-' + '0'.repeat(pad) + s.slice(1) : '0'.repeat(pad) + s);
      else s = ' '.repeat(pad) + s;
    }
    return s;
  });
}

/** RFC 3339 timestamp parsing for formatdate/timeadd. */
function parseTime(s: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s)) throw new ExprError(`not a valid RFC 3339 timestamp: ${JSON.stringify(s)}`);
  return new Date(s);
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** formatdate() spec letters (YYYY, MM, DD, hh, mm, ss, …); quoted 'text' is literal. Always UTC. */
export function formatDate(spec: string, ts: string): string {
  const d = parseTime(ts);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const tokens: [string, () => string][] = [
    ['YYYY', () => String(d.getUTCFullYear()).padStart(4, '0')],
    ['YY', () => p2(d.getUTCFullYear() % 100)],
    ['MMMM', () => MONTHS[d.getUTCMonth()]!],
    ['MMM', () => MONTHS[d.getUTCMonth()]!.slice(0, 3)],
    ['MM', () => p2(d.getUTCMonth() + 1)],
    ['M', () => String(d.getUTCMonth() + 1)],
    ['DD', () => p2(d.getUTCDate())],
    ['D', () => String(d.getUTCDate())],
    ['EEEE', () => DAYS[d.getUTCDay()]!],
    ['EEE', () => DAYS[d.getUTCDay()]!.slice(0, 3)],
    ['hh', () => p2(d.getUTCHours())],
    ['h', () => String(d.getUTCHours())],
    ['HH', () => p2(d.getUTCHours() % 12 || 12)],
    ['H', () => String(d.getUTCHours() % 12 || 12)],
    ['AA', () => (d.getUTCHours() < 12 ? 'AM' : 'PM')],
    ['aa', () => (d.getUTCHours() < 12 ? 'am' : 'pm')],
    ['mm', () => p2(d.getUTCMinutes())],
    ['m', () => String(d.getUTCMinutes())],
    ['ss', () => p2(d.getUTCSeconds())],
    ['s', () => String(d.getUTCSeconds())],
    ['ZZZZZ', () => '+00:00'],
    ['ZZZZ', () => '+0000'],
    ['ZZZ', () => 'UTC'],
    ['Z', () => 'Z'],
  ];
  let out = '';
  let i = 0;
  while (i < spec.length) {
    if (spec[i] === "'") {
      const end = spec.indexOf("'", i + 1);
      if (end < 0) throw new ExprError('formatdate(): unterminated quote in format');
      out += end === i + 1 ? "'" : spec.slice(i + 1, end);
      i = end + 1;
      continue;
    }
    const tok = tokens.find(([t]) => spec.startsWith(t, i));
    if (tok) {
      out += tok[1]();
      i += tok[0].length;
    } else if (/[A-Za-z]/.test(spec[i]!)) throw new ExprError(`formatdate(): unsupported format letter ${spec[i]}`);
    else out += spec[i++];
  }
  return out;
}

function durationMs(s: string): number {
  const re = /(-?[0-9.]+)(ns|us|µs|ms|s|m|h)/g;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) {
    const mult = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] as 'ns'];
    total += Number(m[1]) * mult;
    consumed += m[0].length;
  }
  if (consumed !== s.length || !s) throw new ExprError(`invalid duration ${JSON.stringify(s)}`);
  return total;
}

const hash = (alg: string) => (args: Value[]) => createHash(alg).update(toStr(args[0]!)).digest('hex');

function sortKey(v: Value): string {
  return toStr(v);
}

function flatten(v: Value[]): Value[] {
  return v.flatMap((x) => (Array.isArray(x) ? flatten(x) : [x]));
}

function uuidv5(ns: string, name: string): string {
  const nsIds: Record<string, string> = {
    dns: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    url: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
    oid: '6ba7b812-9dad-11d1-80b4-00c04fd430c8',
    x500: '6ba7b814-9dad-11d1-80b4-00c04fd430c8',
  };
  const id = (nsIds[ns] ?? ns).replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(id)) throw new ExprError(`uuidv5(): bad namespace ${JSON.stringify(ns)}`);
  const h = createHash('sha1').update(Buffer.from(id, 'hex')).update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function csvParse(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') q = false;
      else field += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export { csvParse };

const F: Record<string, HclFunction> = {
  // numbers
  absolute: (a) => (arity('absolute', a, 1), Math.abs(toNum(a[0]!))),
  add: (a) => (arity('add', a, 2), toNum(a[0]!) + toNum(a[1]!)),
  subtract: (a) => (arity('subtract', a, 2), toNum(a[0]!) - toNum(a[1]!)),
  multiply: (a) => (arity('multiply', a, 2), toNum(a[0]!) * toNum(a[1]!)),
  divide: (a) => {
    arity('divide', a, 2);
    if (toNum(a[1]!) === 0) throw new ExprError('divide(): division by zero');
    return toNum(a[0]!) / toNum(a[1]!);
  },
  modulo: (a) => (arity('modulo', a, 2), toNum(a[0]!) % toNum(a[1]!)),
  negate: (a) => (arity('negate', a, 1), -toNum(a[0]!)),
  ceil: (a) => (arity('ceil', a, 1), Math.ceil(toNum(a[0]!))),
  floor: (a) => (arity('floor', a, 1), Math.floor(toNum(a[0]!))),
  int: (a) => (arity('int', a, 1), Math.trunc(toNum(a[0]!))),
  log: (a) => (arity('log', a, 2), Math.log(toNum(a[0]!)) / Math.log(toNum(a[1]!))),
  pow: (a) => (arity('pow', a, 2), Math.pow(toNum(a[0]!), toNum(a[1]!))),
  signum: (a) => (arity('signum', a, 1), Math.sign(toNum(a[0]!))),
  max: (a) => (arity('max', a, 1, Infinity), Math.max(...a.map((x) => toNum(x)))),
  min: (a) => (arity('min', a, 1, Infinity), Math.min(...a.map((x) => toNum(x)))),
  parseint: (a) => {
    arity('parseint', a, 2);
    const base = toNum(a[1]!);
    const s = toStr(a[0]!);
    const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
    if (!new RegExp(`^[-+]?[${digits}]+$`, 'i').test(s)) throw new ExprError(`parseint(): cannot parse ${JSON.stringify(s)} as a base ${base} integer`);
    return parseInt(s, base);
  },
  greaterthan: (a) => (arity('greaterthan', a, 2), toNum(a[0]!) > toNum(a[1]!)),
  greaterthanorequalto: (a) => (arity('greaterthanorequalto', a, 2), toNum(a[0]!) >= toNum(a[1]!)),
  lessthan: (a) => (arity('lessthan', a, 2), toNum(a[0]!) < toNum(a[1]!)),
  lessthanorequalto: (a) => (arity('lessthanorequalto', a, 2), toNum(a[0]!) <= toNum(a[1]!)),
  // logic
  and: (a) => (arity('and', a, 2), toBool(a[0]!) && toBool(a[1]!)),
  or: (a) => (arity('or', a, 2), toBool(a[0]!) || toBool(a[1]!)),
  not: (a) => (arity('not', a, 1), !toBool(a[0]!)),
  xor: (a) => (arity('xor', a, 2), toBool(a[0]!) !== toBool(a[1]!)),
  equal: (a) => (arity('equal', a, 2), deepEqual(a[0]!, a[1]!)),
  notequal: (a) => (arity('notequal', a, 2), !deepEqual(a[0]!, a[1]!)),
  // strings
  lower: (a) => (arity('lower', a, 1), toStr(a[0]!).toLowerCase()),
  upper: (a) => (arity('upper', a, 1), toStr(a[0]!).toUpperCase()),
  title: (a) => (arity('title', a, 1), toStr(a[0]!).replace(/(^|\s)(\S)/g, (_m, s: string, c: string) => s + c.toUpperCase())),
  strlen: (a) => (arity('strlen', a, 1), [...toStr(a[0]!)].length),
  reverse: (a) => (arity('reverse', a, 1), Array.isArray(a[0]) ? [...a[0]].reverse() : [...toStr(a[0]!)].reverse().join('')),
  strrev: (a) => (arity('strrev', a, 1), [...toStr(a[0]!)].reverse().join('')),
  substr: (a) => {
    arity('substr', a, 3);
    const chars = [...toStr(a[0]!)];
    let off = toNum(a[1]!);
    let len = toNum(a[2]!);
    if (off < 0) off = Math.max(0, chars.length + off);
    if (off > chars.length) throw new ExprError('substr(): offset out of range');
    if (len < 0) len = chars.length - off;
    return chars.slice(off, off + len).join('');
  },
  replace: (a) => {
    arity('replace', a, 3);
    const s = toStr(a[0]!);
    const what = toStr(a[1]!);
    const by = toStr(a[2]!);
    // terraform-style: /re/ means a regular expression
    if (what.length > 1 && what.startsWith('/') && what.endsWith('/')) return s.replace(goRegex(what.slice(1, -1), 'g'), goReplacement(by));
    return what === '' ? s : s.split(what).join(by);
  },
  regex_replace: (a) => (arity('regex_replace', a, 3), toStr(a[0]!).replace(goRegex(toStr(a[1]!), 'g'), goReplacement(toStr(a[2]!)))),
  regex: (a) => {
    arity('regex', a, 2);
    const re = goRegex(toStr(a[0]!));
    const m = re.exec(toStr(a[1]!));
    if (!m) throw new ExprError('regex(): pattern did not match');
    if (m.groups && Object.keys(m.groups).length) return Object.fromEntries(Object.entries(m.groups).map(([k, v]) => [k, v ?? null]));
    if (m.length > 1) return m.slice(1).map((x) => x ?? null);
    return m[0];
  },
  regexall: (a) => {
    arity('regexall', a, 2);
    const re = goRegex(toStr(a[0]!), 'g');
    return [...toStr(a[1]!).matchAll(re)].map((m) => {
      if (m.groups && Object.keys(m.groups).length) return Object.fromEntries(Object.entries(m.groups).map(([k, v]) => [k, v ?? null]));
      if (m.length > 1) return m.slice(1).map((x) => x ?? null);
      return m[0];
    });
  },
  join: (a) => {
    arity('join', a, 2, Infinity);
    const sep = toStr(a[0]!);
    return a.slice(1).flatMap((l) => list(l, 'join()')).map((x) => toStr(x)).join(sep);
  },
  split: (a) => (arity('split', a, 2), toStr(a[1]!).split(toStr(a[0]!))),
  trim: (a) => {
    arity('trim', a, 2);
    const cut = new Set([...toStr(a[1]!)]);
    const cs = [...toStr(a[0]!)];
    let s = 0;
    let e = cs.length;
    while (s < e && cut.has(cs[s]!)) s++;
    while (e > s && cut.has(cs[e - 1]!)) e--;
    return cs.slice(s, e).join('');
  },
  trimspace: (a) => (arity('trimspace', a, 1), toStr(a[0]!).trim()),
  trimprefix: (a) => {
    arity('trimprefix', a, 2);
    const s = toStr(a[0]!);
    const p = toStr(a[1]!);
    return s.startsWith(p) ? s.slice(p.length) : s;
  },
  trimsuffix: (a) => {
    arity('trimsuffix', a, 2);
    const s = toStr(a[0]!);
    const p = toStr(a[1]!);
    return p && s.endsWith(p) ? s.slice(0, -p.length) : s;
  },
  chomp: (a) => (arity('chomp', a, 1), toStr(a[0]!).replace(/(\r?\n)+$/, '')),
  indent: (a) => (arity('indent', a, 2), toStr(a[1]!).replace(/\n/g, '\n' + ' '.repeat(toNum(a[0]!)))),
  startswith: (a) => (arity('startswith', a, 2), toStr(a[0]!).startsWith(toStr(a[1]!))),
  endswith: (a) => (arity('endswith', a, 2), toStr(a[0]!).endsWith(toStr(a[1]!))),
  format: (a) => (arity('format', a, 1, Infinity), format(toStr(a[0]!), a.slice(1))),
  formatlist: (a) => {
    arity('formatlist', a, 1, Infinity);
    const fmt = toStr(a[0]!);
    const rest = a.slice(1);
    const n = Math.max(0, ...rest.filter(Array.isArray).map((l) => (l as Value[]).length));
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(format(fmt, rest.map((r) => (Array.isArray(r) ? (r[i] ?? null) : r))));
    return out;
  },
  sanitize: (a) => (arity('sanitize', a, 1), toStr(a[0]!).replace(/[^a-zA-Z0-9_]/g, '_')),
  urlencode: (a) => (arity('urlencode', a, 1), encodeURIComponent(toStr(a[0]!))),
  base64encode: (a) => (arity('base64encode', a, 1), Buffer.from(toStr(a[0]!)).toString('base64')),
  base64decode: (a) => (arity('base64decode', a, 1), Buffer.from(toStr(a[0]!), 'base64').toString('utf8')),
  md5: hash('md5'),
  sha1: hash('sha1'),
  sha256: hash('sha256'),
  sha512: hash('sha512'),
  uuidv4: (a) => (arity('uuidv4', a, 0), randomUUID()),
  uuidv5: (a) => (arity('uuidv5', a, 2), uuidv5(toStr(a[0]!), toStr(a[1]!))),
  basename: (a) => (arity('basename', a, 1), path.posix.basename(toStr(a[0]!))),
  dirname: (a) => (arity('dirname', a, 1), path.posix.dirname(toStr(a[0]!))),
  homedir: (a) => (arity('homedir', a, 0), os.homedir()),
  // collections
  length: (a) => {
    arity('length', a, 1);
    const v = a[0]!;
    if (typeof v === 'string') return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw new ExprError(`length(): cannot take the length of a ${typeName(v)}`);
  },
  coalesce: (a) => {
    for (const v of a) if (v !== null && v !== '') return v;
    throw new ExprError('coalesce(): no non-null, non-empty argument');
  },
  coalescelist: (a) => {
    for (const v of a) if (Array.isArray(v) && v.length) return v;
    throw new ExprError('coalescelist(): no non-empty list');
  },
  concat: (a) => a.flatMap((l) => list(l, 'concat()')),
  contains: (a) => (arity('contains', a, 2), list(a[0]!, 'contains()').some((x) => deepEqual(x, a[1]!))),
  compact: (a) => (arity('compact', a, 1), list(a[0]!, 'compact()').filter((x) => x !== null && x !== '')),
  distinct: (a) => (arity('distinct', a, 1), distinct(list(a[0]!, 'distinct()'))),
  element: (a) => {
    arity('element', a, 2);
    const l = list(a[0]!, 'element()');
    if (!l.length) throw new ExprError('element(): empty list');
    return l[((toNum(a[1]!) % l.length) + l.length) % l.length]!;
  },
  index: (a) => {
    arity('index', a, 2);
    const i = list(a[0]!, 'index()').findIndex((x) => deepEqual(x, a[1]!));
    if (i < 0) throw new ExprError('index(): value not found');
    return i;
  },
  indexof: (a) => {
    arity('indexof', a, 2);
    const i = list(a[0]!, 'indexof()').findIndex((x) => deepEqual(x, a[1]!));
    if (i < 0) throw new ExprError('indexof(): value not found');
    return i;
  },
  hasindex: (a) => {
    arity('hasindex', a, 2);
    const c = a[0]!;
    if (Array.isArray(c)) {
      const i = toNum(a[1]!);
      return Number.isInteger(i) && i >= 0 && i < c.length;
    }
    return Object.prototype.hasOwnProperty.call(obj(c, 'hasindex()'), toStr(a[1]!));
  },
  flatten: (a) => (arity('flatten', a, 1), flatten(list(a[0]!, 'flatten()'))),
  chunklist: (a) => {
    arity('chunklist', a, 2);
    const l = list(a[0]!, 'chunklist()');
    const n = toNum(a[1]!);
    if (n <= 0) return [l];
    const out: Value[] = [];
    for (let i = 0; i < l.length; i += n) out.push(l.slice(i, i + n));
    return out;
  },
  keys: (a) => (arity('keys', a, 1), Object.keys(obj(a[0]!, 'keys()')).sort()),
  values: (a) => {
    arity('values', a, 1);
    const o = obj(a[0]!, 'values()');
    return Object.keys(o).sort().map((k) => o[k]!);
  },
  lookup: (a) => {
    arity('lookup', a, 2, 3);
    const o = obj(a[0]!, 'lookup()');
    const k = toStr(a[1]!);
    if (Object.prototype.hasOwnProperty.call(o, k)) return o[k]!;
    if (a.length === 3) return a[2]!;
    throw new ExprError(`lookup(): no key ${JSON.stringify(k)} and no default`);
  },
  merge: (a) => Object.assign({}, ...a.filter((x) => x !== null).map((x) => obj(x, 'merge()'))) as Obj,
  range: (a) => {
    arity('range', a, 1, 3);
    const [start, end] = a.length === 1 ? [0, toNum(a[0]!)] : [toNum(a[0]!), toNum(a[1]!)];
    const step = a.length === 3 ? toNum(a[2]!) : a.length === 2 && end < start ? -1 : 1;
    if (step === 0) throw new ExprError('range(): step must not be zero');
    const out: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) {
      out.push(i);
      if (out.length > 1024) throw new ExprError('range(): more than 1024 elements');
    }
    return out;
  },
  slice: (a) => (arity('slice', a, 3), list(a[0]!, 'slice()').slice(toNum(a[1]!), toNum(a[2]!))),
  sort: (a) => (arity('sort', a, 1), [...list(a[0]!, 'sort()')].sort((x, y) => (sortKey(x) < sortKey(y) ? -1 : sortKey(x) > sortKey(y) ? 1 : 0))),
  reverselist: (a) => (arity('reverselist', a, 1), [...list(a[0]!, 'reverselist()')].reverse()),
  zipmap: (a) => {
    arity('zipmap', a, 2);
    const k = list(a[0]!, 'zipmap()');
    const v = list(a[1]!, 'zipmap()');
    if (k.length !== v.length) throw new ExprError('zipmap(): lists differ in length');
    return Object.fromEntries(k.map((x, i) => [toStr(x), v[i]!]));
  },
  setunion: (a) => distinct(a.flatMap((l) => list(l, 'setunion()'))),
  setintersection: (a) => {
    const [first, ...rest] = a.map((l) => list(l, 'setintersection()'));
    return distinct((first ?? []).filter((x) => rest.every((r) => r.some((y) => deepEqual(x, y)))));
  },
  setsubtract: (a) => (arity('setsubtract', a, 2), distinct(list(a[0]!, 'setsubtract()').filter((x) => !list(a[1]!, 'setsubtract()').some((y) => deepEqual(x, y))))),
  setsymmetricdifference: (a) => {
    const ls = a.map((l) => distinct(list(l, 'setsymmetricdifference()')));
    const all = distinct(ls.flat());
    return all.filter((x) => ls.filter((l) => l.some((y) => deepEqual(x, y))).length % 2 === 1);
  },
  sethaskey: (a) => (arity('sethaskey', a, 2), list(a[0]!, 'sethaskey()').some((x) => deepEqual(x, a[1]!))),
  setproduct: (a) => a.map((l) => list(l, 'setproduct()')).reduce<Value[][]>((acc, l) => acc.flatMap((p) => l.map((x) => [...p, x])), [[]]),
  // conversions
  tostring: (a) => (arity('tostring', a, 1), a[0] === null ? null : toStr(a[0]!)),
  tonumber: (a) => (arity('tonumber', a, 1), a[0] === null ? null : toNum(a[0]!)),
  tobool: (a) => (arity('tobool', a, 1), a[0] === null ? null : toBool(a[0]!)),
  tolist: (a) => (arity('tolist', a, 1), [...list(a[0]!, 'tolist()')]),
  toset: (a) => (arity('toset', a, 1), distinct(list(a[0]!, 'toset()'))),
  tomap: (a) => (arity('tomap', a, 1), { ...obj(a[0]!, 'tomap()') }),
  jsonencode: (a) => (arity('jsonencode', a, 1), JSON.stringify(a[0]!)),
  jsondecode: (a) => {
    arity('jsondecode', a, 1);
    try {
      return JSON.parse(toStr(a[0]!)) as Value;
    } catch (e) {
      throw new ExprError(`jsondecode(): ${(e as Error).message}`);
    }
  },
  csvdecode: (a) => {
    arity('csvdecode', a, 1);
    const [head, ...rows] = csvParse(toStr(a[0]!));
    if (!head) return [];
    return rows.map((r) => {
      if (r.length !== head.length) throw new ExprError('csvdecode(): a row has the wrong number of fields');
      return Object.fromEntries(head.map((h, i) => [h, r[i]!]));
    });
  },
  // time
  timestamp: (a) => (arity('timestamp', a, 0), rfc3339(new Date())),
  formatdate: (a) => (arity('formatdate', a, 2), formatDate(toStr(a[0]!), toStr(a[1]!))),
  timeadd: (a) => (arity('timeadd', a, 2), rfc3339(new Date(parseTime(toStr(a[0]!)).getTime() + durationMs(toStr(a[1]!))))),
};

export const stdlib: Readonly<Record<string, HclFunction>> = F;
