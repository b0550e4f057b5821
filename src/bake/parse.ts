/**
 * Bake files (HCL or JSON) → a resolved definition.
 *
 * HCL structure is parsed by @cdktf/hcl2json (HashiCorp's own parser compiled to wasm); its output
 * keeps every expression as template text, which `expr.ts` evaluates. Several files merge in
 * order, as buildx merges them: same-named blocks combine, later attributes win or merge.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse as hclToJson } from '@cdktf/hcl2json';
import { InputError, SourceError } from '../util/errors.js';
import {
  childScope,
  evaluate,
  ExprError,
  isTemplate,
  parseTemplate,
  toBool,
  toNum,
  toStr,
  typeName,
  type HclFunction,
  type Node,
  type Scope,
  type Value,
} from './expr.js';
import { csvParse, stdlib } from './functions.js';
import type { Attrs, BakeDefinition, BakeFile, GroupDef, SourcePos, TargetDef } from './types.js';

type Raw = Value;
type RawBody = Record<string, Raw>;

interface RawBlock {
  kind: 'target' | 'group' | 'variable' | 'function';
  name: string;
  body: RawBody;
  pos: SourcePos;
  /** Source text, to find attribute lines for errors. */
  text: string;
}

/** buildx's default lookup order (compose files aside: stratum reads bake files only). */
export const DEFAULT_BAKE_FILES = ['docker-bake.json', 'docker-bake.hcl', 'docker-bake.override.json', 'docker-bake.override.hcl'];

/** Reads the files named by -f (`-` is stdin), or the default ones present in `cwd`. */
export async function readBakeFiles(names: string[], cwd = process.cwd()): Promise<BakeFile[]> {
  if (names.length === 0) {
    const found: BakeFile[] = [];
    for (const n of DEFAULT_BAKE_FILES) {
      const p = path.join(cwd, n);
      const data = await fs.readFile(p, 'utf8').catch(() => undefined);
      if (data !== undefined) found.push({ name: n, data });
    }
    if (!found.length) throw new InputError(`no bake file found in ${cwd} (looked for ${DEFAULT_BAKE_FILES.join(', ')}); use -f FILE`);
    return found;
  }
  const out: BakeFile[] = [];
  for (const n of names) {
    if (n === '-') {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      out.push({ name: '-', data: Buffer.concat(chunks).toString('utf8') });
      continue;
    }
    const data = await fs.readFile(path.resolve(cwd, n), 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new InputError(`cannot read bake file ${n}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    out.push({ name: n, data });
  }
  return out;
}

function isJsonFile(f: BakeFile): boolean {
  if (f.name.endsWith('.json')) return true;
  if (f.name.endsWith('.hcl')) return false;
  return /^\s*\{/.test(f.data);
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Line of the nth `kind "name" {` header in HCL text (hcl2json drops positions). */
function hclBlockLine(text: string, kind: string, name: string, nth: number): number {
  const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^[ \\t]*${kind}[ \\t]+"${esc}"[ \\t]*\\{`, 'gm');
  let m: RegExpExecArray | null;
  let i = 0;
  while ((m = re.exec(text))) {
    if (i++ === nth) return lineOf(text, m.index);
  }
  return 1;
}

function jsonBlockLine(text: string, kind: string, name: string): number {
  const k = text.search(new RegExp(`"${kind}"\\s*:`));
  const esc = JSON.stringify(name).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`${esc}\\s*:`, 'g');
  re.lastIndex = Math.max(0, k);
  const m = re.exec(text);
  return m ? lineOf(text, m.index) : 1;
}

const KINDS = new Set(['target', 'group', 'variable', 'function']);

async function rawBlocks(f: BakeFile): Promise<RawBlock[]> {
  const blocks: RawBlock[] = [];
  if (isJsonFile(f)) {
    let doc: unknown;
    try {
      doc = JSON.parse(f.data);
    } catch (e) {
      const msg = (e as Error).message;
      const m = /position (\d+)/.exec(msg);
      const line = m ? lineOf(f.data, Number(m[1])) : 1;
      throw new SourceError(f.name, line, 1, `malformed JSON: ${msg}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new SourceError(f.name, 1, 1, 'a bake JSON file must hold an object');
    for (const [kind, byName] of Object.entries(doc as Record<string, unknown>)) {
      if (!KINDS.has(kind)) throw new SourceError(f.name, jsonBlockLine(f.data, kind, kind), 1, `unknown block type "${kind}" (expected target, group, variable or function)`);
      if (byName === null || typeof byName !== 'object') throw new SourceError(f.name, 1, 1, `"${kind}" must be an object`);
      for (const [name, body] of Object.entries(byName as Record<string, unknown>)) {
        const pos = { file: f.name, line: jsonBlockLine(f.data, kind, name) };
        // a variable may be given as its bare default in JSON ("TAG": "latest")
        const b = kind === 'variable' && (body === null || typeof body !== 'object' || Array.isArray(body)) ? { default: body } : body;
        if (b === null || typeof b !== 'object' || Array.isArray(b)) throw new SourceError(f.name, pos.line, 1, `${kind} "${name}" must be an object`);
        blocks.push({ kind: kind as RawBlock['kind'], name, body: b as RawBody, pos, text: f.data });
      }
    }
    return blocks;
  }
  let doc: Record<string, Record<string, RawBody[]>>;
  try {
    doc = (await hclToJson(f.name, f.data)) as typeof doc;
  } catch (e) {
    const msg = String((e as Error).message ?? e);
    const m = /\[?([^\s[]+?):(\d+),(\d+)(?:-[\d,]+)?: ([^\]]*)/.exec(msg);
    if (m) throw new SourceError(f.name, Number(m[2]), Number(m[3]), m[4]!.replace(/, and \d+ other diagnostic\(s\)$/, '').trim());
    throw new SourceError(f.name, 1, 1, msg.replace(/^parse config: /, ''));
  }
  for (const [kind, byName] of Object.entries(doc)) {
    if (!KINDS.has(kind)) {
      const m = new RegExp(`^[ \\t]*${kind}\\b`, 'm').exec(f.data);
      throw new SourceError(f.name, m ? lineOf(f.data, m.index) : 1, 1, `unknown block type "${kind}" (expected target, group, variable or function)`);
    }
    for (const [name, bodies] of Object.entries(byName)) {
      bodies.forEach((body, i) => {
        blocks.push({ kind: kind as RawBlock['kind'], name, body, pos: { file: f.name, line: hclBlockLine(f.data, kind, name, i) }, text: f.data });
      });
    }
  }
  return blocks;
}

/** Best-effort line of `attr =` inside a block, for messages. */
function attrLine(b: RawBlock, attr: string): number {
  if (!attr) return b.pos.line;
  const lines = b.text.split('\n');
  const re = new RegExp(`^\\s*"?${attr.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*[=:]`);
  for (let i = b.pos.line - 1; i < lines.length; i++) if (re.test(lines[i]!)) return i + 1;
  return b.pos.line;
}

function blockError(b: RawBlock, attr: string, msg: string): SourceError {
  const where = attr ? `${b.kind} "${b.name}" attribute "${attr}"` : `${b.kind} "${b.name}"`;
  return new SourceError(b.pos.file, attrLine(b, attr), 1, `${where}: ${msg}`);
}

/** Evaluates a raw value: strings are templates; containers recurse. */
function evalRaw(raw: Raw, scope: Scope): Value {
  if (typeof raw === 'string') return isTemplate(raw) ? evaluate(parseTemplate(raw), scope) : raw;
  if (Array.isArray(raw)) return raw.map((r) => evalRaw(r, scope));
  if (raw !== null && typeof raw === 'object') {
    const out: Record<string, Value> = {};
    for (const [k, v] of Object.entries(raw)) out[isTemplate(k) ? toStr(evaluate(parseTemplate(k), scope), 'key') : k] = evalRaw(v, scope);
    return out;
  }
  return raw;
}

/** The expression text of a raw attribute that must be an expression, e.g. `${list(string)}`. */
function exprOf(raw: Raw): Node | undefined {
  if (typeof raw !== 'string') return undefined;
  return parseTemplate(raw);
}

// ---- variable types ----

type VarType =
  | { k: 'string' | 'number' | 'bool' | 'any' }
  | { k: 'list' | 'set' | 'map'; of: VarType }
  | { k: 'tuple'; of: VarType[] }
  | { k: 'object'; attrs: Record<string, VarType> };

function typeFromNode(n: Node): VarType {
  if (n.t === 'var' && ['string', 'number', 'bool', 'any'].includes(n.name)) return { k: n.name as 'string' };
  if (n.t === 'call' && ['list', 'set', 'map'].includes(n.name) && n.args.length === 1) return { k: n.name as 'list', of: typeFromNode(n.args[0]!) };
  if (n.t === 'call' && n.name === 'tuple' && n.args.length === 1 && n.args[0]!.t === 'tuple') return { k: 'tuple', of: n.args[0]!.items.map(typeFromNode) };
  if (n.t === 'call' && n.name === 'object' && n.args.length === 1 && n.args[0]!.t === 'object') {
    const attrs: Record<string, VarType> = {};
    for (const [k, v] of n.args[0]!.items) {
      if (k.t !== 'lit' || typeof k.v !== 'string') throw new ExprError('object type attribute names must be literal');
      attrs[k.v] = typeFromNode(v);
    }
    return { k: 'object', attrs };
  }
  throw new ExprError('invalid type expression (expected string, number, bool, list(T), set(T), map(T), tuple([...]) or object({...}))');
}

function parseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new ExprError(`${JSON.stringify(s)} is not a bool`);
}

/** Converts a value to a declared type, as cty's conversion would for what bake files use. */
function convert(v: Value, t: VarType): Value {
  if (v === null) return null;
  switch (t.k) {
    case 'any':
      return v;
    case 'string':
      return toStr(v);
    case 'number':
      return toNum(v);
    case 'bool':
      return typeof v === 'string' ? parseBool(v) : toBool(v);
    case 'list':
    case 'set': {
      if (!Array.isArray(v)) throw new ExprError(`a ${t.k} is required, got ${typeName(v)}`);
      const items = v.map((x) => convert(x, t.of));
      return t.k === 'set' ? items.filter((x, i) => items.findIndex((y) => JSON.stringify(y) === JSON.stringify(x)) === i) : items;
    }
    case 'tuple':
      if (!Array.isArray(v) || v.length !== t.of.length) throw new ExprError(`a tuple of ${t.of.length} elements is required`);
      return v.map((x, i) => convert(x, t.of[i]!));
    case 'map': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ExprError(`a map is required, got ${typeName(v)}`);
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, convert(x, t.of)]));
    }
    case 'object': {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ExprError(`an object is required, got ${typeName(v)}`);
      const out: Record<string, Value> = {};
      for (const [k, at] of Object.entries(t.attrs)) {
        if (!(k in v)) throw new ExprError(`attribute "${k}" is required`);
        out[k] = convert(v[k]!, at);
      }
      return out;
    }
  }
}

/** An environment override (CSV for collections) converted to the variable's type. */
function fromEnv(s: string, t: VarType): Value {
  switch (t.k) {
    case 'list':
    case 'set':
      return convert(s === '' ? [] : (csvParse(s)[0] ?? []), t);
    case 'tuple':
      return convert(csvParse(s)[0] ?? [], t);
    case 'map':
    case 'object': {
      const obj: Record<string, Value> = {};
      for (const kv of csvParse(s)[0] ?? []) {
        const i = kv.indexOf('=');
        if (i < 0) throw new ExprError(`expected KEY=VALUE pairs, got ${JSON.stringify(kv)}`);
        obj[kv.slice(0, i)] = kv.slice(i + 1);
      }
      return convert(obj, t);
    }
    default:
      return convert(s, t);
  }
}

export interface LoadOptions {
  /** Environment for variable overrides (default process.env). */
  env?: Record<string, string | undefined>;
}

function localPlatform(): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm/v7', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
  return `linux/${arch}`;
}

/** The attributes a target accepts, with the kind of value each holds. */
const TARGET_ATTRS: Record<string, 'string' | 'bool' | 'strings' | 'map' | 'attrs'> = {
  description: 'string',
  context: 'string',
  contexts: 'map',
  dockerfile: 'string',
  'dockerfile-inline': 'string',
  args: 'map',
  annotations: 'strings',
  attest: 'attrs',
  labels: 'map',
  tags: 'strings',
  'cache-from': 'attrs',
  'cache-to': 'attrs',
  target: 'string',
  secret: 'attrs',
  ssh: 'attrs',
  platforms: 'strings',
  output: 'attrs',
  pull: 'bool',
  'no-cache': 'bool',
  'no-cache-filter': 'strings',
  'shm-size': 'string',
  ulimits: 'strings',
  call: 'string',
  entitlements: 'strings',
  network: 'string',
  'extra-hosts': 'map',
};

/** Attributes that the last definition replaces (the reference's list); all others merge. */
const OVERRIDDEN = new Set(['cache-to', 'dockerfile-inline', 'dockerfile', 'output', 'platforms', 'pull', 'tags', 'target']);

/** Parses `type=registry,ref=x` (or a bare ref / id) into attributes. */
export function parseCsvAttrs(s: string, attr: string): Attrs {
  const out: Attrs = {};
  for (const field of csvParse(s)[0] ?? []) {
    const i = field.indexOf('=');
    if (i < 0) {
      // bare forms: a cache ref, a secret/ssh id, an output type
      if (attr === 'cache-from' || attr === 'cache-to') Object.assign(out, { type: 'registry', ref: field });
      else if (attr === 'ssh') out.id = field;
      else if (attr === 'output') out.type = field;
      else if (attr === 'secret') out.id = field;
      else throw new ExprError(`expected key=value in ${JSON.stringify(s)}`);
    } else out[field.slice(0, i).trim()] = field.slice(i + 1);
  }
  return out;
}

/** Normalizes one evaluated attribute value to its TargetDef form; null means "unset". */
function normalize(attr: string, v: Value): unknown {
  if (v === null) return undefined;
  const kind = TARGET_ATTRS[attr];
  switch (kind) {
    case 'string':
      return toStr(v);
    case 'bool':
      return typeof v === 'string' ? parseBool(v) : toBool(v);
    case 'strings':
      if (!Array.isArray(v)) throw new ExprError(`a list is required, got ${typeName(v)}`);
      return v.filter((x) => x !== null).map((x) => toStr(x));
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) throw new ExprError(`a map is required, got ${typeName(v)}`);
      // null values are kept while merging (they let a Dockerfile default through) and dropped at the end
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? null : toStr(x)]));
    }
    case 'attrs': {
      if (!Array.isArray(v)) throw new ExprError(`a list is required, got ${typeName(v)}`);
      return v
        .filter((x) => x !== null)
        .map((x) => {
          if (typeof x === 'string') return parseCsvAttrs(x, attr);
          if (typeof x === 'object' && !Array.isArray(x)) return Object.fromEntries(Object.entries(x).filter(([, y]) => y !== null).map(([k, y]) => [k, toStr(y)]));
          throw new ExprError(`list elements must be strings or objects, got ${typeName(x)}`);
        });
    }
  }
  throw new ExprError(`unsupported attribute "${attr}"`);
}

type Partial = Record<string, unknown>;

/** Merges `b` onto `a` with buildx's rules: listed attributes are replaced, maps merge, lists append. */
export function mergeTargets(a: Partial, b: Partial): Partial {
  const out: Partial = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue;
    const prev = out[k];
    if (OVERRIDDEN.has(k) || prev === undefined) out[k] = v;
    else if (TARGET_ATTRS[k] === 'map') out[k] = { ...(prev as object), ...(v as object) };
    else if (Array.isArray(prev) && Array.isArray(v)) {
      const seen = new Set(prev.map((x) => JSON.stringify(x)));
      out[k] = [...prev, ...v.filter((x) => !seen.has(JSON.stringify(x)))];
    } else out[k] = v;
  }
  return out;
}

interface TargetPartial {
  name: string;
  attrs: Partial;
  inherits: string[];
  block: RawBlock;
}

/**
 * Loads and evaluates bake files into a definition of every target (inherits resolved,
 * matrix expanded, defaults not yet applied). Throws SourceError naming file and line.
 */
export async function loadBake(files: BakeFile[], opts: LoadOptions = {}): Promise<BakeDefinition> {
  const env = opts.env ?? process.env;
  const blocks: RawBlock[] = [];
  for (const f of files) blocks.push(...(await rawBlocks(f)));

  // variables: the last definition wins; values are computed lazily so they may refer to each other
  const varBlocks = new Map<string, RawBlock>();
  const fnBlocks = new Map<string, RawBlock>();
  for (const b of blocks) {
    if (b.kind === 'variable') varBlocks.set(b.name, b);
    if (b.kind === 'function') fnBlocks.set(b.name, b);
  }
  const varValues = new Map<string, Value>();
  const evaluating = new Set<string>();
  const builtins: Record<string, Value> = { BAKE_LOCAL_PLATFORM: localPlatform(), BAKE_CMD_CONTEXT: '.' };
  const envLookup = env.BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP !== '1' && env.BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP !== 'true';

  const functions = new Map<string, HclFunction>();
  const scope: Scope = {
    lookup(name) {
      if (varBlocks.has(name)) return variable(name);
      if (Object.prototype.hasOwnProperty.call(builtins, name)) return builtins[name];
      return undefined;
    },
    fn: (name) => functions.get(name) ?? stdlib[name],
  };

  function variable(name: string): Value {
    const cached = varValues.get(name);
    if (cached !== undefined || varValues.has(name)) return cached!;
    const b = varBlocks.get(name)!;
    if (evaluating.has(name)) throw blockError(b, 'default', `variable cycle through ${[...evaluating, name].join(' -> ')}`);
    evaluating.add(name);
    try {
      for (const k of Object.keys(b.body)) if (!['default', 'type', 'description', 'validation'].includes(k)) throw blockError(b, k, `unsupported argument "${k}" in variable block`);
      let type: VarType | undefined;
      if (b.body.type !== undefined) {
        const n = exprOf(b.body.type);
        if (!n) throw blockError(b, 'type', 'type must be a type expression such as string or list(string), not a literal');
        try {
          type = typeFromNode(n);
        } catch (e) {
          throw blockError(b, 'type', (e as Error).message);
        }
      }
      let v: Value;
      try {
        v = b.body.default === undefined ? (type ? null : '') : evalRaw(b.body.default, scope);
        if (type) v = convert(v, type);
      } catch (e) {
        if (e instanceof SourceError) throw e;
        throw blockError(b, 'default', (e as Error).message);
      }
      const jsonOverride = envLookup && type && type.k !== 'string' ? env[`${name}_JSON`] : undefined;
      const override = envLookup ? env[name] : undefined;
      try {
        if (jsonOverride !== undefined && !varBlocks.has(`${name}_JSON`)) v = convert(JSON.parse(jsonOverride) as Value, type!);
        else if (override !== undefined) {
          if (type) v = fromEnv(override, type);
          else if (typeof v === 'number' && override.trim() !== '' && !Number.isNaN(Number(override))) v = Number(override);
          else if (typeof v === 'boolean') v = parseBool(override);
          else if (v !== null && typeof v === 'object') throw new ExprError('a variable with a list or map default needs a `type` to be overridden from the environment');
          else v = override;
        }
      } catch (e) {
        throw new InputError(`environment variable ${name}: cannot override variable "${name}" (${b.pos.file}:${b.pos.line}): ${(e as Error).message}`);
      }
      varValues.set(name, v);
      return v;
    } finally {
      evaluating.delete(name);
    }
  }

  // user functions: params are bare names, hcl2json hands them back as `${name}`
  for (const [name, b] of fnBlocks) {
    const names = (raw: Raw, attr: string): string[] => {
      const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
      return list.map((p) => {
        const n = exprOf(p);
        if (!n || n.t !== 'var') throw blockError(b, attr, 'parameters must be bare names');
        return n.name;
      });
    };
    const params = names(b.body.params ?? [], 'params');
    const variadic = b.body.variadic_param === undefined ? undefined : names(b.body.variadic_param, 'variadic_param')[0];
    if (b.body.result === undefined) throw blockError(b, '', 'function needs a result');
    const result = b.body.result;
    functions.set(name, (args) => {
      if (args.length < params.length || (!variadic && args.length > params.length)) throw new ExprError(`${name}(): expects ${params.length} argument(s), got ${args.length}`);
      const vars: Record<string, Value> = {};
      params.forEach((p, i) => (vars[p] = args[i]!));
      if (variadic) vars[variadic] = args.slice(params.length);
      return evalRaw(result, childScope(scope, vars));
    });
  }

  const evalIn = (b: RawBlock, attr: string, raw: Raw, s: Scope): Value => {
    try {
      return evalRaw(raw, s);
    } catch (e) {
      if (e instanceof SourceError) throw e;
      if (e instanceof ExprError || e instanceof InputError) throw blockError(b, attr, e.message);
      throw e;
    }
  };

  // force every variable once so that a bad default is reported even when unused
  for (const name of varBlocks.keys()) variable(name);

  const def: BakeDefinition = { groups: {}, targets: {}, sources: {} };
  const groupBlocks = new Map<string, RawBlock>();
  for (const b of blocks.filter((x) => x.kind === 'group')) {
    for (const k of Object.keys(b.body)) if (!['targets', 'description'].includes(k)) throw blockError(b, k, `unsupported argument "${k}" in group block`);
    const targets = evalIn(b, 'targets', b.body.targets ?? [], scope);
    if (!Array.isArray(targets)) throw blockError(b, 'targets', 'targets must be a list of names');
    const g: GroupDef = def.groups[b.name] ?? { targets: [] };
    for (const t of targets) {
      const s = toStr(t);
      if (!g.targets.includes(s)) g.targets.push(s);
    }
    if (b.body.description !== undefined) g.description = toStr(evalIn(b, 'description', b.body.description, scope));
    def.groups[b.name] = g;
    def.sources[b.name] ??= b.pos;
    groupBlocks.set(b.name, b);
  }

  // targets: evaluate every block (expanding matrices), then merge same-named ones in order
  const partials: TargetPartial[] = [];
  const evalTarget = (b: RawBlock, s: Scope, name: string) => {
    const attrs: Partial = {};
    let inherits: string[] = [];
    for (const [k, raw] of Object.entries(b.body)) {
      if (k === 'matrix' || k === 'name') continue;
      if (k === 'inherits') {
        const v = evalIn(b, k, raw, s);
        if (!Array.isArray(v)) throw blockError(b, k, 'inherits must be a list of target names');
        inherits = v.map((x) => toStr(x));
        continue;
      }
      if (!(k in TARGET_ATTRS)) throw blockError(b, k, `unsupported attribute "${k}"`);
      const v = evalIn(b, k, raw, s);
      try {
        attrs[k] = normalize(k, v);
      } catch (e) {
        throw blockError(b, k, (e as Error).message);
      }
    }
    partials.push({ name, attrs, inherits, block: b });
  };
  for (const b of blocks.filter((x) => x.kind === 'target')) {
    if (b.body.matrix === undefined) {
      if (b.body.name !== undefined) throw blockError(b, 'name', '"name" is only allowed together with "matrix"');
      evalTarget(b, scope, b.name);
      continue;
    }
    const m = evalIn(b, 'matrix', b.body.matrix, scope);
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw blockError(b, 'matrix', 'matrix must be a map of lists');
    let combos: Record<string, Value>[] = [{}];
    for (const [k, vals] of Object.entries(m)) {
      if (!Array.isArray(vals)) throw blockError(b, 'matrix', `matrix value "${k}" must be a list`);
      combos = combos.flatMap((c) => vals.map((v) => ({ ...c, [k]: v })));
    }
    const names: string[] = [];
    for (const c of combos) {
      const s = childScope(scope, c);
      const name =
        b.body.name !== undefined
          ? toStr(evalIn(b, 'name', b.body.name, s))
          : `${b.name}-${Object.values(c)
              .map((v) => (typeof v === 'object' ? JSON.stringify(v) : toStr(v)))
              .join('-')
              .replace(/[^A-Za-z0-9_-]/g, '_')}`;
      if (names.includes(name)) throw blockError(b, 'name', `matrix produces the target name "${name}" twice; make "name" unique per combination`);
      names.push(name);
      evalTarget(b, s, name);
    }
    if (groupBlocks.has(b.name)) throw blockError(b, '', `a group named "${b.name}" already exists`);
    def.groups[b.name] = { targets: names };
    def.sources[b.name] ??= b.pos;
  }

  for (const p of partials) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(p.name)) throw blockError(p.block, '', `invalid target name "${p.name}": use letters, digits, '_', '-' and '.'`);
  }
  const merged = new Map<string, { attrs: Partial; inherits: string[]; block: RawBlock }>();
  for (const p of partials) {
    const prev = merged.get(p.name);
    if (!prev) merged.set(p.name, { attrs: p.attrs, inherits: p.inherits, block: p.block });
    else merged.set(p.name, { attrs: mergeTargets(prev.attrs, p.attrs), inherits: p.inherits.length ? p.inherits : prev.inherits, block: prev.block });
  }

  // inherits: parents in order, then the target's own attributes on top
  const resolved = new Map<string, Partial>();
  const stack: string[] = [];
  const resolve = (name: string): Partial => {
    const done = resolved.get(name);
    if (done) return done;
    const t = merged.get(name)!;
    if (stack.includes(name)) throw blockError(t.block, 'inherits', `inheritance cycle: ${[...stack.slice(stack.indexOf(name)), name].join(' -> ')}`);
    stack.push(name);
    let acc: Partial = {};
    for (const parent of t.inherits) {
      if (!merged.has(parent)) throw blockError(t.block, 'inherits', `inherits unknown target "${parent}"`);
      acc = mergeTargets(acc, resolve(parent));
    }
    acc = mergeTargets(acc, t.attrs);
    stack.pop();
    resolved.set(name, acc);
    return acc;
  };
  for (const [name, t] of merged) {
    def.targets[name] = resolve(name) as TargetDef;
    def.sources[name] = t.block.pos;
  }
  return def;
}

/** Drops the null entries kept for merging (args/labels set to null use the Dockerfile's value). */
export function finalizeTarget(t: TargetDef): TargetDef {
  const out: TargetDef = { ...t };
  for (const k of ['args', 'labels', 'contexts', 'extra-hosts'] as const) {
    const m = out[k];
    if (m) out[k] = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null));
  }
  return out;
}
