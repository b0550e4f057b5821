/**
 * HCL native-syntax expressions and templates → a small AST (`evaluate` in expr.ts runs it).
 *
 * @cdktf/hcl2json hands every expression back as template text (`"${a + 1}"`, `"x-${TAG}"`);
 * this parser reads that text, and the type expressions and keywords of JSON bake files.
 */
import { ExprError, type Value } from './value.js';

export type TemplatePart = string | Node | IfPart | ForPart;
export interface IfPart {
  t: 'tif';
  cond: Node;
  then: TemplatePart[];
  else: TemplatePart[];
}
export interface ForPart {
  t: 'tfor';
  k?: string;
  v: string;
  coll: Node;
  body: TemplatePart[];
}

export type Node =
  | { t: 'lit'; v: Value }
  | { t: 'tpl'; parts: TemplatePart[] }
  | { t: 'var'; name: string }
  | { t: 'get'; obj: Node; name: string }
  | { t: 'idx'; obj: Node; key: Node }
  | { t: 'splat'; obj: Node; each: Node }
  | { t: 'call'; name: string; args: Node[]; expand: boolean }
  | { t: 'tuple'; items: Node[] }
  | { t: 'object'; items: [Node, Node][] }
  | { t: 'for'; obj: boolean; k?: string; v: string; coll: Node; key?: Node; val: Node; cond?: Node; group: boolean }
  | { t: 'un'; op: '!' | '-'; x: Node }
  | { t: 'bin'; op: string; l: Node; r: Node }
  | { t: 'cond'; c: Node; a: Node; b: Node };

export const SPLAT_ITEM = '\u0000splat';

const isIdStart = (c: string) => /[A-Za-z_]/.test(c);
const isIdChar = (c: string) => /[A-Za-z0-9_-]/.test(c);

class Parser {
  pos = 0;
  constructor(readonly src: string) {}

  fail(msg: string): never {
    throw new ExprError(`${msg} at offset ${this.pos} in ${JSON.stringify(this.src.length > 120 ? this.src.slice(0, 120) + '…' : this.src)}`);
  }

  peek(n = 0): string {
    return this.src[this.pos + n] ?? '';
  }

  ws(): void {
    while (this.pos < this.src.length) {
      const c = this.src[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else if (c === '#' || (c === '/' && this.peek(1) === '/')) {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else if (c === '/' && this.peek(1) === '*') {
        const end = this.src.indexOf('*/', this.pos + 2);
        this.pos = end < 0 ? this.src.length : end + 2;
      } else break;
    }
  }

  eat(s: string): boolean {
    this.ws();
    if (this.src.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  expect(s: string): void {
    if (!this.eat(s)) this.fail(`expected '${s}'`);
  }

  ident(): string | undefined {
    this.ws();
    if (!isIdStart(this.peek())) return undefined;
    const start = this.pos;
    while (isIdChar(this.peek())) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** Looks at the next identifier without consuming it. */
  peekIdent(): string | undefined {
    const save = this.pos;
    const id = this.ident();
    this.pos = save;
    return id;
  }

  // ---- templates ----

  /**
   * Parses template text until one of `stops` (checked at top level, outside interpolations).
   * `quoted`: inside "…" in an expression, so HCL escapes apply and `"` ends it.
   */
  templateParts(quoted: boolean, directiveEnds: string[]): { parts: TemplatePart[]; ended: string } {
    const parts: TemplatePart[] = [];
    let text = '';
    const flush = () => {
      if (text) parts.push(text);
      text = '';
    };
    while (true) {
      if (this.pos >= this.src.length) {
        if (quoted) this.fail('unterminated string');
        flush();
        return { parts, ended: '' };
      }
      const c = this.src[this.pos]!;
      if (quoted && c === '"') {
        this.pos++;
        flush();
        return { parts, ended: '"' };
      }
      if (quoted && c === '\\') {
        text += this.escape();
        continue;
      }
      if ((c === '$' || c === '%') && this.peek(1) === c && this.peek(2) === '{') {
        text += c + '{';
        this.pos += 3;
        continue;
      }
      if (c === '$' && this.peek(1) === '{') {
        this.pos += 2;
        const stripL = this.src[this.pos] === '~';
        if (stripL) this.pos++;
        const e = this.expr();
        this.ws();
        const stripR = this.src[this.pos] === '~';
        if (stripR) this.pos++;
        this.expect('}');
        if (stripL) text = text.replace(/\s+$/, '');
        flush();
        parts.push(e);
        if (stripR) this.skipWsRaw();
        continue;
      }
      if (c === '%' && this.peek(1) === '{') {
        const save = this.pos;
        this.pos += 2;
        const stripL = this.src[this.pos] === '~';
        if (stripL) this.pos++;
        const kw = this.ident();
        if (kw && directiveEnds.includes(kw)) {
          this.closeDirective();
          if (stripL) text = text.replace(/\s+$/, '');
          flush();
          return { parts, ended: kw };
        }
        if (stripL) text = text.replace(/\s+$/, '');
        flush();
        if (kw === 'if') {
          const cond = this.expr();
          this.closeDirective();
          const a = this.templateParts(quoted, ['else', 'endif']);
          let b: TemplatePart[] = [];
          if (a.ended === 'else') {
            const r = this.templateParts(quoted, ['endif']);
            if (r.ended !== 'endif') this.fail('expected %{endif}');
            b = r.parts;
          } else if (a.ended !== 'endif') this.fail('expected %{endif}');
          parts.push({ t: 'tif', cond, then: a.parts, else: b });
          continue;
        }
        if (kw === 'for') {
          const { k, v, coll } = this.forHead();
          this.closeDirective();
          const body = this.templateParts(quoted, ['endfor']);
          if (body.ended !== 'endfor') this.fail('expected %{endfor}');
          parts.push({ t: 'tfor', k, v, coll, body: body.parts });
          continue;
        }
        this.pos = save;
        this.fail(`unknown template directive ${kw ?? ''}`);
      }
      text += c;
      this.pos++;
    }
  }

  private closeDirective(): void {
    this.ws();
    const strip = this.src[this.pos] === '~';
    if (strip) this.pos++;
    this.expect('}');
    if (strip) this.skipWsRaw();
  }

  private skipWsRaw(): void {
    while (/\s/.test(this.peek())) this.pos++;
  }

  private escape(): string {
    const n = this.peek(1);
    this.pos += 2;
    switch (n) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'u':
      case 'U': {
        const len = n === 'u' ? 4 : 8;
        const hex = this.src.slice(this.pos, this.pos + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) this.fail('bad unicode escape');
        this.pos += len;
        return String.fromCodePoint(parseInt(hex, 16));
      }
      default:
        this.pos -= 2;
        return this.fail(`invalid escape \\${n}`);
    }
  }

  // ---- expressions ----

  expr(): Node {
    const c = this.binary(0);
    if (this.eat('?')) {
      const a = this.expr();
      this.expect(':');
      const b = this.expr();
      return { t: 'cond', c, a, b };
    }
    return c;
  }

  static readonly LEVELS: string[][] = [['||'], ['&&'], ['==', '!='], ['>=', '<=', '>', '<'], ['+', '-'], ['*', '/', '%']];

  binary(level: number): Node {
    if (level >= Parser.LEVELS.length) return this.unary();
    let l = this.binary(level + 1);
    while (true) {
      this.ws();
      const op = Parser.LEVELS[level]!.find((o) => this.src.startsWith(o, this.pos));
      // `=>` in a for expression and `==`/`>=` must not be read as `=`/`>`
      if (!op || (op === '>' && this.peek(1) === '=') || (op === '-' && this.peek(1) === '>')) return l;
      this.pos += op.length;
      const r = this.binary(level + 1);
      l = { t: 'bin', op, l, r };
    }
  }

  unary(): Node {
    this.ws();
    const c = this.peek();
    if (c === '!' && this.peek(1) !== '=') {
      this.pos++;
      return { t: 'un', op: '!', x: this.unary() };
    }
    if (c === '-') {
      this.pos++;
      return { t: 'un', op: '-', x: this.unary() };
    }
    return this.postfix(this.primary());
  }

  postfix(n: Node): Node {
    while (true) {
      this.ws();
      const c = this.peek();
      if (c === '.' && this.peek(1) === '*') {
        this.pos += 2;
        return { t: 'splat', obj: n, each: this.splatChain(true) };
      }
      if (c === '[' && this.src.startsWith('[*]', this.pos)) {
        this.pos += 3;
        return { t: 'splat', obj: n, each: this.splatChain(false) };
      }
      if (c === '.' && this.peek(1) !== '.') {
        this.pos++;
        this.ws();
        if (/[0-9]/.test(this.peek())) {
          const start = this.pos;
          while (/[0-9]/.test(this.peek())) this.pos++;
          n = { t: 'idx', obj: n, key: { t: 'lit', v: Number(this.src.slice(start, this.pos)) } };
          continue;
        }
        const name = this.ident() ?? this.fail('expected an attribute name');
        n = { t: 'get', obj: n, name };
        continue;
      }
      if (c === '[') {
        this.pos++;
        const key = this.expr();
        this.expect(']');
        n = { t: 'idx', obj: n, key };
        continue;
      }
      return n;
    }
  }

  /** The traversal after a splat, applied to each element. Attribute-only for `.*`. */
  private splatChain(attrOnly: boolean): Node {
    let n: Node = { t: 'var', name: SPLAT_ITEM };
    while (true) {
      this.ws();
      if (this.peek() === '.' && this.peek(1) !== '*') {
        this.pos++;
        n = { t: 'get', obj: n, name: this.ident() ?? this.fail('expected an attribute name') };
      } else if (!attrOnly && this.peek() === '[' && !this.src.startsWith('[*]', this.pos)) {
        this.pos++;
        const key = this.expr();
        this.expect(']');
        n = { t: 'idx', obj: n, key };
      } else return n;
    }
  }

  primary(): Node {
    this.ws();
    const c = this.peek();
    if (c === '(') {
      this.pos++;
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.src.slice(this.pos))!;
      this.pos += m[0].length;
      return { t: 'lit', v: Number(m[0]) };
    }
    if (c === '"') {
      this.pos++;
      const { parts } = this.templateParts(true, []);
      return tplNode(parts);
    }
    if (c === '<' && this.peek(1) === '<') return this.heredoc();
    if (c === '[') {
      this.pos++;
      if (this.peekIdent() === 'for') return this.forExpr(false);
      const items: Node[] = [];
      while (!this.eat(']')) {
        items.push(this.expr());
        if (!this.eat(',')) {
          this.expect(']');
          break;
        }
      }
      return { t: 'tuple', items };
    }
    if (c === '{') {
      this.pos++;
      if (this.peekIdent() === 'for') return this.forExpr(true);
      const items: [Node, Node][] = [];
      while (!this.eat('}')) {
        this.ws();
        let key: Node;
        const save = this.pos;
        const id = this.ident();
        this.ws();
        if (id !== undefined && (this.peek() === '=' || this.peek() === ':') && this.peek(1) !== '=') key = { t: 'lit', v: id };
        else {
          this.pos = save;
          key = this.expr();
        }
        if (!this.eat('=') && !this.eat(':')) this.fail("expected '=' in object");
        items.push([key, this.expr()]);
        this.eat(',');
      }
      return { t: 'object', items };
    }
    const id = this.ident();
    if (id === undefined) this.fail(c ? `unexpected '${c}'` : 'unexpected end of expression');
    if (id === 'true') return { t: 'lit', v: true };
    if (id === 'false') return { t: 'lit', v: false };
    if (id === 'null') return { t: 'lit', v: null };
    this.ws();
    if (this.peek() === '(') {
      this.pos++;
      const args: Node[] = [];
      let expand = false;
      while (!this.eat(')')) {
        args.push(this.expr());
        if (this.eat('...')) expand = true;
        if (!this.eat(',')) {
          this.expect(')');
          break;
        }
      }
      return { t: 'call', name: id, args, expand };
    }
    return { t: 'var', name: id };
  }

  /** `k, v in coll` (or `v in coll`) after a `for`, in expressions and template directives alike. */
  private forHead(): { k: string | undefined; v: string; coll: Node } {
    let k: string | undefined;
    let v = this.ident() ?? this.fail('expected a name after for');
    if (this.eat(',')) {
      k = v;
      v = this.ident() ?? this.fail('expected a name');
    }
    if (this.ident() !== 'in') this.fail("expected 'in'");
    return { k, v, coll: this.expr() };
  }

  private forExpr(obj: boolean): Node {
    this.ident(); // for
    const { k, v, coll } = this.forHead();
    this.expect(':');
    let key: Node | undefined;
    let val: Node;
    if (obj) {
      key = this.expr();
      this.expect('=>');
      val = this.expr();
    } else val = this.expr();
    const group = obj && this.eat('...');
    let cond: Node | undefined;
    if (this.peekIdent() === 'if') {
      this.ident();
      cond = this.expr();
    }
    this.expect(obj ? '}' : ']');
    return { t: 'for', obj, k, v, coll, key, val, cond, group };
  }

  private heredoc(): Node {
    const m = /^<<(-?)([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(this.src.slice(this.pos));
    if (!m) this.fail('bad heredoc');
    this.pos += m[0].length;
    const endRe = new RegExp(`^[ \\t]*${m[2]}[ \\t]*$`, 'm');
    const rest = this.src.slice(this.pos);
    const em = endRe.exec(rest);
    if (!em) this.fail('unterminated heredoc');
    let body = rest.slice(0, em.index);
    this.pos += em.index + em[0].length;
    if (m[1] === '-') {
      const lines = body.split('\n');
      const indents = lines.filter((l) => l.trim()).map((l) => /^[ \t]*/.exec(l)![0].length);
      const min = indents.length ? Math.min(...indents) : 0;
      body = lines.map((l) => l.slice(min)).join('\n');
    }
    const sub = new Parser(body);
    return tplNode(sub.templateParts(false, []).parts);
  }
}

function tplNode(parts: TemplatePart[]): Node {
  if (parts.length === 0) return { t: 'lit', v: '' };
  if (parts.length === 1 && typeof parts[0] === 'string') return { t: 'lit', v: parts[0] };
  return { t: 'tpl', parts };
}

const cache = new Map<string, Node>();

/**
 * Parses template text as hcl2json emits it for a string value: literal text with `${…}` and
 * `%{…}` sequences. A template that is exactly one interpolation yields the expression itself,
 * so `"${[1,2]}"` evaluates to a list, as in HCL.
 */
export function parseTemplate(src: string): Node {
  let n = cache.get(src);
  if (!n) {
    const p = new Parser(src);
    const { parts } = p.templateParts(false, []);
    n = parts.length === 1 && typeof parts[0] !== 'string' && (parts[0] as { t: string }).t !== 'tif' && (parts[0] as { t: string }).t !== 'tfor' ? (parts[0] as Node) : tplNode(parts);
    cache.set(src, n);
  }
  return n;
}

/** Parses a bare expression (a matrix value, a type expression). */
export function parseExpression(src: string): Node {
  const p = new Parser(src);
  const n = p.expr();
  p.ws();
  if (p.pos !== src.length) p.fail('unexpected text after expression');
  return n;
}

/** True when a string contains something to evaluate. */
export function isTemplate(s: string): boolean {
  return s.includes('${') || s.includes('%{');
}

