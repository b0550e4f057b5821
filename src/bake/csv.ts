/**
 * One line of comma-separated fields, the way buildx reads `type=...,key=value` specs: a field
 * may be quoted ("a,b" keeps its comma, "" is a quote), a quote inside an unquoted field is an
 * error, and an empty line is an error too (callers skip empty entries before they get here).
 */
import { ExprError } from './expr.js';

export function csvFields(line: string, comma = ','): string[] {
  let s = line.endsWith('\r\n') ? line.slice(0, -2) : line.endsWith('\n') ? line.slice(0, -1) : line;
  if (s === '') throw new ExprError(`empty value`);
  const out: string[] = [];
  for (;;) {
    if (!s.startsWith('"')) {
      const i = s.indexOf(comma);
      const field = i >= 0 ? s.slice(0, i) : s;
      if (field.includes('"')) throw new ExprError(`bare " in non-quoted field ${JSON.stringify(line)}`);
      out.push(field);
      if (i < 0) return out;
      s = s.slice(i + comma.length);
      continue;
    }
    // quoted field: runs to the closing quote; "" inside is one quote
    let field = '';
    let i = 1;
    for (;;) {
      const q = s.indexOf('"', i);
      if (q < 0) throw new ExprError(`extraneous or missing " in quoted field ${JSON.stringify(line)}`);
      field += s.slice(i, q);
      if (s[q + 1] === '"') {
        field += '"';
        i = q + 2;
        continue;
      }
      s = s.slice(q + 1);
      break;
    }
    out.push(field);
    if (s === '') return out;
    if (!s.startsWith(comma)) throw new ExprError(`extraneous or missing " in quoted field ${JSON.stringify(line)}`);
    s = s.slice(comma.length);
    if (s === '') {
      out.push('');
      return out;
    }
  }
}

/** `key=value` → [key, value]; undefined when there is no `=`. */
export function cutEq(field: string): [string, string] | undefined {
  const i = field.indexOf('=');
  return i < 0 ? undefined : [field.slice(0, i), field.slice(i + 1)];
}
