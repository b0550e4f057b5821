/**
 * Go's path.Match, which buildx uses for target names: `*` and `?` stop at `/`, `[...]` is a
 * class (`[^...]`/`[!...]` negated, `a-z` ranges, `\` escapes). A malformed pattern matches nothing.
 */
export function globMatch(pattern: string, name: string): boolean {
  try {
    return new RegExp(`^${toRegExp(pattern)}$`, 'u').test(name);
  } catch {
    return false;
  }
}

/** True when a name holds glob characters (and so is matched rather than looked up). */
export const isGlob = (s: string) => /[*?[\]]/.test(s);

function toRegExp(p: string): string {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= p.length) throw new Error('bad pattern');
      re += '\\' + p[++i];
    } else if (c === '[') {
      const end = p.indexOf(']', i + 2);
      if (end < 0) throw new Error('bad pattern');
      let body = p.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\(?!\\)/g, '\\\\').replace(/\\\\(.)/g, '\\$1')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return re;
}
