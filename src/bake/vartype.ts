/**
 * Variable types (`type = list(string)`) and how a variable's value is converted to its type,
 * from its default or from the environment: CSV for lists, sets, tuples and maps (`k:v,k2:v2`),
 * JSON through NAME_JSON, Go's bool and float syntax for primitives. A typed variable with no
 * default is null; an untyped one is "".
 */
import { csvFields } from './csv.js';
import { parseGoBool } from './entries.js';
import { deepEqual, ExprError, formatNumber, typeName, type Node, type Value } from './expr.js';

export type VarType =
  | { k: 'string' | 'number' | 'bool' | 'any' }
  | { k: 'list' | 'set' | 'map'; of: VarType }
  | { k: 'tuple'; of: VarType[] }
  | { k: 'object'; attrs: Record<string, VarType> };

export function typeFromNode(n: Node): VarType {
  if (n.t === 'var' && ['string', 'number', 'bool', 'any'].includes(n.name)) return { k: n.name as 'string' };
  if (n.t === 'call' && ['list', 'set', 'map'].includes(n.name) && n.args.length === 1) return { k: n.name as 'list', of: typeFromNode(n.args[0]!) };
  if (n.t === 'call' && n.name === 'tuple' && n.args.length === 1 && n.args[0]!.t === 'tuple') return { k: 'tuple', of: n.args[0]!.items.map(typeFromNode) };
  if (n.t === 'call' && n.name === 'object' && n.args.length === 1 && n.args[0]!.t === 'object') {
    const attrs: Record<string, VarType> = {};
    for (const [k, v] of n.args[0]!.items) {
      const name = k.t === 'lit' && typeof k.v === 'string' ? k.v : k.t === 'var' ? k.name : undefined;
      if (name === undefined) throw new ExprError('object type attribute names must be literal');
      attrs[name] = typeFromNode(v);
    }
    return { k: 'object', attrs };
  }
  throw new ExprError('invalid type expression (expected string, number, bool, any, list(T), set(T), map(T), tuple([...]) or object({...}))');
}

export function typeLabel(t: VarType): string {
  switch (t.k) {
    case 'list':
    case 'set':
    case 'map':
      return `${t.k} of ${typeLabel(t.of)}`;
    case 'tuple':
      return 'tuple';
    case 'object':
      return 'object';
    case 'any':
      return 'dynamic';
    default:
      return t.k;
  }
}

/** cty's string → number conversion: a decimal number, nothing else. */
export function parseNumber(s: string): number | undefined {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

function sortSet(items: Value[]): Value[] {
  const uniq: Value[] = [];
  for (const x of items) if (!uniq.some((y) => deepEqual(x, y))) uniq.push(x);
  // cty keeps sets of primitives in a fixed order: strings by bytes, numbers by value
  if (uniq.every((x) => typeof x === 'string')) return (uniq as string[]).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  if (uniq.every((x) => typeof x === 'number')) return (uniq as number[]).sort((a, b) => a - b);
  return uniq;
}

/** Converts a value to a declared type, with cty's conversion rules for what bake files use. */
export function convert(v: Value, t: VarType): Value {
  if (v === null || t.k === 'any') return v;
  const fail = (): never => {
    throw new ExprError(`${typeLabel(t)} required, got ${typeName(v)}`);
  };
  switch (t.k) {
    case 'string':
      if (typeof v === 'object') fail();
      return typeof v === 'number' ? formatNumber(v) : String(v);
    case 'number':
      if (typeof v === 'number') return v;
      if (typeof v === 'string') return parseNumber(v) ?? fail();
      return fail();
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      return fail();
    case 'list':
    case 'set': {
      if (!Array.isArray(v)) return fail();
      const items = v.map((x) => convert(x, t.of));
      return t.k === 'set' ? sortSet(items) : items;
    }
    case 'tuple':
      if (!Array.isArray(v) || v.length !== t.of.length) return fail();
      return v.map((x, i) => convert(x, t.of[i]!));
    case 'map':
      if (typeof v !== 'object' || Array.isArray(v)) return fail();
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x, t.of)]));
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) return fail();
      const out: Record<string, Value> = {};
      for (const [k, at] of Object.entries(t.attrs)) {
        if (!(k in v)) throw new ExprError(`attribute "${k}" is required`);
        out[k] = convert(v[k]!, at);
      }
      return out;
    }
  }
}

function primitiveFromEnv(name: string, s: string, t: VarType): Value {
  switch (t.k) {
    case 'string':
      return s;
    case 'bool': {
      const b = parseGoBool(s);
      if (b === undefined) throw new ExprError(`failed to parse ${name} as bool: invalid syntax`);
      return b;
    }
    case 'number': {
      const n = parseNumber(s.replace(/_/g, ''));
      if (n === undefined || !Number.isFinite(n)) throw new ExprError(`failed to parse ${name} as number: invalid syntax`);
      return n;
    }
  }
  throw new ExprError(`${name} of type ${typeLabel(t)} is not a primitive`);
}

const isPrimitive = (t: VarType) => t.k === 'string' || t.k === 'number' || t.k === 'bool';

/** A CSV environment value for a list, set, tuple or map variable. */
export function fromCsv(name: string, s: string, t: VarType): Value {
  let fields: string[];
  try {
    fields = csvFields(s);
  } catch (e) {
    throw new ExprError(`failed to parse ${s} as CSV: ${(e as Error).message === 'empty value' ? 'EOF' : (e as Error).message}`);
  }
  switch (t.k) {
    case 'list':
    case 'set': {
      if (!isPrimitive(t.of)) throw new ExprError(`unsupported type ${typeLabel(t)} for CSV specification`);
      const items = fields.map((f) => primitiveFromEnv(name, f, t.of));
      return t.k === 'set' ? sortSet(items) : items;
    }
    case 'tuple':
      if (t.of.length !== fields.length) throw new ExprError(`${typeLabel(t)} expects ${t.of.length} elements but only ${fields.length} provided`);
      return fields.map((f, i) => {
        if (!isPrimitive(t.of[i]!)) throw new ExprError(`unsupported type ${typeLabel(t)} for CSV specification`);
        return primitiveFromEnv(name, f, t.of[i]!);
      });
    case 'map': {
      if (!isPrimitive(t.of)) throw new ExprError(`unsupported type ${typeLabel(t)} for CSV specification`);
      const out: Record<string, Value> = {};
      for (const f of fields) {
        const kv = csvFields(f, ':');
        if (kv.length !== 2) throw new ExprError(`expected one k/v pair but got ${kv.length} pieces from ${f}`);
        out[kv[0]!] = primitiveFromEnv(name, kv[1]!, t.of);
      }
      return out;
    }
  }
  throw new ExprError(`unsupported type ${typeLabel(t)} for CSV specification`);
}

export const csvType = (t: VarType) => t.k === 'list' || t.k === 'set' || t.k === 'tuple' || t.k === 'map';

/**
 * The value of a variable overridden from the environment: `typed` is its declared type,
 * `current` its default's value when it has no type.
 */
export function fromEnv(name: string, s: string, json: boolean, typed: VarType | undefined, current: Value | undefined): Value {
  if (typed && json) {
    let doc: Value;
    try {
      doc = JSON.parse(s) as Value;
    } catch (e) {
      throw new ExprError(`failed to convert variable ${name} from JSON: ${(e as Error).message}`);
    }
    try {
      return convert(doc, typed);
    } catch (e) {
      throw new ExprError(`failed to convert variable ${name} from JSON: ${(e as Error).message}`);
    }
  }
  if (typed && csvType(typed)) {
    try {
      return fromCsv(name, s, typed);
    } catch (e) {
      throw new ExprError(`failed to convert variable ${name} from CSV: ${(e as Error).message}`);
    }
  }
  if (typed && isPrimitive(typed)) return primitiveFromEnv(name, s, typed);
  if (typed) throw new ExprError(`unsupported type ${typeLabel(typed)} for variable ${name}`);
  if (current === undefined || current === null) return s;
  if (typeof current === 'string') return s;
  if (typeof current === 'number') return primitiveFromEnv(name, s, { k: 'number' });
  if (typeof current === 'boolean') return primitiveFromEnv(name, s, { k: 'bool' });
  throw new ExprError(`unsupported type ${typeName(current)} for variable ${name}`);
}
