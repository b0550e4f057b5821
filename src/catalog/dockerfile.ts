/**
 * Dockerfiles as the catalog tools see them: instructions with their source lines (to report `file:line` and to
 * rewrite a single `ARG` in place), comments with theirs, and the lines as written.
 */
import { parseDockerfile } from '../frontend/index.js';

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

/**
 * Reads a Dockerfile through the build frontend's parser (one reader of Dockerfiles in stratum), keeping what the
 * catalog tools need besides: every line as written, and where each heredoc body starts. A file the frontend
 * refuses is refused here too, with its file:line.
 */
export function readDockerfile(text: string, file = 'Dockerfile'): DockerfileDoc {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const df = parseDockerfile(text, file);
  const instructions = df.instructions.map((ins): DockerfileInstruction => {
    // Heredoc bodies (each with its terminator line) are the last lines the instruction consumed.
    let next = ins.endLine - ins.heredocs.reduce((n, h) => n + bodyLines(h.content) + 1, 0) + 1;
    const heredocs = ins.heredocs.map((h) => {
      const firstLine = next;
      next += bodyLines(h.content) + 1;
      return { name: h.name, quoted: !h.expand, content: h.content, firstLine };
    });
    const flags = ins.flags.map((f) => ({ name: f.name, value: f.value !== null && /^"(.*)"$/s.test(f.value) ? f.value.slice(1, -1) : f.value }));
    return { keyword: ins.keyword, flags, args: ins.args.trim(), heredocs, line: ins.line, endLine: ins.endLine };
  });
  return { instructions, comments: df.comments.map((c) => ({ line: c.line, text: c.text.trim() })), lines };
}

function bodyLines(content: string): number {
  return content === '' ? 0 : content.split('\n').length - (content.endsWith('\n') ? 1 : 0);
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
