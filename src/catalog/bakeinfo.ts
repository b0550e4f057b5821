/**
 * Just enough of a bake file for lint: which named contexts each target hands to which
 * Dockerfile. Full bake semantics (functions, inheritance, matrices) live in src/bake; lint only
 * needs literal `context`, `dockerfile` and `contexts` keys, with `${VAR}` taken from variable
 * defaults.
 */
import { expandVars } from './dockerfile.js';

export interface BakeTargetInfo {
  name: string;
  context?: string;
  dockerfile?: string;
  contextNames: string[];
  inherits: string[];
}

export interface BakeInfo {
  variables: Record<string, string>;
  targets: BakeTargetInfo[];
}

/** Removes comments (outside strings) so the block scan below is not fooled by them. */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  let inStr = false;
  while (i < text.length) {
    const c = text[i]!;
    if (inStr) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inStr = false;
      i++;
      continue;
    }
    if (c === '"') {
      inStr = true;
      out += c;
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const chunk = text.slice(i, end < 0 ? text.length : end + 2);
      out += chunk.replace(/[^\n]/g, ' ');
      i += chunk.length;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function blockBody(text: string, open: number): string {
  let depth = 0;
  let inStr = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

export function readBakeInfo(text: string): BakeInfo {
  const src = stripComments(text);
  const variables: Record<string, string> = {};
  for (const m of src.matchAll(/\bvariable\s+"([^"]+)"\s*\{/g)) {
    const body = blockBody(src, m.index! + m[0].length - 1);
    const d = /\bdefault\s*=\s*"([^"]*)"/.exec(body);
    if (d) variables[m[1]!] = d[1]!;
  }
  const env = { ...variables };
  for (const [k, v] of Object.entries(process.env)) if (k in variables && v !== undefined) env[k] = v;
  const x = (s: string): string => expandVars(s, env);
  const targets: BakeTargetInfo[] = [];
  for (const m of src.matchAll(/\btarget\s+"([^"]+)"\s*\{/g)) {
    const body = blockBody(src, m.index! + m[0].length - 1);
    const t: BakeTargetInfo = { name: m[1]!, contextNames: [], inherits: [] };
    const ctx = /(^|\n)\s*context\s*=\s*"([^"]*)"/.exec(body);
    if (ctx) t.context = x(ctx[2]!);
    const df = /(^|\n)\s*dockerfile\s*=\s*"([^"]*)"/.exec(body);
    if (df) t.dockerfile = x(df[2]!);
    const inh = /(^|\n)\s*inherits\s*=\s*\[([^\]]*)\]/.exec(body);
    if (inh) t.inherits = [...inh[2]!.matchAll(/"([^"]+)"/g)].map((q) => q[1]!);
    const cm = /(^|\n)\s*contexts\s*=\s*\{/.exec(body);
    if (cm) {
      const cbody = blockBody(body, cm.index + cm[0].length - 1);
      for (const k of cbody.matchAll(/(?:^|[\n,{])\s*(?:"([^"]+)"|([A-Za-z0-9_.:/-]+))\s*=/g)) {
        t.contextNames.push(x(k[1] ?? k[2]!));
      }
    }
    targets.push(t);
  }
  // Inherited attributes: a child without its own value takes its parent's.
  const byName = new Map(targets.map((t) => [t.name, t]));
  const resolve = (t: BakeTargetInfo, seen: Set<string>): void => {
    for (const p of t.inherits) {
      const parent = byName.get(p);
      if (!parent || seen.has(p)) continue;
      resolve(parent, new Set([...seen, p]));
      t.context ??= parent.context;
      t.dockerfile ??= parent.dockerfile;
      t.contextNames = [...new Set([...parent.contextNames, ...t.contextNames])];
    }
  };
  for (const t of targets) resolve(t, new Set([t.name]));
  return { variables, targets };
}
