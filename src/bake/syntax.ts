/**
 * Bake files → bodies of attributes and blocks, in file order, with the line each one starts on.
 *
 * HCL is parsed by @cdktf/hcl2json (HashiCorp's own parser compiled to wasm). Its output keeps
 * every expression as template text (`"${a + 1}"`, `"x-${TAG}"`), which `expr.ts` evaluates; it
 * drops positions, so lines are found again in the source text. JSON files follow HCL's JSON
 * syntax: strings are templates, top-level keys other than block types are attributes, and a
 * block type holds an object of labelled bodies or an array of such objects.
 */
import { parse as hclToJson } from '@cdktf/hcl2json';
import { SourceError } from '../util/errors.js';
import type { Value } from './expr.js';
import type { BakeFile } from './types.js';

export interface Pos {
  file: string;
  line: number;
}

export interface RawAttr {
  name: string;
  /** A JSON value whose strings are HCL templates. */
  expr: Value;
  pos: Pos;
}

export interface RawBlock {
  type: string;
  label: string;
  body: RawBody;
  pos: Pos;
}

export interface RawBody {
  attrs: RawAttr[];
  blocks: RawBlock[];
  pos: Pos;
  /** The file's text, for finding attribute lines. */
  text: string;
  /** From a JSON file: a string where HCL wants a keyword (a type, a parameter) is read as one. */
  json?: boolean;
}

/** Top-level block types, and the nested block types each body may hold. */
const TOP_BLOCKS = new Set(['target', 'group', 'variable', 'function']);
const NESTED_BLOCKS: Record<string, string[]> = { variable: ['validation'] };

export function isJsonFile(f: BakeFile): boolean {
  if (f.name.endsWith('.json')) return true;
  if (f.name.endsWith('.hcl')) return false;
  return /^\s*[[{]/.test(f.data);
}

export function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Line of `name =` (or `"name":`) at or after `from`, else `from`. */
export function attrLine(text: string, name: string, from: number): number {
  const lines = text.split('\n');
  const re = new RegExp(`^\\s*"?${esc(name)}"?\\s*[=:]`);
  for (let i = from - 1; i < lines.length; i++) if (re.test(lines[i]!)) return i + 1;
  return from;
}

function blockLines(text: string, type: string, label: string, json: boolean): number[] {
  const re = json ? new RegExp(`"${esc(label)}"\\s*:`, 'g') : new RegExp(`^[ \\t]*${esc(type)}[ \\t]+"${esc(label)}"[ \\t]*\\{`, 'gm');
  if (json) re.lastIndex = Math.max(0, text.search(new RegExp(`"${esc(type)}"\\s*:`)));
  const out: number[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) out.push(lineOf(text, m.index));
  return out;
}

/**
 * The lines that start at the top level of an HCL file (outside any block or bracket), by a
 * scan that skips strings, heredocs and comments: hcl2json does not say whether a top-level
 * key was an attribute or a block.
 */
function topLevelLines(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const c = text[i]!;
    if (lineStart && depth === 0) out.push(text.slice(i, text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i)));
    lineStart = false;
    if (c === '\n') {
      lineStart = true;
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else if (c === '"') {
      i++;
      let nest = 0;
      while (i < text.length && (text[i] !== '"' || nest > 0)) {
        if (text[i] === '\\') i++;
        else if (text[i] === '$' && text[i + 1] === '{') nest++;
        else if (text[i] === '}' && nest > 0) nest--;
        i++;
      }
      i++;
    } else if (c === '<' && text[i + 1] === '<') {
      const m = /^<<-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(text.slice(i));
      if (!m) {
        i += 2;
        continue;
      }
      const end = new RegExp(`^[ \\t]*${m[1]}[ \\t]*$`, 'm').exec(text.slice(i + m[0].length));
      i = end ? i + m[0].length + end.index + end[0].length : text.length;
    } else {
      if (c === '{' || c === '[' || c === '(') depth++;
      else if (c === '}' || c === ']' || c === ')') depth = Math.max(0, depth - 1);
      i++;
    }
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, Value> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Parses one bake file into its top-level body. Syntax errors are SourceErrors with file:line. */
export async function parseFile(f: BakeFile): Promise<RawBody> {
  return isJsonFile(f) ? parseJson(f) : parseHcl(f);
}

async function parseHcl(f: BakeFile): Promise<RawBody> {
  let doc: Record<string, unknown>;
  try {
    doc = (await hclToJson(f.name, f.data)) as Record<string, unknown>;
  } catch (e) {
    const msg = String((e as Error).message ?? e);
    const m = /\[?([^\s[]+?):(\d+),(\d+)(?:-[\d,]+)?: ([^\]]*)/.exec(msg);
    if (m) throw new SourceError(f.name, Number(m[2]), Number(m[3]), m[4]!.replace(/, and \d+ other diagnostic\(s\)$/, '').trim());
    throw new SourceError(f.name, 1, 1, msg.replace(/^parse config: /, ''));
  }
  const text = f.data;
  const body: RawBody = { attrs: [], blocks: [], pos: { file: f.name, line: 1 }, text };
  const seen = new Map<string, number>();
  const top = topLevelLines(text);
  for (const [key, v] of Object.entries(doc)) {
    const isAttr = top.some((l) => new RegExp(`^[ \\t]*${esc(key)}[ \\t]*=`).test(l));
    if (!TOP_BLOCKS.has(key) || isAttr) {
      const isBlock = top.some((l) => new RegExp(`^[ \\t]*${esc(key)}[ \\t]*("[^"\\n]*"[ \\t]*)*\\{`).test(l));
      const attrAt = new RegExp(`^[ \\t]*${esc(key)}[ \\t]*[={]`, 'm').exec(text);
      const line = attrAt ? lineOf(text, attrAt.index) : 1;
      if (!isAttr && isBlock) throw new SourceError(f.name, line, 1, `unknown block type "${key}" (expected target, group, variable or function)`);
      body.attrs.push({ name: key, expr: v as Value, pos: { file: f.name, line } });
      continue;
    }
    if (!isObj(v) || !Object.values(v).every((b) => Array.isArray(b) && b.every(isObj))) {
      const m = new RegExp(`^[ \\t]*${esc(key)}\\b`, 'm').exec(text);
      throw new SourceError(f.name, m ? lineOf(text, m.index) : 1, 1, `a ${key} block needs exactly one label (${key} "NAME" { ... })`);
    }
    for (const [label, bodies] of Object.entries(v)) {
      const lines = blockLines(text, key, label, false);
      (bodies as Record<string, Value>[]).forEach((b, i) => {
        const n = seen.get(`${key}\0${label}`) ?? 0;
        seen.set(`${key}\0${label}`, n + 1);
        const pos = { file: f.name, line: lines[n] ?? 1 };
        body.blocks.push({ type: key, label, pos, body: hclBody(b, key, pos, text) });
        void i;
      });
    }
  }
  // hcl2json groups blocks by type and name; bake semantics follow file order, so restore it
  body.blocks.sort((a, b) => a.pos.line - b.pos.line);
  return body;
}

/** Line of a nested `name {` block header at or after `from`, if there is one. */
function nestedBlockLine(text: string, name: string, from: number): number | undefined {
  const lines = text.split('\n');
  const re = new RegExp(`^\\s*${esc(name)}\\s*("[^"]*"\\s*)*\\{`);
  for (let i = from; i < lines.length; i++) if (re.test(lines[i]!)) return i + 1;
  return undefined;
}

function hclBody(raw: Record<string, Value>, type: string, pos: Pos, text: string): RawBody {
  const body: RawBody = { attrs: [], blocks: [], pos, text };
  for (const [k, v] of Object.entries(raw)) {
    const blockLine = Array.isArray(v) && v.every(isObj) ? nestedBlockLine(text, k, pos.line) : undefined;
    if (blockLine !== undefined && (NESTED_BLOCKS[type]?.includes(k) || attrLine(text, k, pos.line) === pos.line)) {
      for (const b of v as Record<string, Value>[]) body.blocks.push({ type: k, label: '', pos: { file: pos.file, line: blockLine }, body: hclBody(b, k, pos, text) });
      continue;
    }
    body.attrs.push({ name: k, expr: v, pos: { file: pos.file, line: attrLine(text, k, pos.line) } });
  }
  return body;
}

function parseJson(f: BakeFile): RawBody {
  let doc: unknown;
  try {
    doc = JSON.parse(f.data);
  } catch (e) {
    const msg = (e as Error).message.replace(/\s*\n\s*/g, ' ');
    const m = /position (\d+)/.exec(msg);
    throw new SourceError(f.name, m ? lineOf(f.data, Number(m[1])) : 1, 1, `malformed JSON: ${msg}`);
  }
  if (!isObj(doc)) throw new SourceError(f.name, 1, 1, 'a bake JSON file must hold an object');
  return jsonBody(doc, '', { file: f.name, line: 1 }, f.data, true);
}

function jsonBody(obj: Record<string, Value>, type: string, pos: Pos, text: string, top = false): RawBody {
  const body: RawBody = { attrs: [], blocks: [], pos, text, json: true };
  const blockTypes = top ? TOP_BLOCKS : new Set(NESTED_BLOCKS[type] ?? []);
  for (const [k, v] of Object.entries(obj)) {
    if (k === '//') continue; // a comment in HCL's JSON syntax
    if (!blockTypes.has(k)) {
      body.attrs.push({ name: k, expr: v, pos: { file: pos.file, line: attrLine(text, k, pos.line) } });
      continue;
    }
    const line = attrLine(text, k, pos.line);
    const bad = (what: string): never => {
      throw new SourceError(pos.file, line, 1, `"${k}": ${what}`);
    };
    const groups = Array.isArray(v) ? v : [v];
    for (const g of groups) {
      if (!isObj(g)) bad(`either a JSON object or a JSON array is required, representing the contents of one or more "${k}" blocks`);
      if (!top) {
        // nested blocks here have no label: the object is the body
        body.blocks.push({ type: k, label: '', pos: { file: pos.file, line }, body: jsonBody(g as Record<string, Value>, k, { file: pos.file, line }, text) });
        continue;
      }
      for (const [label, b] of Object.entries(g as Record<string, Value>)) {
        const bodies = Array.isArray(b) ? b : [b];
        for (const one of bodies) {
          const bpos = { file: pos.file, line: blockLines(text, k, label, true)[0] ?? line };
          if (!isObj(one)) throw new SourceError(pos.file, bpos.line, 1, `${k} "${label}": either a JSON object or a JSON array is required, representing the contents of one or more "${k}" blocks`);
          body.blocks.push({ type: k, label, pos: bpos, body: jsonBody(one, k, bpos, text) });
        }
      }
    }
  }
  return body;
}
