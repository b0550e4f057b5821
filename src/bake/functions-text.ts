/** String functions of buildx's stdlib, with Go's semantics where JavaScript's differ. */
import { createHash, randomUUID } from 'node:crypto';
import { cleanPath } from './paths.js';
import { ExprError, formatNumber, toBool, toNum, toStr, typeName, type Value } from './expr.js';

/** Go's json.Marshal as cty uses it: object keys sorted, <, > and & escaped. */
export function jsonEncode(v: Value): string {
  const walk = (x: Value): string => {
    if (x === null) return 'null';
    if (typeof x === 'number' && !Number.isFinite(x)) throw new ExprError('cannot serialize infinity as JSON');
    if (typeof x === 'number') return formatNumber(x);
    if (typeof x === 'string') return JSON.stringify(x).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    if (typeof x === 'boolean') return String(x);
    if (Array.isArray(x)) return `[${x.map(walk).join(',')}]`;
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${walk(k)}:${walk(x[k]!)}`)
      .join(',')}}`;
  };
  return walk(v);
}

/**
 * Go's strings.Title: a letter starts a word after an ASCII character other than a letter, digit
 * or `_`, or after a space; other non-ASCII characters do not separate words.
 */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const c of s) {
    const sep = c.length && prev.charCodeAt(0) < 0x80 ? !/[A-Za-z0-9_]/.test(prev) : /\s/u.test(prev);
    out += sep ? c.toUpperCase() : c;
    prev = c;
  }
  return out;
}

/**
 * Go maps case one character to one character (ß stays ß in upper case); JavaScript's full
 * mapping may give two. Keep the character then, unless the rest is only a combining dot (İ → i).
 */
function simpleCase(s: string, map: (c: string) => string): string {
  let out = '';
  for (const c of s) {
    const m = [...map(c)];
    out += m.length === 1 ? m[0] : m.length === 2 && m[1] === '\u0307' ? m[0] : c;
  }
  return out;
}

/** Go's %g for the shortest representation: exponent form below 1e-4 and from 1e6 on. */
function goG(n: number): string {
  if (n === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21 || exp >= 6) {
    const [m, e] = n.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    return `${m}e${sign}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
  }
  return String(n);
}

/** Go's url.QueryEscape. */
function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's path.Base and path.Dir. */
function base(p: string): string {
  if (p === '') return '.';
  const s = p.replace(/\/+$/, '');
  if (s === '') return '/';
  return s.slice(s.lastIndexOf('/') + 1);
}

/** Go regexp syntax, mapped to JavaScript's for what bake files use: named groups, inline flags. */
export function goRegex(pattern: string, flags = ''): RegExp {
  let p = pattern.replace(/\(\?P</g, '(?<');
  let f = flags;
  const inline = /^\(\?([imsU]+)\)/.exec(p);
  if (inline) {
    p = p.slice(inline[0].length);
    for (const c of inline[1]!) if ('ims'.includes(c) && !f.includes(c)) f += c;
  }
  p = p.replace(/\\z/g, '$').replace(/\\A/g, '^');
  try {
    return new RegExp(p, f + 'u');
  } catch (e) {
    throw new ExprError(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/** Go's Regexp.ReplaceAllString template: $1, ${1}, $name, ${name}; $$ is a dollar. */
function expandGo(tpl: string, m: RegExpExecArray): string {
  return tpl.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, _x, braced?: string, bare?: string) => {
    if (_x === '$') return '$';
    const name = braced ?? bare!;
    const v = /^\d+$/.test(name) ? m[Number(name)] : m.groups?.[name];
    return v ?? '';
  });
}

function regexReplace(s: string, pattern: string, tpl: string): string {
  const re = goRegex(pattern, 'g');
  return s.replace(re, (...a) => {
    const groups = typeof a[a.length - 1] === 'object' ? (a[a.length - 1] as Record<string, string>) : undefined;
    const caps = a.slice(0, groups ? -3 : -2) as string[];
    const m = Object.assign([...caps], { groups, index: 0, input: s }) as unknown as RegExpExecArray;
    return expandGo(tpl, m);
  });
}

/** A group that took no part in the match is null, as cty gives it. */
function regexResult(m: RegExpExecArray): Value {
  if (m.groups && Object.keys(m.groups).length) return Object.fromEntries(Object.entries(m.groups).map(([k, v]) => [k, v ?? null]));
  if (m.length > 1) return m.slice(1).map((x) => x ?? null);
  return m[0];
}

/** cty's format(): Go verbs for the value kinds HCL has. */
export function format(fmt: string, args: Value[]): string {
  let i = 0;
  return fmt.replace(/%([-+ #0]*)(\d+)?(?:\.(\d+))?([%vsdqftbxXeEgGo])/g, (_m, flags: string, width?: string, prec?: string, verb?: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) throw new ExprError(`format(): not enough arguments for ${JSON.stringify(fmt)}`);
    const a = args[i++]!;
    let s: string;
    switch (verb) {
      case 'v':
        s = a === null ? 'null' : typeof a === 'object' ? jsonEncode(a) : flags.includes('#') ? jsonEncode(a) : toStr(a);
        break;
      case 's':
        s = toStr(a);
        break;
      case 'q':
        s = JSON.stringify(toStr(a));
        break;
      case 'd':
        if (!Number.isInteger(toNum(a))) throw new ExprError(`format(): %d requires an integer, got ${toStr(a)}`);
        s = toNum(a).toFixed(0);
        if (flags.includes('+') && toNum(a) >= 0) s = '+' + s;
        break;
      case 'f':
        s = toNum(a).toFixed(prec === undefined ? 6 : Number(prec));
        break;
      case 'e':
      case 'E':
        s = toNum(a)
          .toExponential(prec === undefined ? 6 : Number(prec))
          .replace(/e([+-])(\d)$/, 'e$10$2');
        if (verb === 'E') s = s.toUpperCase();
        break;
      case 'g':
      case 'G':
        s = goG(toNum(a));
        if (verb === 'G') s = s.toUpperCase();
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
      case 'X':
        if (typeof a !== 'number') throw new ExprError(`format(): unsupported value for "%${verb}": a number is required`);
        s = Math.trunc(a).toString(16);
        if (verb === 'X') s = s.toUpperCase();
        break;
      default:
        s = toStr(a);
    }
    if (prec !== undefined && verb === 's') s = [...s].slice(0, Number(prec)).join('');
    const len = [...s].length;
    if (width !== undefined && len < Number(width)) {
      const pad = Number(width) - len;
      if (flags.includes('-')) s = s + ' '.repeat(pad);
      else if (flags.includes('0') && verb !== 's' && verb !== 'q') s = s.startsWith('-') ? '-' + '0'.repeat(pad) + s.slice(1) : '0'.repeat(pad) + s;
      else s = ' '.repeat(pad) + s;
    }
    return s;
  });
}

function uuidv5(ns: string, name: string): string {
  const ids: Record<string, string> = {
    dns: '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
    url: '6ba7b811-9dad-11d1-80b4-00c04fd430c8',
    oid: '6ba7b812-9dad-11d1-80b4-00c04fd430c8',
    x500: '6ba7b814-9dad-11d1-80b4-00c04fd430c8',
  };
  const id = ids[ns];
  if (!id) throw new ExprError(`uuidv5(): namespace must be one of dns, url, oid or x500, got ${JSON.stringify(ns)}`);
  const h = createHash('sha1').update(Buffer.from(id.replace(/-/g, ''), 'hex')).update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Characters as users see them (grapheme clusters), as cty counts and slices strings. */
const graphemes = (s: string) => [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(s)].map((g) => g.segment);

const str = (name: string, a: Value[], n: number) => {
  if (a.length !== n) throw new ExprError(`${name}(): expects ${n} argument(s), got ${a.length}`);
  return a.map((x) => {
    if (x === null) throw new ExprError(`${name}(): argument must not be null`);
    if (typeof x === 'object') throw new ExprError(`${name}(): a string is required, got ${typeName(x)}`);
    return toStr(x);
  });
};

const hash = (alg: string) => (a: Value[]) => createHash(alg).update(str(alg, a, 1)[0]!).digest('hex');

export const textFunctions: Record<string, (a: Value[]) => Value> = {
  lower: (a) => simpleCase(str('lower', a, 1)[0]!, (c) => c.toLowerCase()),
  upper: (a) => simpleCase(str('upper', a, 1)[0]!, (c) => c.toUpperCase()),
  title: (a) => title(str('title', a, 1)[0]!),
  strlen: (a) => graphemes(str('strlen', a, 1)[0]!).length,
  reverse: (a) => graphemes(str('reverse', a, 1)[0]!).reverse().join(''),
  substr: (a) => {
    if (a.length !== 3) throw new ExprError(`substr(): expects 3 arguments, got ${a.length}`);
    const cs = graphemes(toStr(a[0]!));
    let off = toNum(a[1]!);
    let len = toNum(a[2]!);
    if (off < 0) off = cs.length + off;
    if (off < 0 || off > cs.length) throw new ExprError('substr(): offset out of range');
    if (len < 0) len = cs.length - off;
    return cs.slice(off, off + len).join('');
  },
  replace: (a) => {
    const [s, what, by] = str('replace', a, 3) as [string, string, string];
    // like Go, an empty search string matches before every character and at the end
    return what === '' ? by + [...s].join(by) + (s ? by : '') : s.split(what).join(by);
  },
  regex_replace: (a) => {
    const [s, re, by] = str('regex_replace', a, 3) as [string, string, string];
    return regexReplace(s, re, by);
  },
  regex: (a) => {
    const [re, s] = str('regex', a, 2) as [string, string];
    const m = goRegex(re).exec(s);
    if (!m) throw new ExprError('regex(): pattern did not match');
    return regexResult(m);
  },
  regexall: (a) => {
    const [re, s] = str('regexall', a, 2) as [string, string];
    return [...s.matchAll(goRegex(re, 'g'))].map((m) => regexResult(m as RegExpExecArray));
  },
  split: (a) => {
    const [sep, s] = str('split', a, 2) as [string, string];
    return s.split(sep);
  },
  trim: (a) => {
    const [s, cut] = str('trim', a, 2) as [string, string];
    const set = new Set([...cut]);
    const cs = [...s];
    let b = 0;
    let e = cs.length;
    while (b < e && set.has(cs[b]!)) b++;
    while (e > b && set.has(cs[e - 1]!)) e--;
    return cs.slice(b, e).join('');
  },
  trimspace: (a) => str('trimspace', a, 1)[0]!.replace(/^[\s\u0085]+|[\s\u0085]+$/gu, ''),
  trimprefix: (a) => {
    const [s, p] = str('trimprefix', a, 2) as [string, string];
    return s.startsWith(p) ? s.slice(p.length) : s;
  },
  trimsuffix: (a) => {
    const [s, p] = str('trimsuffix', a, 2) as [string, string];
    return p && s.endsWith(p) ? s.slice(0, -p.length) : s;
  },
  chomp: (a) => str('chomp', a, 1)[0]!.replace(/(?:\r\n?|\n)*$/, ''),
  indent: (a) => {
    if (a.length !== 2) throw new ExprError(`indent(): expects 2 arguments, got ${a.length}`);
    return toStr(a[1]!).replace(/\n/g, '\n' + ' '.repeat(toNum(a[0]!)));
  },
  format: (a) => {
    if (!a.length) throw new ExprError('format(): expects at least 1 argument');
    return format(toStr(a[0]!), a.slice(1));
  },
  formatlist: (a) => {
    if (!a.length) throw new ExprError('formatlist(): expects at least 1 argument');
    const fmt = toStr(a[0]!);
    const rest = a.slice(1);
    const lens = rest.filter(Array.isArray).map((l) => (l as Value[]).length);
    if (new Set(lens).size > 1) throw new ExprError('formatlist(): all list arguments must have the same length');
    const n = lens[0] ?? 1;
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(format(fmt, rest.map((r) => (Array.isArray(r) ? (r[i] ?? null) : r))));
    return out;
  },
  join: (a) => {
    if (a.length < 2) throw new ExprError('join(): expects a separator and at least one list');
    const sep = toStr(a[0]!);
    return a
      .slice(1)
      .flatMap((l) => {
        if (!Array.isArray(l)) throw new ExprError(`join(): a list is required, got ${typeName(l)}`);
        return l;
      })
      .map((x) => {
        if (x === null) throw new ExprError('join(): element must not be null');
        return toStr(x);
      })
      .join(sep);
  },
  sanitize: (a) => [...str('sanitize', a, 1)[0]!].map((c) => (/^[a-zA-Z0-9_-]$/.test(c) ? c : '_')).join(''),
  urlencode: (a) => queryEscape(str('urlencode', a, 1)[0]!),
  base64encode: (a) => Buffer.from(str('base64encode', a, 1)[0]!).toString('base64'),
  base64decode: (a) => {
    const s = str('base64decode', a, 1)[0]!;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new ExprError('base64decode(): failed to decode base64 data');
    const b = Buffer.from(s, 'base64');
    const out = b.toString('utf8');
    if (!Buffer.from(out, 'utf8').equals(b)) throw new ExprError('base64decode(): the result of decoding the provided string is not valid UTF-8');
    return out;
  },
  md5: hash('md5'),
  sha1: hash('sha1'),
  sha256: hash('sha256'),
  sha512: hash('sha512'),
  uuidv4: (a) => {
    if (a.length) throw new ExprError('uuidv4(): takes no arguments');
    return randomUUID();
  },
  uuidv5: (a) => uuidv5(...(str('uuidv5', a, 2) as [string, string])),
  basename: (a) => base(str('basename', a, 1)[0]!),
  dirname: (a) => {
    const p = str('dirname', a, 1)[0]!;
    return cleanPath(p.slice(0, p.lastIndexOf('/') + 1));
  },
  jsonencode: (a) => {
    if (a.length !== 1) throw new ExprError(`jsonencode(): expects 1 argument, got ${a.length}`);
    return jsonEncode(a[0]!);
  },
  jsondecode: (a) => {
    try {
      return JSON.parse(str('jsondecode', a, 1)[0]!) as Value;
    } catch (e) {
      throw new ExprError(`jsondecode(): ${(e as Error).message}`);
    }
  },
};
