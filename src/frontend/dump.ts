/**
 * The `(cmd ...)` s-expression rendering of parsed instructions that BuildKit's parser tests use as
 * expected output, so the conformance corpus can be checked against this parser.
 */
import { flagToWord, nameValuePairs, parseJsonArgs, splitWhitespace, splitWordsKeepQuotes } from './parser.js';
import type { Dockerfile, Instruction } from './types.js';

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (printable.test(ch)) out += ch;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}

/** The value chain BuildKit's parser attaches to an instruction node. */
function nodeValues(ins: Instruction, escape: string): string[] {
  const a = ins.args;
  switch (ins.keyword) {
    case 'ADD':
    case 'COPY':
    case 'VOLUME':
      return ins.json ?? splitWhitespace(a);
    case 'RUN':
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL':
      if (ins.json) return ins.json;
      return a === '' ? [] : [a];
    case 'ENV':
    case 'LABEL':
      return nameValuePairs(ins.keyword, a, escape, (m) => {
        throw new Error(m);
      }).flatMap((p) => [p.key, p.value, p.sep]);
    case 'ARG':
      return splitWordsKeepQuotes(a, escape);
    case 'EXPOSE':
    case 'FROM':
      return splitWhitespace(a);
    case 'MAINTAINER':
    case 'STOPSIGNAL':
    case 'USER':
    case 'WORKDIR':
      return a === '' ? [] : [a];
    case 'HEALTHCHECK': {
      const m = /^(\S+)\s*([\s\S]*)$/u.exec(a);
      if (!m) return [];
      const rest = m[2] as string;
      const j = parseJsonArgs(rest);
      if (Array.isArray(j)) return [m[1] as string, ...j];
      return rest === '' ? [m[1] as string] : [m[1] as string, rest];
    }
    default:
      return [''];
  }
}

function dumpInstruction(ins: Instruction, escape: string): string {
  let s = ins.text.trim().split(/[\t\v\f\r ]+/)[0]?.toLowerCase() ?? '';
  if (ins.flags.length > 0) s += ' [' + ins.flags.map((f) => goQuote(flagToWord(f))).join(' ') + ']';
  if (ins.keyword === 'ONBUILD') {
    if (ins.trigger) s += ' (' + dumpInstruction(ins.trigger, escape) + ')';
    return s;
  }
  for (const v of nodeValues(ins, escape)) s += ' ' + goQuote(v);
  return s;
}

export function dumpBuildkit(df: Dockerfile): string {
  return df.instructions.map((ins) => '(' + dumpInstruction(ins, df.escape) + ')\n').join('');
}
