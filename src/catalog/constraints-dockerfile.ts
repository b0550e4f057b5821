/**
 * Reads the edits a Dockerfile's RUN steps make to upper-constraints.txt, so `stratum
 * constraints` can replay them with the meaning the build gives them.
 *
 A command counts when it writes a file called upper-constraints.txt. Understood:
 * `sed -i [-E|-r] [-e] SCRIPT... FILE` and `echo WORDS >> FILE`; `cp` fetching the file is not an
 * edit, and commands that only read it (`pip install --constraint FILE`, `sed` without -i) are
 * left alone. Any other writer (another redirection, perl -i, tee, ...), a word the shell would
 * expand (`$x`, `$(...)`), or a sed feature sed.ts does not implement is an error with the
 * Dockerfile's file:line, never a guess.
 */
import { SourceError } from '../util/errors.js';
import type { ConstraintEdit } from './constraints.js';
import { readDockerfile } from './dockerfile.js';
import { parseSedScript, type SedCommand } from './sed.js';
import { logicalLines, shellCommands, type ShellCommand } from './shell.js';

const FILE_RE = /(^|\/)upper-constraints\.txt$/;

export function editsFromDockerfile(text: string, file = 'Dockerfile'): ConstraintEdit[] {
  const doc = readDockerfile(text);
  const edits: ConstraintEdit[] = [];
  for (const ins of doc.instructions) {
    if (ins.keyword !== 'RUN') continue;
    const parts = [{ text: ins.args, line: ins.line }, ...ins.heredocs.map((h) => ({ text: h.content, line: h.firstLine }))];
    for (const part of parts) {
      for (const ll of logicalLines(part.text, part.line)) {
        let cmds: ShellCommand[];
        try {
          cmds = shellCommands(ll.text);
        } catch (e) {
          if (!FILE_RE.test(ll.text.split(/\s+/).find((w) => /upper-constraints\.txt/.test(w)) ?? '')) continue;
          throw new SourceError(file, ll.line, 1, `cannot read "${ll.text.trim()}": ${(e as Error).message}`);
        }
        for (const c of cmds) {
          const edit = editOf(c, file, ll.line, ll.text.trim());
          if (edit) edits.push(edit);
        }
      }
    }
  }
  return edits;
}

// Programs that can rewrite a file named on their command line.
const WRITERS = new Set(['perl', 'awk', 'gawk', 'tee', 'mv', 'truncate', 'ed', 'ex', 'dd', 'install', 'python', 'python3', 'rm']);

function editOf(c: ShellCommand, file: string, line: number, written: string): ConstraintEdit | null {
  const named = c.words.some((w) => FILE_RE.test(w.text));
  const redirected = c.redirects.some((r) => FILE_RE.test(r.target.text) && r.op !== '<');
  const cmd0 = c.words[0]?.text ?? '';
  const sedInPlace = cmd0 === 'sed' && c.words.some((w) => /^(-[A-Za-z]*i|--in-place)/.test(w.text));
  if (!redirected && !(named && (sedInPlace || WRITERS.has(cmd0.replace(/^.*\//, ''))))) return null;
  const fail = (why: string): never => {
    throw new SourceError(file, line, 1, `${why}: ${written}`);
  };
  if (c.words.some((w) => w.expands) || c.redirects.some((r) => r.target.expands)) fail('the shell expands a word of this edit, so its effect cannot be known before the build');
  const [cmd, ...args] = c.words.map((w) => w.text);
  if (cmd === 'cp' && c.redirects.length === 0) return null;
  if (cmd === 'sed') return sedEdit(args, c, fail, file, line, written);
  if (cmd === 'echo') {
    const target = c.redirects.filter((r) => FILE_RE.test(r.target.text));
    if (c.redirects.length !== 1 || target.length !== 1 || target[0]!.op !== '>>') fail('echo must append (>>) to upper-constraints.txt and nothing else');
    if (args.length > 0 && /^-[neE]+$/.test(args[0]!)) fail('echo options change what is appended and are not supported');
    return { kind: 'append', appended: args.join(' '), text: written, file, line };
  }
  return fail(`unsupported edit of upper-constraints.txt (only sed -i and echo >> are replayed)`);
}

function sedEdit(args: string[], c: ShellCommand, fail: (why: string) => never, file: string, line: number, written: string): ConstraintEdit {
  if (c.redirects.length) fail('sed with a redirection is not an in-place edit');
  let inPlace = false;
  let extended = false;
  const scripts: string[] = [];
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-i' || a === '--in-place') inPlace = true;
    else if (/^-i./.test(a) || a.startsWith('--in-place=')) fail('sed -i with a backup suffix is not supported');
    else if (a === '-E' || a === '-r' || a === '--regexp-extended') extended = true;
    else if (a === '-e' || a === '--expression') scripts.push(args[++i] ?? fail('-e without a script'));
    else if (a.startsWith('--expression=')) scripts.push(a.slice('--expression='.length));
    else if (/^-[iEr]+$/.test(a)) {
      if (a.includes('i')) inPlace = true;
      if (/[Er]/.test(a)) extended = true;
    } else if (a.startsWith('-')) fail(`sed option ${a} is not supported`);
    else files.push(a);
  }
  if (!inPlace) fail('sed without -i does not change the file');
  if (scripts.length === 0) {
    if (files.length === 0) fail('sed without a script');
    scripts.push(files.shift()!);
  }
  if (files.length !== 1 || !FILE_RE.test(files[0]!)) fail('sed must edit upper-constraints.txt alone');
  let commands: SedCommand[];
  try {
    commands = scripts.flatMap((s) => parseSedScript(s, extended));
  } catch (e) {
    return fail(`sed script not understood (${(e as Error).message})`);
  }
  return { kind: 'sed', commands, text: written, file, line };
}
