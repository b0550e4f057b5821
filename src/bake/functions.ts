/**
 * The functions bake files may call: exactly buildx's stdlib (go-cty's standard functions plus
 * buildx's own), no more, so a file that works here works with buildx. `try`, `can` and
 * `convert` need their arguments unevaluated and live in load.ts.
 */
import { deepEqual, ExprError, toBool, toNum, toStr, typeName, type HclFunction, type Value } from './expr.js';
import { netFunctions } from './functions-net.js';
import { textFunctions } from './functions-text.js';
import { timeFunctions } from './functions-time.js';
import os from 'node:os';

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

/** cty keeps sets of strings sorted and of numbers in numeric order. */
function asSet(vs: Value[]): Value[] {
  const d = distinct(vs);
  if (d.every((x) => typeof x === 'string')) return (d as string[]).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  if (d.every((x) => typeof x === 'number')) return (d as number[]).sort((a, b) => a - b);
  return d;
}

/** The type all of several values convert to, for coalesce: strings win over numbers and bools. */
function unified(vs: Value[]): (v: Value) => Value {
  const kinds = new Set(vs.filter((v) => v !== null).map((v) => (Array.isArray(v) ? 'list' : typeof v)));
  if (kinds.size > 1 && [...kinds].every((k) => k === 'string' || k === 'number' || k === 'boolean')) return (v) => (v === null ? v : toStr(v));
  if (kinds.size > 1) throw new ExprError('all arguments must have the same type');
  return (v) => v;
}

function flatten(v: Value[]): Value[] {
  return v.flatMap((x) => (Array.isArray(x) ? flatten(x) : [x]));
}

function csvDecode(text: string): Value {
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
  const [head, ...rest] = rows;
  if (!head) throw new ExprError('csvdecode(): missing header line');
  return rest.map((r) => {
    if (r.length !== head.length) throw new ExprError(`csvdecode(): wrong number of fields (want ${head.length}, got ${r.length})`);
    return Object.fromEntries(head.map((h, i) => [h, r[i]!]));
  });
}

const num2 = (name: string, f: (a: number, b: number) => Value) => (a: Value[]) => (arity(name, a, 2), f(toNum(a[0]!), toNum(a[1]!)));
const unsupported = (name: string) => () => {
  throw new ExprError(`${name}(): not supported by stratum`);
};

const F: Record<string, HclFunction> = {
  ...textFunctions,
  ...timeFunctions,
  ...netFunctions,
  // numbers
  absolute: (a) => (arity('absolute', a, 1), Math.abs(toNum(a[0]!))),
  add: num2('add', (x, y) => x + y),
  subtract: num2('subtract', (x, y) => x - y),
  multiply: num2('multiply', (x, y) => x * y),
  divide: num2('divide', (x, y) => {
    if (y === 0) throw new ExprError('divide(): can not divide by zero');
    return x / y;
  }),
  modulo: num2('modulo', (x, y) => {
    if (y === 0) throw new ExprError('modulo(): can not divide by zero');
    return x % y;
  }),
  negate: (a) => (arity('negate', a, 1), -toNum(a[0]!)),
  ceil: (a) => (arity('ceil', a, 1), Math.ceil(toNum(a[0]!))),
  floor: (a) => (arity('floor', a, 1), Math.floor(toNum(a[0]!))),
  int: (a) => (arity('int', a, 1), Math.trunc(toNum(a[0]!))),
  log: num2('log', (x, b) => Math.log(x) / Math.log(b)),
  pow: num2('pow', (x, y) => Math.pow(x, y)),
  signum: (a) => (arity('signum', a, 1), Math.sign(toNum(a[0]!))),
  max: (a) => (arity('max', a, 1, Infinity), Math.max(...a.map((x) => toNum(x)))),
  min: (a) => (arity('min', a, 1, Infinity), Math.min(...a.map((x) => toNum(x)))),
  parseint: (a) => {
    arity('parseint', a, 2);
    const base = toNum(a[1]!);
    const s = toStr(a[0]!);
    if (!Number.isInteger(base) || base < 2 || base > 62) throw new ExprError('parseint(): base must be a whole number between 2 and 62 inclusive');
    const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
    if (!new RegExp(`^[-+]?[${digits}]+$`, 'i').test(s)) throw new ExprError(`parseint(): cannot parse ${JSON.stringify(s)} as a base ${base} integer`);
    return parseInt(s, base);
  },
  greaterthan: num2('greaterthan', (x, y) => x > y),
  greaterthanorequalto: num2('greaterthanorequalto', (x, y) => x >= y),
  lessthan: num2('lessthan', (x, y) => x < y),
  lessthanorequalto: num2('lessthanorequalto', (x, y) => x <= y),
  // logic
  and: (a) => (arity('and', a, 2), toBool(a[0]!) && toBool(a[1]!)),
  or: (a) => (arity('or', a, 2), toBool(a[0]!) || toBool(a[1]!)),
  not: (a) => (arity('not', a, 1), !toBool(a[0]!)),
  equal: (a) => (arity('equal', a, 2), deepEqual(a[0]!, a[1]!)),
  notequal: (a) => (arity('notequal', a, 2), !deepEqual(a[0]!, a[1]!)),
  // collections
  length: (a) => {
    arity('length', a, 1);
    const v = a[0]!;
    if (typeof v === 'string') return [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(v)].length;
    if (Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw new ExprError(`length(): cannot take the length of a ${typeName(v)}`);
  },
  coalesce: (a) => {
    const conv = unified(a);
    for (const v of a) if (v !== null) return conv(v);
    throw new ExprError('coalesce(): no non-null arguments');
  },
  coalescelist: (a) => {
    for (const v of a) if (list(v, 'coalescelist()').length) return v;
    throw new ExprError('coalescelist(): no non-null arguments');
  },
  concat: (a) => a.flatMap((l) => list(l, 'concat()')),
  contains: (a) => (arity('contains', a, 2), list(a[0]!, 'contains()').some((x) => deepEqual(x, a[1]!))),
  compact: (a) => (arity('compact', a, 1), list(a[0]!, 'compact()').filter((x) => x !== null && x !== '').map((x) => toStr(x))),
  distinct: (a) => (arity('distinct', a, 1), distinct(list(a[0]!, 'distinct()'))),
  element: (a) => {
    arity('element', a, 2);
    const l = list(a[0]!, 'element()');
    if (!l.length) throw new ExprError('element(): cannot use element function with an empty list');
    const i = toNum(a[1]!);
    if (!Number.isInteger(i)) throw new ExprError('element(): invalid index');
    return l[((i % l.length) + l.length) % l.length]!;
  },
  index: (a) => {
    arity('index', a, 2);
    const c = a[0]!;
    if (Array.isArray(c)) {
      const i = toNum(a[1]!);
      if (!Number.isInteger(i) || i < 0 || i >= c.length) throw new ExprError('index(): invalid index');
      return c[i]!;
    }
    const o = obj(c, 'index()');
    const k = toStr(a[1]!);
    if (!Object.prototype.hasOwnProperty.call(o, k)) throw new ExprError('index(): invalid index');
    return o[k]!;
  },
  indexof: (a) => {
    arity('indexof', a, 2);
    const l = list(a[0]!, 'indexof()');
    if (!l.length) throw new ExprError('indexof(): cannot search an empty list');
    const i = l.findIndex((x) => deepEqual(x, a[1]!));
    if (i < 0) throw new ExprError('indexof(): item not found');
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
    if (n < 0) throw new ExprError('chunklist(): the size argument must be positive');
    if (!l.length) return [];
    if (n === 0) return [l];
    const out: Value[] = [];
    for (let i = 0; i < l.length; i += n) out.push(l.slice(i, i + n));
    return out;
  },
  keys: (a) => (arity('keys', a, 1), Object.keys(obj(a[0]!, 'keys()')).sort()),
  values: (a) => {
    arity('values', a, 1);
    const o = obj(a[0]!, 'values()');
    return Object.keys(o)
      .sort()
      .map((k) => o[k]!);
  },
  lookup: (a) => {
    // buildx's lookup takes its default as a required third argument.
    arity('lookup', a, 3);
    const o = obj(a[0]!, 'lookup()');
    const k = toStr(a[1]!);
    return Object.prototype.hasOwnProperty.call(o, k) ? o[k]! : a[2]!;
  },
  merge: (a) => Object.assign({}, ...a.filter((x) => x !== null).map((x) => obj(x, 'merge()'))) as Obj,
  range: (a) => {
    arity('range', a, 1, 3);
    const [start, end] = a.length === 1 ? [0, toNum(a[0]!)] : [toNum(a[0]!), toNum(a[1]!)];
    const step = a.length === 3 ? toNum(a[2]!) : end < start ? -1 : 1;
    if (step === 0) throw new ExprError('range(): step must not be zero');
    if (step < 0 && end > start) throw new ExprError('range(): end must be less than start when step is negative');
    if (step > 0 && end < start) throw new ExprError('range(): end must be greater than start when step is positive');
    const out: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) {
      out.push(i);
      if (out.length > 1024) throw new ExprError('range(): more than 1024 values were generated; either decrease the difference between start and end or use a smaller step');
    }
    return out;
  },
  slice: (a) => {
    arity('slice', a, 3);
    const l = list(a[0]!, 'slice()');
    const s = toNum(a[1]!);
    const e = toNum(a[2]!);
    if (s < 0 || e > l.length || s > e) throw new ExprError('slice(): invalid index range');
    return l.slice(s, e);
  },
  sort: (a) => {
    arity('sort', a, 1);
    const l = list(a[0]!, 'sort()').map((x) => {
      if (x === null) throw new ExprError('sort(): given list element is null; a null string cannot be sorted');
      return toStr(x);
    });
    return l.sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  },
  reverselist: (a) => (arity('reverselist', a, 1), [...list(a[0]!, 'reverselist()')].reverse()),
  zipmap: (a) => {
    arity('zipmap', a, 2);
    const k = list(a[0]!, 'zipmap()');
    const v = list(a[1]!, 'zipmap()');
    if (k.length !== v.length) throw new ExprError(`zipmap(): number of keys (${k.length}) does not match number of values (${v.length})`);
    return Object.fromEntries(k.map((x, i) => [toStr(x), v[i]!]));
  },
  setunion: (a) => asSet(a.flatMap((l) => list(l, 'setunion()'))),
  setintersection: (a) => {
    const [first, ...rest] = a.map((l) => list(l, 'setintersection()'));
    return asSet((first ?? []).filter((x) => rest.every((r) => r.some((y) => deepEqual(x, y)))));
  },
  setsubtract: (a) => (arity('setsubtract', a, 2), asSet(list(a[0]!, 'setsubtract()').filter((x) => !list(a[1]!, 'setsubtract()').some((y) => deepEqual(x, y))))),
  setsymmetricdifference: (a) => {
    const ls = a.map((l) => distinct(list(l, 'setsymmetricdifference()')));
    return asSet(ls.flat().filter((x) => ls.filter((l) => l.some((y) => deepEqual(x, y))).length % 2 === 1));
  },
  sethaselement: (a) => (arity('sethaselement', a, 2), list(a[0]!, 'sethaselement()').some((x) => deepEqual(x, a[1]!))),
  setproduct: (a) => a.map((l) => list(l, 'setproduct()')).reduce<Value[][]>((acc, l) => acc.flatMap((p) => l.map((x) => [...p, x])), [[]]),
  csvdecode: (a) => (arity('csvdecode', a, 1), csvDecode(toStr(a[0]!))),
  homedir: (a) => (arity('homedir', a, 0), os.homedir()),
  bcrypt: unsupported('bcrypt'),
  rsadecrypt: unsupported('rsadecrypt'),
  byteslen: unsupported('byteslen'),
  bytesslice: unsupported('bytesslice'),
};

export const stdlib: Readonly<Record<string, HclFunction>> = F;
