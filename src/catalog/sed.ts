/**
 * The part of sed that edits a constraints file, with sed's own meaning, so that `stratum
 * constraints` computes exactly the file a Dockerfile's `sed -i` step writes.
 *
 * Supported script commands (several may be joined with `;` or newlines, or given as -e each):
 *   [/RE/]d                     delete the lines the address matches (every line without one)
 *   [/RE/]s<d>RE<d>REPL<d>[g|N] substitute, the first match, every match (g) or the Nth (N)
 * RE is a POSIX basic regular expression (extended with -E or -r), with GNU's `\+ \? \|` in basic
 * ones; REPL knows `&`, `\1`..`\9` and `\n`. Anything else (other commands, line-number
 * addresses, flags like `I` or `p`) is refused with a message rather than approximated.
 */

export type SedCommand =
  | { kind: 'd'; address?: RegExp }
  | { kind: 's'; address?: RegExp; re: RegExp; replacement: string; global: boolean; occurrence: number };

/** Translates a POSIX regular expression (basic unless `extended`) into a JavaScript one. */
export function posixToJs(re: string, extended: boolean): string {
  let out = '';
  let i = 0;
  // Where `*` is literal in a BRE and `^` is an anchor: at the start and after an open group.
  let atStart = true;
  let groups = 0;
  while (i < re.length) {
    const c = re[i]!;
    const startHere = atStart;
    atStart = false;
    if (c === '\\') {
      const n = re[i + 1];
      if (n === undefined) throw new Error('trailing backslash');
      i += 2;
      if (!extended && n === '(') {
        out += '(';
        groups++;
        atStart = true;
      } else if (!extended && n === ')') {
        out += ')';
        groups--;
      } else if (!extended && n === '{') {
        const end = re.indexOf('\\}', i);
        if (end < 0) throw new Error('unterminated \\{');
        out += `{${re.slice(i, end)}}`;
        i = end + 2;
      } else if (!extended && (n === '+' || n === '?' || n === '|')) {
        out += n;
        if (n === '|') atStart = true;
      } else if (/[1-9]/.test(n)) out += `\\${n}`;
      else if (n === 'n') out += '\\n';
      else if (n === 't') out += '\\t';
      else if (/[A-Za-z]/.test(n)) throw new Error(`\\${n} is a GNU extension this reader does not know`);
      else out += escapeJs(n);
      continue;
    }
    if (c === '[') {
      const { js, end } = bracket(re, i);
      out += js;
      i = end;
      continue;
    }
    i++;
    if (c === '^') out += startHere || extended ? '^' : '\\^';
    else if (c === '$') {
      const atEnd = i === re.length || (!extended && re.startsWith('\\)', i)) || (extended && (re[i] === ')' || re[i] === '|'));
      out += atEnd ? '$' : '\\$';
    } else if (c === '*') out += startHere && !extended ? '\\*' : '*';
    else if (c === '.') out += '.';
    else if (extended && '()|+?{}'.includes(c)) {
      out += c;
      if (c === '(') {
        groups++;
        atStart = true;
      } else if (c === ')') groups--;
      else if (c === '|') atStart = true;
    } else out += escapeJs(c);
    if (c === '^' && startHere) atStart = true;
  }
  if (groups !== 0) throw new Error('unbalanced group');
  return out;
}

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
};

/** A bracket expression starting at re[start] === '['; backslash is literal inside, as POSIX says. */
function bracket(re: string, start: number): { js: string; end: number } {
  let i = start + 1;
  let js = '[';
  if (re[i] === '^') {
    js += '^';
    i++;
  }
  let first = true;
  while (i < re.length) {
    const c = re[i]!;
    if (c === ']' && !first) return { js: js + ']', end: i + 1 };
    first = false;
    if (c === '[' && re[i + 1] === ':') {
      const end = re.indexOf(':]', i + 2);
      const name = end < 0 ? '' : re.slice(i + 2, end);
      const cls = CLASSES[name];
      if (!cls) throw new Error(`unknown character class [:${name}:]`);
      js += cls;
      i = end + 2;
      continue;
    }
    js += c === '\\' || c === ']' || c === '[' || c === '^' ? `\\${c}` : c;
    i++;
  }
  throw new Error('unterminated bracket expression');
}

function escapeJs(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** Reads text up to the unescaped delimiter `delim` from `i`; returns it (escapes of the delimiter removed). */
function until(s: string, i: number, delim: string, what: string): { text: string; next: number } {
  let text = '';
  let inBracket = false;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      text += s[i + 1] === delim ? delim : c + s[i + 1];
      i += 2;
      continue;
    }
    if (c === '[' && !inBracket) inBracket = true;
    else if (c === ']' && inBracket) inBracket = false;
    if (c === delim && !inBracket) return { text, next: i + 1 };
    text += c;
    i++;
  }
  throw new Error(`unterminated ${what}`);
}

/** Parses a sed script (the text of one -e, or the single script argument). */
export function parseSedScript(script: string, extended = false): SedCommand[] {
  const cmds: SedCommand[] = [];
  let i = 0;
  const skipBlanks = (): void => {
    while (i < script.length && /[\s;]/.test(script[i]!)) i++;
  };
  skipBlanks();
  while (i < script.length) {
    let address: RegExp | undefined;
    if (script[i] === '/' || (script[i] === '\\' && script[i + 1])) {
      const delim = script[i] === '/' ? '/' : script[i + 1]!;
      const r = until(script, i + (delim === '/' ? 1 : 2), delim, 'address');
      address = new RegExp(posixToJs(r.text, extended));
      i = r.next;
    } else if (/[0-9$]/.test(script[i]!)) throw new Error('line-number addresses are not supported');
    while (script[i] === ' ') i++;
    const c = script[i];
    if (c === 'd') {
      cmds.push({ kind: 'd', address });
      i++;
    } else if (c === 's') {
      const delim = script[i + 1];
      if (!delim || /[\s\\\n]/.test(delim)) throw new Error('s needs a delimiter');
      const re = until(script, i + 2, delim, 's regular expression');
      const repl = until(script, re.next, delim, 's replacement');
      i = repl.next;
      let global = false;
      let occurrence = 1;
      while (i < script.length && !/[\s;]/.test(script[i]!)) {
        const f = script[i]!;
        if (f === 'g') global = true;
        else if (/[0-9]/.test(f)) {
          const m = /^[0-9]+/.exec(script.slice(i))!;
          occurrence = Number(m[0]);
          i += m[0].length - 1;
        } else throw new Error(`s flag "${f}" is not supported`);
        i++;
      }
      if (re.text === '') throw new Error('an empty regular expression (the last one used) is not supported');
      cmds.push({ kind: 's', address, re: new RegExp(posixToJs(re.text, extended), 'g'), replacement: repl.text, global, occurrence });
    } else throw new Error(`sed command "${c ?? ''}" is not supported (only d and s)`);
    const before = i;
    skipBlanks();
    if (i < script.length && before === i) throw new Error(`unexpected "${script.slice(i, i + 10)}" after a command`);
  }
  return cmds;
}

function expandReplacement(repl: string, m: RegExpExecArray): string {
  let out = '';
  for (let i = 0; i < repl.length; i++) {
    const c = repl[i]!;
    if (c === '&') out += m[0];
    else if (c === '\\' && i + 1 < repl.length) {
      const n = repl[++i]!;
      if (/[0-9]/.test(n)) out += m[Number(n)] ?? '';
      else if (n === 'n') out += '\n';
      else if (n === 't') out += '\t';
      else out += n;
    } else out += c;
  }
  return out;
}

export interface SedLineChange {
  /** 1-based line number in the input. */
  line: number;
  before: string;
  /** null when the line was deleted. */
  after: string | null;
}

/** Runs commands over text line by line, as `sed -i` does; reports each line it changed. */
export function runSed(cmds: readonly SedCommand[], text: string): { text: string; changes: SedLineChange[] } {
  const endsWithNewline = text.endsWith('\n');
  const lines = text === '' ? [] : (endsWithNewline ? text.slice(0, -1) : text).split('\n');
  const out: string[] = [];
  const changes: SedLineChange[] = [];
  lines.forEach((original, idx) => {
    let space = original;
    let deleted = false;
    for (const c of cmds) {
      if (c.address && !c.address.test(space)) continue;
      if (c.kind === 'd') {
        deleted = true;
        break;
      }
      space = substitute(space, c);
    }
    if (deleted) changes.push({ line: idx + 1, before: original, after: null });
    else {
      if (space !== original) changes.push({ line: idx + 1, before: original, after: space });
      out.push(space);
    }
  });
  const body = out.join('\n');
  return { text: out.length === 0 ? '' : body + (endsWithNewline ? '\n' : ''), changes };
}

function substitute(space: string, c: Extract<SedCommand, { kind: 's' }>): string {
  const re = new RegExp(c.re.source, 'g');
  let out = '';
  let last = 0;
  let n = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(space)) !== null) {
    n++;
    if (n >= c.occurrence && (c.global || n === c.occurrence)) {
      out += space.slice(last, m.index) + expandReplacement(c.replacement, m);
      last = m.index + m[0].length;
      if (!c.global) break;
    }
    if (m[0] === '') re.lastIndex++;
  }
  return out + space.slice(last);
}
