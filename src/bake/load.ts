/**
 * Evaluates the bodies of the bake files the way buildx does: variables (typed, overridden from
 * the environment or --var, validated), top-level attributes, user functions, then the target
 * and group blocks. Values are computed on first use, so they may refer to each other in any
 * order, and a block attribute may read another target's (`target.base.context`): only that
 * attribute of that target is evaluated for it, which lets a target read its own attributes.
 * A matrix turns a block into one block per combination, named by its `name` attribute.
 */
import { InputError, SourceError } from '../util/errors.js';
import { childScope, evalRaw, ExprError, exprOf, toStr, type HclFunction, type Scope, type Value } from './expr.js';
import { specialForms } from './functions-special.js';
import { setBlockSource } from './paths.js';
import { stdlib } from './functions.js';
import type { RawAttr, RawBlock, RawBody } from './syntax.js';
import { attrLine } from './syntax.js';
import { attrValue, decodeAttr, mergeTarget, newTarget, TARGET_ATTRS, type Target } from './target.js';
import type { Config, Group } from './config.js';
import { convert, fromEnv, typeFromNode, type VarType } from './vartype.js';

export interface EvalOptions {
  /** --var values, then the environment (unless BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP). */
  lookupVar(name: string): string | undefined;
  /** BAKE_CMD_CONTEXT, BAKE_LOCAL_PLATFORM: strings no file can redefine. */
  builtins: Record<string, string>;
}

const NAME_RE = /^[a-zA-Z0-9_-]+$/;
const BLOCK_ROOTS = new Set(['target', 'group']);

interface Instance {
  block: RawBlock;
  name: string;
  scope: Scope;
  target?: Target;
  group?: Group;
  done: Set<string>;
  busy: Set<string>;
}

const where = (pos: { file: string; line: number }, msg: string) => new SourceError(pos.file, pos.line, 1, msg);

export function evaluateBodies(bodies: RawBody[], opt: EvalOptions): Config {
  const reserved = new Set([...BLOCK_ROOTS, ...Object.keys(opt.builtins)]);
  const vars = new Map<string, RawBlock>();
  const funcs = new Map<string, RawBlock>();
  const attrs = new Map<string, RawAttr>();
  const blocks: RawBlock[] = [];
  for (const body of bodies) {
    for (const a of body.attrs) if (!reserved.has(a.name)) attrs.set(a.name, a);
    for (const b of body.blocks) {
      if (b.type === 'variable' && !reserved.has(b.label)) vars.set(b.label, b);
      else if (b.type === 'function' && !reserved.has(b.label)) funcs.set(b.label, b);
      else if (b.type === 'target' || b.type === 'group') blocks.push(b);
    }
  }
  attrs.delete('function');

  const values = new Map<string, Value>();
  const busyVars = new Set<string>();
  const userFns = new Map<string, HclFunction>();
  const busyFns = new Set<string>();
  const byName = new Map<string, Instance[]>();

  const attrOf = (b: RawBlock, name: string) => b.body.attrs.find((a) => a.name === name);
  const fail = (b: RawBlock, attr: string | undefined, msg: string): SourceError => {
    const what = `${b.type} "${b.label}"${attr ? ` attribute "${attr}"` : ''}`;
    return where({ file: b.pos.file, line: attr ? attrLine(b.body.text, attr, b.pos.line) : b.pos.line }, `${what}: ${msg}`);
  };
  /** Runs fn, turning expression errors into file:line errors about `b`'s attribute. */
  const at = <T>(b: RawBlock, attr: string | undefined, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ExprError || (e instanceof InputError && !(e instanceof SourceError))) throw fail(b, attr, e.message);
      throw e;
    }
  };

  const scope: Scope = {
    lookup(name) {
      if (BLOCK_ROOTS.has(name) && !values.has(name)) throw new ExprError(`cannot access ${name} as a variable`);
      return globalValue(name);
    },
    fn: (name) => userFn(name) ?? stdlib[name],
    ref: (root, names) => (BLOCK_ROOTS.has(root) && names.length ? blockRef(root, names) : undefined),
    special: specialForms,
  };

  // ---- variables and top-level attributes ----

  function varType(b: RawBlock): VarType | undefined {
    const t = attrOf(b, 'type');
    if (!t) return undefined;
    const n = exprOf(t.expr, b.body.json);
    if (!n) throw fail(b, 'type', 'type must be a type expression such as string or list(string)');
    if (n.t === 'lit' && n.v === null) return undefined;
    return at(b, 'type', () => typeFromNode(n));
  }

  function globalValue(name: string): Value | undefined {
    if (values.has(name)) return values.get(name);
    if (Object.prototype.hasOwnProperty.call(opt.builtins, name)) return opt.builtins[name];
    const attr = attrs.get(name);
    const vb = vars.get(name);
    if (!attr && !vb) return undefined;
    if (busyVars.has(name)) throw new ExprError(`variable cycle not allowed for ${name}`);
    busyVars.add(name);
    let v: Value;
    if (attr) {
      try {
        v = evalRaw(attr.expr, scope);
      } catch (e) {
        if (e instanceof ExprError) throw where(attr.pos, `attribute "${name}": ${e.message}`);
        throw e;
      }
      // an attribute shadows a variable of its name, but the environment still overrides it
      const env = vb ? envOverride(name, false) : undefined;
      if (env) {
        const current = v;
        try {
          v = fromEnv(name, env[0], env[1], undefined, current);
        } catch (e) {
          throw where(attr.pos, `attribute "${name}": ${(e as Error).message}`);
        }
      }
    } else v = variableValue(vb!);
    busyVars.delete(name);
    values.set(name, v);
    return v;
  }

  /** The environment's value for a variable, and whether it is NAME_JSON (read for a typed variable, or when NAME is not set). */
  function envOverride(name: string, favorJSON: boolean): [string, boolean] | undefined {
    const plain = opt.lookupVar(name);
    if (plain === undefined || favorJSON) {
      const jn = `${name}_JSON`;
      if (!vars.has(jn) && !Object.prototype.hasOwnProperty.call(opt.builtins, jn)) {
        const j = opt.lookupVar(jn);
        if (j !== undefined) return [j, true];
      }
    }
    return plain === undefined ? undefined : [plain, false];
  }

  function variableValue(b: RawBlock): Value {
    const name = b.label;
    for (const a of b.body.attrs) if (!['default', 'type', 'description'].includes(a.name)) throw fail(b, a.name, `unsupported argument "${a.name}" (a variable takes default, type, description and validation blocks)`);
    for (const nb of b.body.blocks) if (nb.type !== 'validation') throw fail(b, nb.type, `unsupported block "${nb.type}"`);
    const type = varType(b);
    const typed = type !== undefined;
    const def = attrOf(b, 'default');
    let v: Value | undefined;
    if (def) {
      v = at(b, 'default', () => evalRaw(def.expr, scope));
      if (type) {
        const current = v;
        v = at(b, 'default', () => {
          try {
            return convert(current, type);
          } catch (e) {
            throw new ExprError(`invalid type ${type.k} for variable ${name} default value: ${(e as Error).message}`);
          }
        });
      }
    }
    const env = envOverride(name, typed);
    if (!env) return v === undefined ? (typed ? null : '') : v;
    const current = v;
    try {
      return fromEnv(name, env[0], env[1], typed ? (type ?? { k: 'any' }) : undefined, current);
    } catch (e) {
      throw where(b.pos, `variable "${name}": ${(e as Error).message}`);
    }
  }

  // ---- user functions ----

  function userFn(name: string): HclFunction | undefined {
    const done = userFns.get(name);
    if (done) return done;
    const b = funcs.get(name);
    if (!b) return undefined;
    if (busyFns.has(name)) throw fail(b, undefined, `function cycle not allowed for ${name}`);
    for (const a of b.body.attrs) if (!['params', 'variadic_params', 'result'].includes(a.name)) throw fail(b, a.name, `unsupported argument "${a.name}" (a function takes params, variadic_params and result)`);
    const result = attrOf(b, 'result');
    const paramsAttr = attrOf(b, 'params');
    if (!result) throw fail(b, undefined, `empty result not allowed for ${name}`);
    if (!paramsAttr) throw fail(b, undefined, `empty params not allowed for ${name}`);
    const keyword = (raw: Value, attr: string): string => {
      const n = typeof raw === 'string' ? exprOf(raw, b.body.json) : undefined;
      if (!n || n.t !== 'var') throw fail(b, attr, 'each parameter name must be an identifier');
      return n.name;
    };
    let list = paramsAttr.expr;
    if (typeof list === 'string') {
      const n = exprOf(list, b.body.json);
      if (!n || n.t !== 'tuple' || !n.items.every((i) => i.t === 'var')) throw fail(b, 'params', 'params must be a list of parameter names');
      list = n.items.map((i) => (i as { name: string }).name);
    }
    if (!Array.isArray(list)) throw fail(b, 'params', 'params must be a list of parameter names');
    const params = list.map((p) => keyword(p, 'params'));
    const va = attrOf(b, 'variadic_params');
    const variadic = va ? keyword(va.expr, 'variadic_params') : undefined;
    const fn: HclFunction = (args) => {
      if (args.length < params.length || (!variadic && args.length > params.length)) throw new ExprError(`${name}(): expects ${params.length} argument(s), got ${args.length}`);
      const own: Record<string, Value> = {};
      params.forEach((p, i) => (own[p] = args[i]!));
      if (variadic) own[variadic] = args.slice(params.length);
      busyFns.add(name);
      try {
        return at(b, 'result', () => evalRaw(result.expr, childScope(scope, own)));
      } finally {
        busyFns.delete(name);
      }
    };
    userFns.set(name, fn);
    return fn;
  }

  // ---- blocks ----

  function blockRef(root: string, names: string[]): { value: Value; used: number } {
    const insts = (byName.get(`${root}\0${names[0]}`) ?? []);
    if (!insts.length) throw new ExprError(`${root} has no block named ${JSON.stringify(names[0])}`);
    const last = insts[insts.length - 1]!;
    if (names.length >= 2) {
      const attr = names[1]!;
      if (root === 'target' && attr !== 'name' && !(attr in TARGET_ATTRS)) throw new ExprError(`a target has no attribute ${JSON.stringify(attr)}`);
      if (root === 'group' && !['name', 'description', 'targets'].includes(attr)) throw new ExprError(`a group has no attribute ${JSON.stringify(attr)}`);
      for (const i of insts) resolveAttr(i, attr);
      return { value: instValue(last, attr), used: 2 };
    }
    for (const i of insts) resolveAll(i);
    const keys = root === 'target' ? ['name', ...Object.keys(TARGET_ATTRS)] : ['name', 'description', 'targets'];
    const whole: Record<string, Value> = Object.fromEntries(keys.map((k) => [k, instValue(last, k)]));
    // buildx's target value has a policy attribute too (stratum refuses policy, so it is always empty)
    if (root === 'target') whole.policy = [];
    return { value: whole, used: 1 };
  }

  function instValue(i: Instance, attr: string): Value {
    if (i.target) return attrValue(i.target, attr);
    const g = i.group!;
    if (attr === 'name') return g.name;
    if (attr === 'description') return g.description;
    return i.done.has('targets') ? [...g.targets] : null;
  }

  function resolveAttr(i: Instance, attr: string): void {
    if (i.done.has(attr) || attr === 'name') return;
    const raw = attrOf(i.block, attr);
    if (!raw || attr === 'matrix') return;
    if (i.busy.has(attr)) throw new ExprError(`reference cycle not allowed for ${i.block.type}.${i.name}.${attr}`);
    i.busy.add(attr);
    const b = i.block;
    at(b, attr, () => {
      const v = evalRaw(raw.expr, i.scope);
      if (i.target) {
        if (attr === 'policy') throw new ExprError('the "policy" attribute is not supported by stratum');
        if (!(attr in TARGET_ATTRS)) throw new ExprError(`unsupported attribute "${attr}"`);
        decodeAttr(i.target, attr, v);
      } else if (attr === 'targets') {
        if (v === null || !Array.isArray(v)) throw new ExprError('targets must be a list of names');
        i.group!.targets = v.map((x) => toStr(x, 'targets'));
      } else if (attr === 'description') i.group!.description = v === null ? '' : toStr(v, 'description');
      else throw new ExprError(`unsupported attribute "${attr}"`);
    });
    i.busy.delete(attr);
    i.done.add(attr);
  }

  function resolveAll(i: Instance): void {
    const nested = i.block.body.blocks[0];
    if (nested) throw where(nested.pos, `${i.block.type} "${i.block.label}": unsupported block "${nested.type}"`);
    for (const a of i.block.body.attrs) resolveAttr(i, a.name);
    if (i.group && !i.done.has('targets')) throw fail(i.block, undefined, 'the argument "targets" is required');
  }

  /** One scope per matrix combination (the block's own scope when it has no matrix). */
  function matrixScopes(b: RawBlock): Scope[] {
    const m = attrOf(b, 'matrix');
    if (!m) return [scope];
    const value = at(b, 'matrix', () => evalRaw(m.expr, scope));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw fail(b, 'matrix', 'matrix must be a map');
    let combos: Record<string, Value>[] = [{}];
    for (const k of Object.keys(value).sort()) {
      const vals = value[k]!;
      if (vals === null || typeof vals !== 'object') throw fail(b, 'matrix', 'matrix values must be a list');
      const items = Array.isArray(vals) ? vals : Object.keys(vals).sort().map((x) => vals[x]!);
      combos = items.flatMap((v) => combos.map((c) => ({ ...c, [k]: v })));
    }
    return combos.map((c) => childScope(scope, c));
  }

  function instances(b: RawBlock): Instance[] {
    if (!NAME_RE.test(b.label)) throw fail(b, undefined, `invalid name: only "[a-zA-Z0-9_-]+" are allowed`);
    const nameAttr = attrOf(b, 'name');
    if (b.type === 'group') {
      if (attrOf(b, 'matrix')) throw fail(b, 'matrix', 'matrix is not supported for groups');
      if (nameAttr) throw fail(b, 'name', 'name is not supported for groups');
    } else if (nameAttr && !attrOf(b, 'matrix')) throw fail(b, 'name', 'name requires matrix');
    const out: Instance[] = [];
    for (const s of matrixScopes(b)) {
      const name = nameAttr ? at(b, 'name', () => toStr(evalRaw(nameAttr.expr, s), 'name')) : b.label;
      if (!NAME_RE.test(name)) throw fail(b, 'name', `invalid name "${name}": only "[a-zA-Z0-9_-]+" are allowed`);
      if (out.some((i) => i.name === name)) throw fail(b, nameAttr ? 'name' : undefined, `duplicate name "${name}"${nameAttr ? '' : ' (a matrix of several combinations needs a "name" that differs between them)'}`);
      const inst: Instance = { block: b, name, scope: s, done: new Set(), busy: new Set() };
      if (b.type === 'target') inst.target = newTarget(name);
      else inst.group = { name, description: '', targets: [] };
      out.push(inst);
    }
    return out;
  }

  // Variables first (every one, so a bad default is reported even when unused), then their
  // validations, then every function, then block names, then the blocks, then the rest.
  for (const name of vars.keys()) globalValue(name);
  for (const b of vars.values()) validate(b);
  for (const name of funcs.keys()) userFn(name);

  const perBlock: [RawBlock, Instance[]][] = blocks.map((b) => [b, instances(b)]);
  const renamed = new Map<string, string[]>();
  for (const [b, insts] of perBlock) {
    for (const i of insts) {
      const key = `${b.type}\0${i.name}`;
      byName.set(key, [...(byName.get(key) ?? []), i]);
      if (b.type === 'target') renamed.set(b.label, [...(renamed.get(b.label) ?? []), i.name]);
    }
  }

  const variables = [...vars.values()].map((b) => {
    const d = attrOf(b, 'description');
    const dv = d ? at(b, 'description', () => evalRaw(d.expr, scope)) : null;
    const type = varType(b);
    return { name: b.label, description: dv === null ? '' : toStr(dv, 'description'), ...(type ? { type } : {}), value: values.get(b.label) ?? null };
  });
  const cfg: Config = { groups: [], targets: [], variables, sources: {} };
  for (const [b, insts] of perBlock) {
    for (const i of insts) {
      resolveAll(i);
      cfg.sources[i.name] ??= b.pos;
      if (i.group) {
        const at = cfg.groups.findIndex((g) => g.name === i.name);
        if (at >= 0) cfg.groups[at] = i.group;
        else cfg.groups.push(i.group);
        continue;
      }
      const t = i.target!;
      setBlockSource(t, b);
      const prev = cfg.targets.find((x) => x.name === t.name);
      if (prev) mergeTarget(prev, t);
      else cfg.targets.push(t);
    }
  }
  for (const name of attrs.keys()) globalValue(name);

  // a block renamed by its matrix leaves a group of its old name holding the new names
  for (const [label, names] of renamed) {
    const uniq = [...new Set(names)];
    if (uniq.length === 1 && uniq[0] === label) continue;
    cfg.groups.push({ name: label, description: '', targets: uniq });
  }
  for (const g of cfg.groups) g.targets = [...new Set(g.targets)];
  return cfg;

  function validate(b: RawBlock): void {
    for (const rule of b.body.blocks) {
      const cond = attrOf(rule, 'condition');
      const msg = attrOf(rule, 'error_message');
      if (!cond || !msg) throw fail(b, 'validation', 'a validation block needs condition and error_message');
      const ok = at(b, 'condition', () => evalRaw(cond.expr, scope));
      if (ok === null) throw fail(b, 'condition', 'invalid condition result: condition expression must return either true or false, not null');
      if (ok !== true && ok !== false && ok !== 'true' && ok !== 'false' && ok !== '1' && ok !== '0') throw fail(b, 'condition', `invalid condition result: a bool is required`);
      if (ok === true || ok === 'true' || ok === '1') continue;
      const text = at(b, 'error_message', () => evalRaw(msg.expr, scope));
      throw fail(b, 'condition', `validation failed: ${text === null ? 'This check failed, but has an invalid error message.' : toStr(text)}`);
    }
  }
}
