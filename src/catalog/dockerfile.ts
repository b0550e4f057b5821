/**
 * A line-faithful reader of Dockerfiles for the catalog tools.
 *
 * The catalog tools need exact source lines (to report `file:line` and to rewrite a single
 * `ARG` in place) and the raw text of comments, which the build frontend does not need to keep.
 * So this reader stays deliberately small: it joins continuation lines, splits leading
 * `--flags`, collects heredoc bodies, and remembers every comment with its line number.
 * It does not expand variables or validate instructions; the build frontend does that.
 */

export interface DockerfileFlag {
  name: string;
  /** null for a bare `--flag`. */
  value: string | null;
}

export interface DockerfileHeredoc {
  /** The delimiter word. */
  name: string;
  /** True when the delimiter was quoted (`<<'EOF'`, `<<"EOF"`): the shell then leaves the body alone. */
  quoted: boolean;
  content: string;
  /** 1-based line of the first body line. */
  firstLine: number;
}

export interface DockerfileInstruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  flags: DockerfileFlag[];
  /** The text after the flags, continuation lines joined with a space. */
  args: string;
  heredocs: DockerfileHeredoc[];
  /** 1-based line where the instruction starts. */
  line: number;
  /** 1-based last line (including heredoc bodies). */
  endLine: number;
}

export interface DockerfileComment {
  line: number;
  /** Text after the `#`, trimmed. */
  text: string;
}

export interface DockerfileDoc {
  instructions: DockerfileInstruction[];
  comments: DockerfileComment[];
  /** The text split into lines (index 0 = line 1). */
  lines: string[];
}

const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);
const HEREDOC_RE = /<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/g;

export function readDockerfile(text: string): DockerfileDoc {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let escape = '\\';
  const instructions: DockerfileInstruction[] = [];
  const comments: DockerfileComment[] = [];
  let directivesOpen = true;
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed === '') {
      directivesOpen = false;
      i++;
      continue;
    }
    if (trimmed.startsWith('#')) {
      const text = trimmed.slice(1).trim();
      if (directivesOpen) {
        const m = /^escape\s*=\s*([\\`])\s*$/i.exec(text);
        if (m) escape = m[1]!;
        else if (!/^[a-z]+\s*=/i.test(text)) directivesOpen = false;
      }
      comments.push({ line: i + 1, text });
      i++;
      continue;
    }
    directivesOpen = false;
    const start = i;
    // Join continuation lines; comment and blank lines inside a continuation are dropped.
    let joined = '';
    let cur = raw;
    while (true) {
      const t = cur.replace(/\s+$/, '');
      if (t.endsWith(escape) && i + 1 < lines.length) {
        joined += t.slice(0, -1) + ' ';
        i++;
        while (i < lines.length && (lines[i]!.trim() === '' || lines[i]!.trim().startsWith('#'))) {
          if (lines[i]!.trim().startsWith('#')) comments.push({ line: i + 1, text: lines[i]!.trim().slice(1).trim() });
          i++;
        }
        if (i >= lines.length) break;
        cur = lines[i]!;
      } else {
        joined += t;
        break;
      }
    }
    i++;
    const m = /^\s*(\S+)\s*(.*)$/s.exec(joined)!;
    const keyword = m[1]!.toUpperCase();
    let rest = m[2]!;
    const flags: DockerfileFlag[] = [];
    while (true) {
      const f = /^--([A-Za-z0-9-]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?\s*/.exec(rest);
      if (!f) break;
      let value: string | null = f[2] ?? null;
      if (value && value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
      flags.push({ name: f[1]!, value });
      rest = rest.slice(f[0].length);
    }
    const heredocs: DockerfileHeredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword)) {
      for (const h of rest.matchAll(HEREDOC_RE)) {
        const strip = h[1] === '-';
        const name = h[3]!;
        const body: string[] = [];
        const firstLine = i + 1;
        while (i < lines.length) {
          const l = strip ? lines[i]!.replace(/^\t+/, '') : lines[i]!;
          i++;
          if (l === name) break;
          body.push(l);
        }
        heredocs.push({ name, quoted: h[2] !== '', content: body.length ? body.join('\n') + '\n' : '', firstLine });
      }
    }
    instructions.push({ keyword, flags, args: rest.trim(), heredocs, line: start + 1, endLine: i });
  }
  return { instructions, comments, lines };
}

export function flagValue(ins: DockerfileInstruction, name: string): string | null | undefined {
  const f = ins.flags.find((x) => x.name === name);
  return f ? f.value : undefined;
}

/** The shell text a RUN executes: its heredoc bodies when it runs one, else its arguments. */
export function runScript(ins: DockerfileInstruction): { text: string; line: number }[] {
  const parts: { text: string; line: number }[] = [{ text: ins.args, line: ins.line }];
  for (const h of ins.heredocs) parts.push({ text: h.content, line: h.firstLine });
  return parts;
}

export interface StageInfo {
  /** Position among FROM instructions, 0-based. */
  index: number;
  name?: string;
  /** The base as written (before expansion). */
  base: string;
  line: number;
  /** Instructions of this stage, FROM included. */
  instructions: DockerfileInstruction[];
}

export function stagesOf(doc: DockerfileDoc): { globals: DockerfileInstruction[]; stages: StageInfo[] } {
  const globals: DockerfileInstruction[] = [];
  const stages: StageInfo[] = [];
  for (const ins of doc.instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      const asIdx = words.findIndex((w) => w.toLowerCase() === 'as');
      stages.push({
        index: stages.length,
        name: asIdx >= 0 ? words[asIdx + 1]?.toLowerCase() : undefined,
        base: words[0] ?? '',
        line: ins.line,
        instructions: [ins],
      });
    } else if (stages.length === 0) globals.push(ins);
    else stages[stages.length - 1]!.instructions.push(ins);
  }
  return { globals, stages };
}

/** Parses `ARG NAME[=value] ...` into name/value pairs (values unquoted). */
export function argPairs(ins: DockerfileInstruction): { name: string; value?: string }[] {
  const out: { name: string; value?: string }[] = [];
  for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
    let v = m[2];
    if (v !== undefined && /^(["']).*\1$/.test(v)) v = v.slice(1, -1);
    out.push(v === undefined ? { name: m[1]! } : { name: m[1]!, value: v });
  }
  return out;
}

/** Expands `$X`, `${X}`, `${X:-d}` with the given values; unknown names are left as written. */
export function expandVars(text: string, vars: Record<string, string | undefined>): string {
  return text.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (all, a, d, b) => {
    const name = (a ?? b) as string;
    const v = vars[name];
    if (v !== undefined && v !== '') return v;
    if (d !== undefined) return d as string;
    return v ?? all;
  });
}
