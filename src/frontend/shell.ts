/**
 * Shell-style word expansion as the Dockerfile frontend does it for ENV, ARG, COPY, FROM, ... (not a shell:
 * no command substitution, no globbing). Quotes are removed, `$a`, `${a}` and the `${a:-b}` family are expanded,
 * and the escape character protects the next character.
 */

export interface ShellLexOptions {
  /** Keep quote characters in the output (used to find heredoc words in a raw line). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to ''. */
  skipUnsetEnv?: boolean;
  /** Quotes are plain characters (an unquoted heredoc body: only `$` and the escape character act). */
  skipProcessQuotes?: boolean;
}

export class ShellExpansionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellExpansionError';
  }
}

const EOF = '';

function isSpace(ch: string): boolean {
  return /^\s$/u.test(ch);
}

function isNameChar(ch: string): boolean {
  return /^[A-Za-z0-9_]$/.test(ch);
}

function isDigit(ch: string): boolean {
  return ch >= '0' && ch <= '9';
}

const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);

/**
 * Bounds on one word's expansion. Each ARG can repeat earlier ones, so ten lines of `ARG B=$A$A$A$A` grow a value
 * to gigabytes; and `${a:-${a:-...}}` recurses once per level. A value past 1 MiB could not be passed to a process
 * anyway (Linux caps one environment string at 128 KiB), and no real Dockerfile nests a hundred levels deep.
 */
export const MAX_EXPANSION_LENGTH = 1 << 20;
export const MAX_EXPANSION_DEPTH = 100;
/** `${v#pattern}` tries every prefix: quadratic in the value, so it is refused on values longer than this. */
export const MAX_PATTERN_SUBJECT = 16 << 10;

/** Splits on unquoted whitespace while expansion results are appended. */
class WordCollector {
  words: string[] = [];
  private current = '';
  private inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord) this.flush();
      return;
    }
    this.addRawChar(ch);
  }

  addRawChar(ch: string): void {
    this.current += ch;
    this.inWord = true;
  }

  /** Text from an unquoted expansion: its whitespace splits words. */
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }

  /** Quoted text: kept whole, and marks a word even when empty (`""`). */
  addRawString(s: string): void {
    this.current += s;
    this.inWord = true;
  }

  private flush(): void {
    this.words.push(this.current);
    this.current = '';
    this.inWord = false;
  }

  result(): string[] {
    if (this.inWord) this.flush();
    return this.words;
  }
}

class Scanner {
  private readonly chars: string[];
  private pos = 0;
  constructor(text: string) {
    this.chars = Array.from(text);
  }
  peek(): string {
    return this.chars[this.pos] ?? EOF;
  }
  next(): string {
    const ch = this.chars[this.pos] ?? EOF;
    if (ch !== EOF) this.pos++;
    return ch;
  }
}

interface Lookup {
  get(name: string): string | undefined;
}

class WordProcessor {
  private readonly scanner: Scanner;
  private depth = 0;
  constructor(
    text: string,
    private readonly env: Lookup,
    private readonly escape: string,
    private readonly opts: ShellLexOptions,
    private readonly used: Set<string> | null,
  ) {
    this.scanner = new Scanner(text);
  }

  run(): { text: string; words: string[] } {
    return this.processUntil(EOF, this.opts.rawEscapes ?? false);
  }

  private lookup(name: string): string | undefined {
    this.used?.add(name);
    return this.env.get(name);
  }

  private processUntil(stop: string, rawEscapes: boolean): { text: string; words: string[] } {
    if (++this.depth > MAX_EXPANSION_DEPTH) {
      throw new ShellExpansionError(`variable substitutions are nested more than ${MAX_EXPANSION_DEPTH} levels deep`);
    }
    try {
      return this.processUntilUnbounded(stop, rawEscapes);
    } finally {
      this.depth--;
    }
  }

  private processUntilUnbounded(stop: string, rawEscapes: boolean): { text: string; words: string[] } {
    let out = '';
    const words = new WordCollector();
    const sc = this.scanner;
    while (sc.peek() !== EOF) {
      const ch = sc.peek();
      if (stop !== EOF && ch === stop) {
        sc.next();
        return { text: out, words: words.result() };
      }
      if (ch === '$' || ((ch === "'" || ch === '"') && !this.opts.skipProcessQuotes)) {
        const piece = ch === "'" ? this.singleQuoted() : ch === '"' ? this.doubleQuoted() : this.dollar();
        out += piece;
        if (out.length > MAX_EXPANSION_LENGTH) throw new ShellExpansionError(`the expansion is longer than ${MAX_EXPANSION_LENGTH} characters`);
        if (ch === '$') words.addString(piece);
        else words.addRawString(piece);
        continue;
      }
      let c = sc.next();
      if (c === this.escape) {
        if (rawEscapes) {
          words.addRawChar(c);
          out += c;
        }
        c = sc.next();
        if (c === EOF) break; // a trailing escape character is dropped
        words.addRawChar(c);
      } else {
        words.addChar(c);
      }
      out += c;
    }
    if (stop !== EOF) throw new ShellExpansionError(`unexpected end of statement while looking for matching ${stop}`);
    return { text: out, words: words.result() };
  }

  private singleQuoted(): string {
    const sc = this.scanner;
    let out = '';
    const open = sc.next();
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const c = sc.next();
      if (c === EOF) throw new ShellExpansionError('unexpected end of statement while looking for matching single-quote');
      if (c === "'") {
        if (this.opts.rawQuotes) out += c;
        return out;
      }
      out += c;
    }
  }

  private doubleQuoted(): string {
    const sc = this.scanner;
    let out = '';
    const open = sc.next();
    if (this.opts.rawQuotes) out += open;
    for (;;) {
      const ch = sc.peek();
      if (ch === EOF) throw new ShellExpansionError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') {
        sc.next();
        if (this.opts.rawQuotes) out += ch;
        return out;
      }
      if (ch === '$') {
        out += this.dollar();
        if (out.length > MAX_EXPANSION_LENGTH) throw new ShellExpansionError(`the expansion is longer than ${MAX_EXPANSION_LENGTH} characters`);
        continue;
      }
      let c = sc.next();
      if (c === this.escape) {
        const after = sc.peek();
        if (after === EOF) continue;
        if (after === '"' || after === '$' || after === this.escape) {
          // Only these can be escaped inside double quotes; the escape itself disappears.
          if (this.opts.rawEscapes) out += c;
          c = sc.next();
        }
        // Any other escape is kept literally, followed by the next character in the next round.
      }
      out += c;
    }
  }

  private readName(): string {
    const sc = this.scanner;
    let name = '';
    while (sc.peek() !== EOF) {
      const ch = sc.peek();
      if (name === '' && isDigit(ch)) {
        while (isDigit(sc.peek())) name += sc.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return sc.next();
      if (!isNameChar(ch)) break;
      name += sc.next();
    }
    return name;
  }

  private dollar(): string {
    const sc = this.scanner;
    sc.next(); // '$'
    if (sc.peek() !== '{') {
      const name = this.readName();
      if (name === '') return '$';
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return v ?? '';
    }
    sc.next(); // '{'
    const first = sc.peek();
    if (first === EOF) throw new ShellExpansionError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new ShellExpansionError('syntax error: bad substitution');
    const name = this.readName();
    let op = sc.next();
    if (op === '}') {
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnsetEnv) return '${' + name + '}';
      return v ?? '';
    }
    if (op === EOF) throw new ShellExpansionError("syntax error: missing '}'");
    let opText = op;
    let nullIsUnset = false;
    if (op === ':') {
      nullIsUnset = true;
      op = sc.next();
      opText += op;
      if (op !== '-' && op !== '+' && op !== '?') {
        throw new ShellExpansionError(`unsupported modifier (${opText}) in substitution`);
      }
    }
    if (op === '-' || op === '+' || op === '?' || op === '#' || op === '%') {
      const keepEscapes = op === '#' || op === '%';
      const word = this.nested('}', keepEscapes, "syntax error: missing '}'");
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnsetEnv) return '${' + name + opText + word + '}';
      const empty = v === undefined || (nullIsUnset && v === '');
      switch (op) {
        case '-':
          return empty ? word : (v ?? '');
        case '+':
          return empty ? '' : word;
        case '?':
          if (v === undefined) {
            if (this.used) return '';
            throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be unset'}`);
          }
          if (nullIsUnset && v === '') {
            if (this.used) return '';
            throw new ShellExpansionError(`${name}: ${word || 'is not allowed to be empty'}`);
          }
          return v;
        default: {
          let pattern = word;
          let greedy = false;
          if (pattern.startsWith(op)) {
            greedy = true;
            pattern = pattern.slice(1);
          }
          if ((v ?? '').length > MAX_PATTERN_SUBJECT) {
            throw new ShellExpansionError(`\${${name}${op}...}: the value of ${name} is longer than ${MAX_PATTERN_SUBJECT} characters, too long to match a pattern against`);
          }
          return op === '#' ? trimPrefix(v ?? '', pattern, greedy, this.escape) : trimSuffix(v ?? '', pattern, greedy, this.escape);
        }
      }
    }
    if (op === '/') {
      let all = false;
      if (sc.peek() === '/') {
        sc.next();
        all = true;
      }
      const pattern = this.nested('/', true, "syntax error: missing '/' in ${}");
      const replacement = this.nested('}', true, "syntax error: missing '}'");
      const v = this.lookup(name);
      if (v === undefined && this.opts.skipUnsetEnv) return '${' + name + (all ? '//' : '/') + pattern + '/' + replacement + '}';
      const re = globToRegExp(pattern, this.escape, false, all ? 'g' : '');
      let grown = 0;
      return (v ?? '').replace(re, (m: string) => {
        grown += replacement.length - m.length;
        if (grown > MAX_EXPANSION_LENGTH) throw new ShellExpansionError(`the expansion is longer than ${MAX_EXPANSION_LENGTH} characters`);
        return replacement;
      });
    }
    throw new ShellExpansionError(`unsupported modifier (${opText}) in substitution`);
  }

  private nested(stop: string, keepEscapes: boolean, eofMessage: string): string {
    try {
      return this.processUntil(stop, keepEscapes).text;
    } catch (e) {
      if (this.scanner.peek() === EOF) throw new ShellExpansionError(eofMessage);
      throw e;
    }
  }
}

/** Shell glob (`*`, `?`, `[...]`, escaped characters) to a regular expression. */
function globToRegExp(pattern: string, escape: string, anchored: boolean, flags = ''): RegExp {
  let re = '';
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === escape && i + 1 < chars.length) {
      re += escapeRegExp(chars[++i] as string);
    } else if (c === '*') {
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '[') {
      const end = chars.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = chars.slice(i + 1, end).join('');
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else {
      re += escapeRegExp(c);
    }
  }
  return new RegExp(anchored ? `^(?:${re})$` : re, flags);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function trimPrefix(value: string, pattern: string, greedy: boolean, escape: string): string {
  const re = globToRegExp(pattern, escape, true);
  const chars = Array.from(value);
  if (greedy) {
    for (let n = chars.length; n >= 0; n--) if (re.test(chars.slice(0, n).join(''))) return chars.slice(n).join('');
  } else {
    for (let n = 0; n <= chars.length; n++) if (re.test(chars.slice(0, n).join(''))) return chars.slice(n).join('');
  }
  return value;
}

function trimSuffix(value: string, pattern: string, greedy: boolean, escape: string): string {
  const re = globToRegExp(pattern, escape, true);
  const chars = Array.from(value);
  if (greedy) {
    for (let n = 0; n <= chars.length; n++) if (re.test(chars.slice(n).join(''))) return chars.slice(0, n).join('');
  } else {
    for (let n = chars.length; n >= 0; n--) if (re.test(chars.slice(n).join(''))) return chars.slice(0, n).join('');
  }
  return value;
}

function envLookup(env: Record<string, string>): Lookup {
  return { get: (name) => (Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined) };
}

/**
 * The body of an unquoted heredoc (COPY/ADD <<EOF) as BuildKit expands it: variables, and `\` escaping the next
 * character (so `\<newline>` is a bare newline, `\\` is one backslash, `\$` a dollar), quotes kept as written. BuildKit
 * uses a backslash here whatever the escape directive says.
 */
export function expandHeredocBody(content: string, env: Record<string, string>): string {
  return new ShellLex('\\', { skipProcessQuotes: true }).expandWord(content, env);
}

export class ShellLex {
  readonly escape: '\\' | '`';
  private readonly opts: ShellLexOptions;

  constructor(escape: '\\' | '`' = '\\', opts: ShellLexOptions = {}) {
    this.escape = escape;
    this.opts = opts;
  }

  /** Expands one word: quotes removed, variables substituted; whitespace is kept as is. */
  expandWord(word: string, env: Record<string, string>): string {
    return new WordProcessor(word, envLookup(env), this.escape, this.opts, null).run().text;
  }

  /** Expands and splits on unquoted whitespace (including whitespace produced by unquoted expansions). */
  expandWords(word: string, env: Record<string, string>): string[] {
    return new WordProcessor(word, envLookup(env), this.escape, this.opts, null).run().words;
  }

  /** Expands and also reports which variable names were looked up. */
  expandWordWithMatches(word: string, env: Record<string, string>): { value: string; used: string[] } {
    const used = new Set<string>();
    const value = new WordProcessor(word, envLookup(env), this.escape, this.opts, used).run().text;
    return { value, used: [...used] };
  }

  /**
   * Throws ShellExpansionError when the word cannot be expanded whatever the variables hold (an unterminated
   * quote, a bad substitution, nesting or length past the bounds), so such a mistake is reported before a build.
   */
  checkSyntax(word: string): void {
    new WordProcessor(word, { get: () => undefined }, this.escape, this.opts, new Set()).run();
  }

  /** Names referenced anywhere in the word (including inside `${a:-${b}}` defaults). */
  usedVariables(word: string): string[] {
    const used = new Set<string>();
    try {
      new WordProcessor(word, { get: () => undefined }, this.escape, this.opts, used).run();
    } catch {
      // A malformed word still reports the names seen before the error.
    }
    return [...used].filter((n) => !SPECIAL_PARAMS.has(n) && !/^\d+$/.test(n));
  }
}
