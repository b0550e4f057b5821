/**
 * Dockerfile text -> instructions, with BuildKit's lexical rules: parser directives at the very top, an
 * escape character at the end of a line continues the instruction (the newline is dropped), comment lines
 * and blank lines inside a continuation are skipped, and RUN/COPY/ADD lines that name here-documents take
 * the following lines up to each delimiter.
 *
 * Why the line structure is not taken from `dockerfile-ast`: that parser (v0.7.1) is built for editors and
 * joins continuation lines differently from BuildKit, which changes the resulting instructions. On the
 * BuildKit conformance set it merges `ENV C trailing\\backslash\\` with the next instruction (an escaped
 * escape character is not a continuation in BuildKit: "trailing-backslash"), and it drops the whitespace of
 * continuation lines made only of spaces and an escape (`RUN echo hi \` + ` \` gives "echo hi   world" in
 * BuildKit, "echo hi  world" there: "continueIndent", and `ENV F hello\` + ` \` + `world`). Since instruction
 * boundaries and heredoc grouping both depend on these rules, the scanner below implements them directly.
 */
import { SourceError } from '../util/errors.js';
import { ShellLex } from './shell.js';
import type { Dockerfile, Flag, Heredoc, Instruction } from './types.js';

const DIRECTIVE_RE = /^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const WHITESPACE_RE = /[\t\v\f\r ]+/;

/** Instructions whose shell form may open here-documents. */
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
/** Instructions whose arguments may be a JSON array. */
export const JSON_KEYWORDS = new Set(['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'ADD', 'COPY', 'VOLUME']);

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

function trimLeadingWhitespace(s: string): string {
  return s.replace(/^\s+/u, '');
}

function isComment(s: string): boolean {
  return trimLeadingWhitespace(trimNewline(s)).startsWith('#');
}

/** Go's strings.TrimSpace. */
export function trimSpace(s: string): string {
  return s.replace(/^\s+|\s+$/gu, '');
}


/**
 * The escape character continues the line when it is the last non-blank character and is not itself
 * escaped (so `a\\` ends the instruction while a line holding only `\` continues it).
 */
function continuation(line: string, escape: string): string | null {
  const m = /[ \t]*$/.exec(line);
  const end = m ? m.index : line.length;
  if (end === 0 || line[end - 1] !== escape) return null;
  if (end >= 2 && line[end - 2] === escape) return null;
  return line.slice(0, end - 1);
}

/** BuildKit's flag extraction: leading `--words` (quotes removed) up to the first other word or `--`. */
export function extractFlags(line: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  let pos = 0;
  const n = line.length;
  for (;;) {
    while (pos < n && /\s/u.test(line[pos] as string)) pos++;
    if (pos >= n) return { rest: '', flags };
    if (!(line[pos] === '-' && line[pos + 1] === '-')) return { rest: line.slice(pos), flags };
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < n; pos++) {
      const ch = line[pos] as string;
      if (quote) {
        if (ch === quote) {
          quote = '';
          continue;
        }
        if (ch === '\\') {
          if (pos + 1 === n) continue;
          word += line[++pos];
          continue;
        }
        word += ch;
        continue;
      }
      if (/\s/u.test(ch)) break;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === n) continue;
        word += line[++pos];
        continue;
      }
      word += ch;
    }
    if (word === '--') return { rest: pos >= n ? '' : line.slice(pos), flags };
    if (blankOk || word.length > 0) flags.push(word);
  }
}

export function flagFromWord(word: string): Flag {
  const body = word.startsWith('--') ? word.slice(2) : word;
  const eq = body.indexOf('=');
  return eq < 0 ? { name: body, value: null } : { name: body.slice(0, eq), value: body.slice(eq + 1) };
}

export function flagToWord(f: Flag): string {
  return f.value === null ? `--${f.name}` : `--${f.name}=${f.value}`;
}

/** BuildKit's word splitter for ENV/LABEL/ARG: splits on unquoted whitespace, keeps quotes and escapes. */
export function splitWordsKeepQuotes(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (!inWord) {
      if (/\s/u.test(ch)) continue;
      inWord = true;
    }
    if (quote) {
      if (ch === quote) quote = '';
      if (ch === escape && quote !== "'" && ch !== quote) {
        if (i + 1 === chars.length) continue;
        word += ch + (chars[++i] as string);
        continue;
      }
      word += ch;
      continue;
    }
    if (/\s/u.test(ch)) {
      if (blankOk || word.length > 0) words.push(word);
      word = '';
      blankOk = false;
      inWord = false;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      blankOk = true;
    }
    if (ch === escape) {
      if (i + 1 === chars.length) continue;
      word += ch + (chars[++i] as string);
      continue;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

/** Result of JSON-array detection: not an array, an array of strings, or an array with other values (an error). */
export function parseJsonArgs(rest: string): string[] | 'not-json' | 'not-strings' {
  const t = rest.replace(/^\s+/u, '');
  if (!t.startsWith('[')) return 'not-json';
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return 'not-json';
  }
  if (!Array.isArray(v)) return 'not-json';
  if (!v.every((x) => typeof x === 'string')) return 'not-strings';
  return v as string[];
}

/** Whitespace split as BuildKit's parseStringsWhitespaceDelimited. */
export function splitWhitespace(rest: string): string[] {
  if (rest === '') return [];
  return rest.split(WHITESPACE_RE);
}

/** Parses one heredoc word (`<<EOF`, `<<-"EOF"`, `3<<EOF`); null when the word is not a heredoc. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | null {
  const m = /^(\d*)<<(-?)([^<]*)$/.exec(word);
  if (!m) return null;
  const rest = m[3] as string;
  if (rest === '') return null;
  let plain: string[];
  let raw: string[];
  try {
    plain = new ShellLex('\\').expandWords(rest, {});
    raw = new ShellLex('\\', { rawQuotes: true }).expandWords(rest, {});
  } catch {
    return null;
  }
  if (plain.length !== 1 || raw.length !== 1) return null;
  const quotes = (s: string): number => (s.match(/['"]/g) ?? []).length;
  return {
    name: plain[0] as string,
    expand: quotes(plain[0] as string) === quotes(raw[0] as string),
    chomp: m[2] === '-',
    fd: m[1] ? Number(m[1]) : 0,
  };
}

/** Heredoc words of a logical line, in order. */
export function heredocsInLine(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[];
  try {
    words = new ShellLex('\\', { rawQuotes: true, rawEscapes: true }).expandWords(line, {});
  } catch {
    return [];
  }
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h) out.push(h);
  }
  return out;
}

interface Pos {
  file: string;
  line: number;
  column: number;
}

/** Builds an instruction from a logical line (continuations already joined). */
function instructionFromLine(text: string, escape: string, pos: Pos): Instruction {
  const trimmed = trimSpace(text);
  const sp = WHITESPACE_RE.exec(trimmed);
  const cmd = sp ? trimmed.slice(0, sp.index) : trimmed;
  const afterCmd = sp ? trimmed.slice(sp.index + sp[0].length) : '';
  const { rest, flags } = sp ? extractFlags(afterCmd) : { rest: '', flags: [] as string[] };
  const args = trimSpace(rest);
  const keyword = cmd.toUpperCase();
  const ins: Instruction = {
    keyword,
    flags: flags.map(flagFromWord),
    args,
    json: null,
    heredocs: [],
    line: pos.line,
    column: pos.column,
    endLine: pos.line,
    original: text,
    text,
  };
  const fail = (msg: string): never => {
    throw new SourceError(pos.file, pos.line, pos.column, msg);
  };
  if (JSON_KEYWORDS.has(keyword)) {
    const j = parseJsonArgs(args);
    if (j === 'not-strings') fail(`${keyword}: expected a JSON array of strings (exec form), got other values in ${args}`);
    else if (j !== 'not-json') ins.json = j;
  } else if (keyword === 'HEALTHCHECK') {
    const m = /^(\S+)\s*([\s\S]*)$/u.exec(args);
    if (m && parseJsonArgs(m[2] as string) === 'not-strings') {
      fail(`HEALTHCHECK: expected a JSON array of strings after ${m[1]}`);
    }
  } else if (keyword === 'ENV' || keyword === 'LABEL') {
    nameValuePairs(keyword, args, escape, fail);
  } else if (keyword === 'ONBUILD' && args !== '') {
    ins.trigger = instructionFromLine(args, escape, pos);
  }
  return ins;
}

export interface NameValue {
  key: string;
  value: string;
  /** '=' for `KEY=value` pairs, '' for the legacy `KEY value` form. */
  sep: '' | '=';
}

/** ENV/LABEL argument pairs, raw (quotes kept), in BuildKit's two forms. */
export function nameValuePairs(keyword: string, args: string, escape: string, fail: (msg: string) => never): NameValue[] {
  const words = splitWordsKeepQuotes(args, escape);
  if (words.length === 0) return [];
  if (!(words[0] as string).includes('=')) {
    const m = WHITESPACE_RE.exec(args);
    if (!m) return fail(`${keyword} must have two arguments: expected "${keyword} key value" or "${keyword} key=value"`);
    return [{ key: args.slice(0, m.index), value: args.slice(m.index + m[0].length), sep: '' }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) return fail(`${keyword}: can't find = in ${JSON.stringify(w)}; expected the form name=value`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1), sep: '=' as const };
  });
}

export function parseDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > 0) lines[0] = (lines[0] as string).replace(/^\uFEFF/, '');

  const df: Dockerfile = { file, escape: '\\', instructions: [], comments: [] };
  let directivesDone = false;
  const seen = new Set<string>();

  const directive = (raw: string, lineNo: number): void => {
    if (directivesDone) return;
    const m = DIRECTIVE_RE.exec(raw);
    const key = m?.[1]?.toLowerCase();
    if (!m || !key || !KNOWN_DIRECTIVES.has(key)) {
      directivesDone = true;
      return;
    }
    if (seen.has(key)) throw new SourceError(file, lineNo, 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    const value = m[2] as string;
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        throw new SourceError(file, lineNo, 1, `invalid escape directive '${value}': expected \` or \\`);
      }
      df.escape = value;
    } else if (key === 'syntax') df.syntax = value;
    else df.check = value;
  };

  let i = 0;
  while (i < lines.length) {
    const startIdx = i;
    const raw = trimNewline(lines[i] as string);
    i++;
    const lead = trimLeadingWhitespace(raw);
    directive(lead, startIdx + 1);
    if (isComment(lead)) {
      df.comments.push({ line: startIdx + 1, text: trimSpace(lead.slice(1)) });
      continue;
    }
    if (lead === '') continue;
    const column = raw.length - lead.length + 1;

    let logical: string;
    const first = continuation(lead, df.escape);
    let open = first !== null;
    logical = first ?? lead;
    let lastIdx = startIdx;
    while (open && i < lines.length) {
      const cur = trimNewline(lines[i] as string);
      const idx = i;
      i++;
      directive(cur, idx + 1);
      if (isComment(cur)) {
        df.comments.push({ line: idx + 1, text: trimSpace(trimLeadingWhitespace(cur).slice(1)) });
        continue;
      }
      if (trimLeadingWhitespace(cur) === '') continue;
      lastIdx = idx;
      const c = continuation(cur, df.escape);
      open = c !== null;
      logical += c ?? cur;
    }

    const pos = { file, line: startIdx + 1, column };
    const ins = instructionFromLine(logical, df.escape, pos);
    ins.endLine = lastIdx + 1;

    const target = ins.keyword === 'ONBUILD' && ins.trigger ? ins.trigger : ins;
    if (HEREDOC_KEYWORDS.has(target.keyword) && target.json === null && logical.includes('<<')) {
      for (const h of heredocsInLine(logical)) {
        const body: string[] = [];
        let terminated = false;
        while (i < lines.length) {
          const cur = (lines[i] as string).replace(/\r$/, '');
          i++;
          let candidate = trimNewline(cur);
          if (h.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === h.name) {
            terminated = true;
            break;
          }
          body.push(h.chomp ? cur.replace(/^\t+/, '') : cur);
        }
        if (!terminated) {
          throw new SourceError(file, pos.line, column, `unterminated heredoc: expected a line with only "${h.name}" before the end of the file`);
        }
        target.heredocs.push({ ...h, content: body.map((l) => l + '\n').join('') });
        ins.endLine = i;
      }
      if (target !== ins) ins.heredocs = target.heredocs;
    }
    ins.original = lines.slice(startIdx, ins.endLine).join('\n');
    if (target !== ins) target.original = ins.original.replace(/^\s*onbuild\s+/i, '');
    df.instructions.push(ins);
  }
  if (df.instructions.length === 0) {
    throw new SourceError(file, Math.max(lines.length, 1), 1, 'file with no instructions: expected at least one instruction such as FROM');
  }
  return df;
}

