/**
 * Evaluates HCL expressions (parsed by expr-parse.ts) against a scope of variables and functions,
 * with cty's rules where bake files can see them: strings and numbers convert both ways where an
 * operator needs one, "1"/"0" and "true"/"false" convert to bools, a null interpolated into a
 * template is an error, objects iterate in key order.
 */
import { parseExpression, parseTemplate, SPLAT_ITEM, type Node, type TemplatePart } from './expr-parse.js';
import { ExprError, type Value } from './value.js';

export { ExprError, type Value } from './value.js';
export { parseExpression, parseTemplate, isTemplate, type Node } from './expr-parse.js';

/** Functions receive evaluated arguments. */
export type HclFunction = (args: Value[]) => Value;

export interface Scope {
  /** Returns undefined for an unknown name. */
  lookup(name: string): Value | undefined;
  fn(name: string): HclFunction | undefined;
  /**
   * Traversals of a root the scope evaluates lazily (`target.NAME.ATTR`): given the root and the
   * attribute names after it, returns the value and how many of the names it consumed.
   */
  ref?(root: string, names: string[]): { value: Value; used: number } | undefined;
  /** Functions that need their arguments unevaluated (try, can, convert). */
  special?: Record<string, (args: Node[], scope: Scope) => Value>;
}

export function childScope(parent: Scope, vars: Record<string, Value>): Scope {
  const own = (n: string) => Object.prototype.hasOwnProperty.call(vars, n);
  return {
    lookup: (n) => (own(n) ? vars[n] : parent.lookup(n)),
    fn: (n) => parent.fn(n),
    ref: (root, names) => (own(root) ? undefined : parent.ref?.(root, names)),
    special: parent.special,
  };
}

export function typeName(v: Value): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'tuple';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

const DECIMAL = new Intl.NumberFormat('en-US', { useGrouping: false, maximumSignificantDigits: 15 });

/**
 * Numbers as cty prints them: integers in full, others in plain decimal notation. cty computes in
 * 512-bit floats, stratum in 64-bit ones; rounding to 15 significant digits hides the 64-bit
 * noise (0.1 + 0.2 is "0.3" in both), but a result with more digits than that (10 / 3) prints
 * shorter here.
 */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) throw new ExprError('NaN is not a number HCL can hold');
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(n)) return BigInt(n).toString();
  return DECIMAL.format(n);
}

export function toStr(v: Value, what = 'value'): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null) throw new ExprError(`${what}: a null value cannot be used as a string`);
  throw new ExprError(`${what}: a ${typeName(v)} cannot be used as a string`);
}

/** cty's string → number conversion: a decimal number, nothing else. */
export function parseNumber(s: string): number | undefined {
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

export function toNum(v: Value, what = 'value'): number {
  if (typeof v === 'number') return v;
  const n = typeof v === 'string' ? parseNumber(v) : undefined;
  if (n !== undefined) return n;
  throw new ExprError(`${what}: a number is required, got ${typeName(v)} ${JSON.stringify(v)}`);
}

export function toBool(v: Value, what = 'value'): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new ExprError(`${what}: a bool is required, got ${typeName(v)} ${JSON.stringify(v)}`);
}

export function deepEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]!));
  const ak = Object.keys(a).sort();
  const bk = Object.keys(b).sort();
  const ao = a as Record<string, Value>;
  const bo = b as Record<string, Value>;
  return ak.length === bk.length && ak.every((k, i) => k === bk[i] && deepEqual(ao[k]!, bo[k]!));
}

/** Elements of a collection with their keys; objects in key order, as cty iterates them. */
export function iterate(coll: Value): [Value, Value][] {
  if (Array.isArray(coll)) return coll.map((v, i) => [i, v]);
  if (coll !== null && typeof coll === 'object') return Object.keys(coll).sort().map((k) => [k, coll[k]!]);
  throw new ExprError(`cannot iterate over a ${typeName(coll)}`);
}

/** The root variable and attribute names of a plain traversal (`a.b.c`), else undefined. */
type Step = Extract<Node, { t: 'get' } | { t: 'idx' }>;

function traversal(n: Node): { root: string; names: string[]; rest: Step[] } | undefined {
  const chain: Step[] = [];
  let cur = n;
  while (cur.t === 'get' || cur.t === 'idx') {
    chain.unshift(cur);
    cur = cur.obj;
  }
  if (cur.t !== 'var') return undefined;
  const names: string[] = [];
  for (const c of chain) {
    if (c.t === 'get') names.push(c.name);
    else if (c.key.t === 'lit' && typeof c.key.v === 'string') names.push(c.key.v);
    else break;
  }
  return { root: cur.name, names, rest: chain };
}

function getAttr(o: Value, name: string): Value {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ExprError(`cannot read attribute ${JSON.stringify(name)} of a ${typeName(o)}`);
  if (!Object.prototype.hasOwnProperty.call(o, name)) throw new ExprError(`object has no attribute ${JSON.stringify(name)}`);
  return o[name]!;
}

function index(o: Value, k: Value): Value {
  if (Array.isArray(o)) {
    const i = toNum(k, 'index');
    if (!Number.isInteger(i) || i < 0 || i >= o.length) throw new ExprError(`index ${i} out of range for a list of ${o.length}`);
    return o[i]!;
  }
  if (o !== null && typeof o === 'object') {
    const key = toStr(k, 'key');
    if (!Object.prototype.hasOwnProperty.call(o, key)) throw new ExprError(`no element with key ${JSON.stringify(key)}`);
    return o[key]!;
  }
  throw new ExprError(`cannot index a ${typeName(o)}`);
}

/** The two results of a conditional share a type: a number or bool beside a string becomes a string. */
function unify(chosen: Value, other: Value): Value {
  if ((typeof chosen === 'number' || typeof chosen === 'boolean') && typeof other === 'string') return toStr(chosen);
  return chosen;
}

export function evaluate(n: Node, scope: Scope): Value {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'tpl':
      return renderParts(n.parts, scope);
    case 'var': {
      const v = scope.lookup(n.name);
      if (v === undefined) throw new ExprError(`unknown variable ${JSON.stringify(n.name)}`);
      return v;
    }
    case 'get':
    case 'idx': {
      const tr = scope.ref ? traversal(n) : undefined;
      const r = tr ? scope.ref!(tr.root, tr.names) : undefined;
      if (tr && r) {
        let v = r.value;
        for (const c of tr.rest.slice(r.used)) v = c.t === 'get' ? getAttr(v, c.name) : index(v, evaluate(c.key, scope));
        return v;
      }
      if (n.t === 'get') return getAttr(evaluate(n.obj, scope), n.name);
      return index(evaluate(n.obj, scope), evaluate(n.key, scope));
    }
    case 'splat': {
      const o = evaluate(n.obj, scope);
      if (o === null) return [];
      const list = Array.isArray(o) ? o : [o];
      return list.map((item) => evaluate(n.each, childScope(scope, { [SPLAT_ITEM]: item })));
    }
    case 'call': {
      const special = scope.special?.[n.name];
      if (special && !scope.fn(n.name)) return special(n.args, scope);
      const f = scope.fn(n.name);
      if (!f) throw new ExprError(`call to unknown function ${JSON.stringify(n.name)}`);
      let args = n.args.map((a) => evaluate(a, scope));
      if (n.expand) {
        const last = args.pop();
        if (!Array.isArray(last)) throw new ExprError(`${n.name}: the argument before ... must be a list`);
        args = [...args, ...last];
      }
      try {
        return f(args);
      } catch (e) {
        if (e instanceof ExprError && !e.message.startsWith(`${n.name}(`)) throw new ExprError(`${n.name}(): ${e.message}`);
        throw e;
      }
    }
    case 'tuple':
      return n.items.map((i) => evaluate(i, scope));
    case 'object': {
      const out: Record<string, Value> = {};
      for (const [k, v] of n.items) out[toStr(evaluate(k, scope), 'object key')] = evaluate(v, scope);
      return out;
    }
    case 'for': {
      const coll = evaluate(n.coll, scope);
      const tuple: Value[] = [];
      const obj: Record<string, Value> = {};
      for (const [k, v] of iterate(coll)) {
        const vars: Record<string, Value> = { [n.v]: v };
        if (n.k) vars[n.k] = k;
        const s = childScope(scope, vars);
        if (n.cond && !toBool(evaluate(n.cond, s), 'for condition')) continue;
        if (!n.obj) tuple.push(evaluate(n.val, s));
        else {
          const key = toStr(evaluate(n.key!, s), 'for key');
          const val = evaluate(n.val, s);
          if (n.group) ((obj[key] ??= []) as Value[]).push(val);
          else if (Object.prototype.hasOwnProperty.call(obj, key)) throw new ExprError(`duplicate key ${JSON.stringify(key)} in for expression`);
          else obj[key] = val;
        }
      }
      return n.obj ? obj : tuple;
    }
    case 'un': {
      const x = evaluate(n.x, scope);
      return n.op === '!' ? !toBool(x, 'operand of !') : -toNum(x, 'operand of -');
    }
    case 'bin':
      return binary(n.op, n.l, n.r, scope);
    case 'cond': {
      const c = toBool(evaluate(n.c, scope), 'condition');
      const v = evaluate(c ? n.a : n.b, scope);
      if (v === null || typeof v === 'object') return v;
      // the other branch only decides the result type; its errors do not matter here
      let other: Value = null;
      try {
        other = evaluate(c ? n.b : n.a, scope);
      } catch {
        /* ignored */
      }
      return unify(v, other);
    }
  }
}

function binary(op: string, ln: Node, rn: Node, scope: Scope): Value {
  if (op === '&&') return toBool(evaluate(ln, scope), 'operand of &&') ? toBool(evaluate(rn, scope), 'operand of &&') : false;
  if (op === '||') return toBool(evaluate(ln, scope), 'operand of ||') ? true : toBool(evaluate(rn, scope), 'operand of ||');
  const l = evaluate(ln, scope);
  const r = evaluate(rn, scope);
  if (op === '==') return deepEqual(l, r);
  if (op === '!=') return !deepEqual(l, r);
  const a = toNum(l, `operand of ${op}`);
  const b = toNum(r, `operand of ${op}`);
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      // cty divides by zero into an infinity (which no string or JSON can hold)
      return a / b;
    case '%':
      if (b === 0) throw new ExprError('modulo by zero');
      return a % b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
  throw new ExprError(`unknown operator ${op}`);
}

function renderParts(parts: TemplatePart[], scope: Scope): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else if (p.t === 'tif') out += renderParts(toBool(evaluate(p.cond, scope), 'template condition') ? p.then : p.else, scope);
    else if (p.t === 'tfor') {
      for (const [k, v] of iterate(evaluate(p.coll, scope))) {
        const vars: Record<string, Value> = { [p.v]: v };
        if (p.k) vars[p.k] = k;
        out += renderParts(p.body, childScope(scope, vars));
      }
    } else out += toStr(evaluate(p, scope), 'interpolation');
  }
  return out;
}

/** Evaluates a raw value: strings are templates; containers recurse, object keys too. */
export function evalRaw(raw: Value, scope: Scope): Value {
  if (typeof raw === 'string') return evaluate(parseTemplate(raw), scope);
  if (Array.isArray(raw)) return raw.map((x) => evalRaw(x, scope));
  if (raw !== null && typeof raw === 'object') {
    const out: Record<string, Value> = {};
    for (const [k, v] of Object.entries(raw)) out[k.includes('${') ? toStr(evaluate(parseTemplate(k), scope), 'object key') : k] = evalRaw(v, scope);
    return out;
  }
  return raw;
}

/**
 * The expression node of a raw value that must be an expression or a keyword (a type, a parameter
 * name). hcl2json gives an HCL expression as `${...}` and a quoted string as itself, which is no
 * keyword; in a JSON file a string is read as the expression it spells.
 */
export function exprOf(raw: Value, json = false): Node | undefined {
  if (typeof raw !== 'string') return undefined;
  const m = /^\$\{([\s\S]*)\}$/.exec(raw);
  if (!m && !json) return { t: 'lit', v: raw };
  try {
    return parseExpression(m ? m[1]! : raw);
  } catch {
    return undefined;
  }
}
