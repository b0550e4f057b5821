/**
 * Just enough of the POSIX shell's word splitting to read the simple commands a Dockerfile's RUN
 * step runs: quotes (single, double, backslash), operators between commands (`;`, `&&`, `||`,
 * `|`, `&`), redirections, comments. It does not expand anything: a word that the shell would
 * expand (`$x`, `$(...)`, backquotes) is marked, so a caller that must know the exact argument
 * can refuse it instead of guessing.
 */

export interface ShellWord {
  /** The word with quotes removed. */
  text: string;
  /** True when the shell would expand part of it (unquoted or double-quoted `$`, or a backquote). */
  expands: boolean;
}

export interface ShellRedirect {
  op: '>' | '>>' | '<' | '2>' | '2>>' | '&>' | '>&' | '2>&';
  target: ShellWord;
}

export interface ShellCommand {
  words: ShellWord[];
  redirects: ShellRedirect[];
}

const OPERATORS = ['&&', '||', ';', '|', '&'];

/** Splits one logical line (continuations already joined) into simple commands. */
export function shellCommands(line: string): ShellCommand[] {
  const out: ShellCommand[] = [];
  let cur: ShellCommand = { words: [], redirects: [] };
  let pendingRedirect: ShellRedirect['op'] | null = null;
  let i = 0;
  const flush = (): void => {
    if (cur.words.length || cur.redirects.length) out.push(cur);
    cur = { words: [], redirects: [] };
  };
  const push = (w: ShellWord): void => {
    if (pendingRedirect) {
      cur.redirects.push({ op: pendingRedirect, target: w });
      pendingRedirect = null;
    } else cur.words.push(w);
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      i++;
      continue;
    }
    if (c === '#') break;
    const op = OPERATORS.find((o) => line.startsWith(o, i));
    if (op) {
      flush();
      i += op.length;
      continue;
    }
    const redir = /^(2>>|2>&|2>|&>|>&|>>|>|<)/.exec(line.slice(i));
    if (redir) {
      pendingRedirect = redir[1] as ShellRedirect['op'];
      i += redir[1]!.length;
      continue;
    }
    // A word: runs until unquoted blank or operator.
    let text = '';
    let expands = false;
    while (i < line.length) {
      const d = line[i]!;
      if (d === ' ' || d === '\t' || d === '\n' || d === ';' || d === '&' || d === '|' || d === '>' || d === '<') break;
      if (d === '\\') {
        text += line[i + 1] ?? '';
        i += 2;
      } else if (d === "'") {
        const end = line.indexOf("'", i + 1);
        if (end < 0) throw new Error('unterminated single quote');
        text += line.slice(i + 1, end);
        i = end + 1;
      } else if (d === '"') {
        i++;
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && /["\\$`\n]/.test(line[i + 1] ?? '')) {
            text += line[i + 1];
            i += 2;
            continue;
          }
          if (line[i] === '$' || line[i] === '`') expands = true;
          text += line[i];
          i++;
        }
        if (i >= line.length) throw new Error('unterminated double quote');
        i++;
      } else {
        if (d === '$' || d === '`') expands = true;
        text += d;
        i++;
      }
    }
    push({ text, expands });
  }
  if (pendingRedirect) throw new Error(`redirection ${pendingRedirect} without a target`);
  flush();
  return out;
}

/** Joins backslash-newline continuations, keeping the line each logical line starts on. */
export function logicalLines(text: string, firstLine: number): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let acc = '';
  let start = firstLine;
  text.split('\n').forEach((l, i) => {
    if (acc === '') start = firstLine + i;
    if (/(^|[^\\])(\\\\)*\\$/.test(l)) acc += l.slice(0, -1);
    else {
      out.push({ text: acc + l, line: start });
      acc = '';
    }
  });
  if (acc !== '') out.push({ text: acc, line: start });
  return out;
}
