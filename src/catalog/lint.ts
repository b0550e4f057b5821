/** The catalog's lint rules, applied to one Dockerfile or one bake file (lint-tree.ts walks a path). */
import { annotationAbove, FULL_SHA_RE, parseAnnotation } from './annotations.js';
import { argPairs, expandVars, readDockerfile, stagesOf, type DockerfileDoc, type DockerfileInstruction } from './dockerfile.js';
import { REBUILD_TIME_RE, RFC3339_UTC_RE } from './files.js';
import { scanRefs, GIT_REF_NAME_RE } from './refs.js';
import { floatingBase, heredocHits, isBuilderImage, pipHits } from './lint-checks.js';

export const LINT_RULES = {
  'pinned-ref': 'git refs (ARG *_GIT_REF defaults, ADD git URL #refs, annotated bake variables) are full 40-hex commits',
  'ref-annotation': 'every git ref has a "# stratum: repo=<url> branch=<name>" annotation directly above it, and every annotation governs a ref',
  'apt-no-recommends': 'apt-get install passes --no-install-recommends',
  'apt-lists-cleaned': 'a RUN using apt-get removes /var/lib/apt/lists/* in the same RUN (or mounts a cache/tmpfs there)',
  'no-build-tools': 'the final stage installs no compilers, make, -dev packages, git or other build tools',
  'final-from-builder': 'the final stage is not built FROM a builder image (or a stage built from one)',
  'apt-install-variable': 'apt-get install names its packages, or a single ARG whose default names one (not a variable list lint cannot read)',
  'heredoc-expansion': "a RUN heredoc fed to a command quotes its delimiter (<<'EOF') when its body uses variables of its own shell",
  'pip-unpinned': 'pip install pins every package: name==version, a local source, or a name the constraints pin (--constraint)',
  'add-checksum': 'ADD of an http(s) URL (not a git source) has --checksum=sha256:...',
  'floating-base': 'an external base image names a release tag or a digest, not latest, no tag or a channel tag',
  'copy-from': 'COPY --from and RUN --mount from= name an earlier stage, a bake context, or an image',
  'rebuild-time': 'the header has a "# <Name>-Rebuild-Time: <RFC3339>" line',
  'spdx-header': 'the first line is "# SPDX-License-Identifier: <license>"',
} as const;

export type LintRule = keyof typeof LINT_RULES;

export interface Finding {
  file: string;
  line: number;
  rule: LintRule;
  message: string;
}

export function formatFinding(f: Finding): string {
  return `${f.file}:${f.line}: ${f.rule}: ${f.message}`;
}

export interface LintOptions {
  /** Package names (PEP 503) that the constraints in force pin; pip-unpinned then checks names installed with --constraint against them. */
  constraints?: ReadonlySet<string>;
  /** Named contexts bake hands to this Dockerfile (lint finds them itself when linting a path). */
  contexts?: readonly string[];
  /** Decides whether an image reference used by COPY --from exists; default: assume it does. */
  imageExists?: (ref: string) => Promise<boolean>;
}

// Compilers (also versioned and cross ones), linkers, build drivers, headers, version control.
// Not runtime support packages that share a prefix, such as gcc-12-base (libgcc-s1 depends on it).
const BUILD_TOOL_RE =
  /^(build-essential|gcc|g\+\+|cpp|clang|llvm|lld|make|cmake|ninja-build|meson|scons|automake|autoconf|autoconf-archive|libtool|libtool-bin|pkg-config|pkgconf|bison|flex|nasm|yasm|binutils|dpkg-dev|git|git-core|git-all|subversion|mercurial|gfortran|rustc|cargo|golang|golang-go)(-[0-9.]+)?$|^(gcc|g\+\+|cpp|binutils)(-[0-9.]+)?-[a-z0-9_]+-linux-gnu[a-z0-9]*$|^(gcc|g\+\+)(-[0-9.]+)?-multilib$|^golang-[0-9.]+-go$|-dev$/;

export function isBuildTool(pkg: string): boolean {
  return BUILD_TOOL_RE.test(pkg.replace(/[:=].*$/, ''));
}

const GIT_URL_RE = /^(git@[^:\s]+:\S+|git:\/\/\S+|ssh:\/\/\S+|https?:\/\/\S+?\.git(?:#\S*)?|https?:\/\/\S+#\S+)$/;

interface ScriptLine {
  text: string;
  line: number;
}

/** Shell lines of a RUN with backslash continuations joined; each keeps the line it starts on. */
function scriptLines(ins: DockerfileInstruction): ScriptLine[] {
  const out: ScriptLine[] = [];
  const push = (text: string, first: number): void => {
    let acc = '';
    let start = first;
    text.split('\n').forEach((l, i) => {
      if (acc === '') start = first + i;
      if (/\\\s*$/.test(l)) acc += l.replace(/\\\s*$/, ' ');
      else {
        out.push({ text: acc + l, line: start });
        acc = '';
      }
    });
    if (acc !== '') out.push({ text: acc, line: start });
  };
  push(ins.args, ins.line);
  for (const h of ins.heredocs) push(h.content, h.firstLine);
  return out;
}

function commandsOf(lines: ScriptLine[]): ScriptLine[] {
  return lines.flatMap((l) => l.text.split(/&&|\|\||;|\|/).map((c) => ({ text: c.trim(), line: l.line })));
}

interface AptInstall {
  line: number;
  packages: string[];
  /** Words that expand to something lint cannot read. */
  variables: string[];
  noRecommends: boolean;
}

/** `args`: the stage's ARG defaults; a word that is one such ARG with a one-word default counts as that package. */
function aptInstalls(cmds: ScriptLine[], args: Readonly<Record<string, string>> = {}): AptInstall[] {
  const out: AptInstall[] = [];
  for (const c of cmds) {
    const words = c.text.split(/\s+/).filter((w) => w !== '');
    const ai = words.findIndex((w) => /(^|\/)apt(-get)?$/.test(w));
    if (ai < 0) continue;
    const rest = words.slice(ai + 1);
    const ii = rest.indexOf('install');
    if (ii < 0) continue;
    const packages: string[] = [];
    const variables: string[] = [];
    let noRecommends = false;
    for (let i = 0; i < rest.length; i++) {
      const w = rest[i]!;
      if (w === '--no-install-recommends') noRecommends = true;
      else if (w === '-o') {
        if (/APT::Install-Recommends=(false|0)/i.test(rest[i + 1] ?? '')) noRecommends = true;
        i++;
      } else if (/^-o/.test(w) && /APT::Install-Recommends=(false|0)/i.test(w)) noRecommends = true;
      else if (i > ii && !w.startsWith('-')) {
        if (/\$\(|`/.test(w)) {
          // A command substitution: its words up to the closing parenthesis are one unknown list.
          let sub = w;
          while (i + 1 < rest.length && (sub.split('(').length > sub.split(')').length || (sub.split('`').length % 2 === 0))) sub += ' ' + rest[++i]!;
          variables.push(sub);
          continue;
        }
        const bare = w.replace(/^["']|["']$/g, '');
        if (!bare.includes('$') && !bare.includes('`')) packages.push(bare);
        else {
          const arg = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(bare)?.[1];
          const value = arg === undefined ? undefined : args[arg];
          if (value !== undefined && /^[a-z0-9][a-z0-9+.:=~-]*$/.test(value)) packages.push(value);
          else variables.push(w);
        }
      }
    }
    out.push({ line: c.line, packages, variables, noRecommends });
  }
  return out;
}

function mountOptions(ins: DockerfileInstruction): Record<string, string>[] {
  return ins.flags
    .filter((f) => f.name === 'mount' && f.value)
    .map((f) => Object.fromEntries(f.value!.split(',').map((kv) => {
      const eq = kv.indexOf('=');
      return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
    })));
}

function disabledRules(doc: DockerfileDoc, ins: DockerfileInstruction | null): Set<string> {
  const out = new Set<string>();
  const add = (text: string, line: number): void => {
    const a = parseAnnotation(text, line);
    for (const r of (a?.fields['lint-disable'] ?? '').split(',')) if (r) out.add(r);
  };
  if (ins === null) {
    const first = doc.instructions[0]?.line ?? doc.lines.length + 1;
    for (const c of doc.comments) if (c.line < first) add('#' + c.text, c.line);
  } else {
    const a = annotationAbove(doc.lines, ins.line, (x) => 'lint-disable' in x.fields);
    if (a) add(doc.lines[a.line - 1]!, a.line);
  }
  return out;
}

/** Lints one Dockerfile's text. */
export async function lintDockerfile(file: string, text: string, opts: LintOptions = {}): Promise<Finding[]> {
  const doc = readDockerfile(text);
  const findings: Finding[] = [];
  const fileOff = disabledRules(doc, null);
  const add = (ins: DockerfileInstruction | null, line: number, rule: LintRule, message: string): void => {
    if (fileOff.has(rule)) return;
    if (ins && disabledRules(doc, ins).has(rule)) return;
    findings.push({ file, line, rule, message });
  };

  // Header: SPDX line first, Rebuild-Time somewhere in the leading comment block.
  const firstIns = doc.instructions[0]?.line ?? doc.lines.length + 1;
  const header = doc.comments.filter((c) => c.line < firstIns);
  const spdx = header.find((c) => /^SPDX-License-Identifier:\s*\S+/.test(c.text));
  const firstNonDirective = header.find((c) => !/^(syntax|escape|check)\s*=/i.test(c.text));
  if (!spdx || spdx !== firstNonDirective) add(null, 1, 'spdx-header', 'the file does not start with "# SPDX-License-Identifier: <license>"');
  const rt = header.find((c) => REBUILD_TIME_RE.test('# ' + c.text));
  if (!rt) add(null, 1, 'rebuild-time', 'no "# <Name>-Rebuild-Time: <RFC3339>" line in the header');
  else {
    const v = REBUILD_TIME_RE.exec('# ' + rt.text)![2]!;
    if (!RFC3339_UTC_RE.test(v) || Number.isNaN(Date.parse(v))) add(null, rt.line, 'rebuild-time', `"${v}" is not an RFC 3339 time`);
  }

  // Refs and annotations.
  const scan = scanRefs(file, text);
  for (const r of scan.refs) {
    const ins = doc.instructions.find((i) => i.line <= r.line && r.line <= i.endLine) ?? null;
    if (typeof r.source === 'string') add(ins, r.line, 'ref-annotation', `${r.name}: ${r.source}`);
    if (r.value === '') add(ins, r.line, 'pinned-ref', `${r.name} has no default; pin it to a full commit hash`);
    else if (!FULL_SHA_RE.test(r.value)) add(ins, r.line, 'pinned-ref', `${r.name}=${r.value} is not a full 40-hex commit hash`);
  }
  for (const o of scan.orphans) add(null, o.line, 'ref-annotation', 'annotation is not directly above an ARG it could govern');

  const { globals, stages } = stagesOf(doc);
  const globalVars: Record<string, string> = {};
  for (const g of globals) if (g.keyword === 'ARG') for (const p of argPairs(g)) if (p.value !== undefined) globalVars[p.name] = p.value;
  const contexts = new Set(opts.contexts ?? []);

  const stageEnv = new Map<number, Set<string>>();
  const baseOf = (st: (typeof stages)[number]): { stage?: (typeof stages)[number]; ref: string } => {
    const ref = expandVars(st.base, globalVars);
    return { stage: stages.find((x) => x.index < st.index && x.name === ref.toLowerCase()), ref };
  };
  for (const stage of stages) {
    const isFinal = stage.index === stages.length - 1;
    const vars: Record<string, string> = {};
    const base = baseOf(stage);
    // Names the outer shell of a RUN has in its environment: this stage's ARGs and ENV, and the
    // ENV of an earlier stage it is built on.
    const known = new Set<string>(base.stage ? stageEnv.get(base.stage.index) : []);
    stageEnv.set(stage.index, known);
    const fromIns = stage.instructions[0]!;
    if (!base.stage && !contexts.has(base.ref) && base.ref.toLowerCase() !== 'scratch') {
      if (base.ref.includes('$')) add(fromIns, fromIns.line, 'floating-base', `cannot resolve the base "${stage.base}" from ARG defaults; give the ARG a default (a release tag or a digest)`);
      else {
        const why = floatingBase(base.ref);
        if (why) add(fromIns, fromIns.line, 'floating-base', why);
      }
    }
    if (isFinal && stages.length > 1) {
      // Follow the chain of stages down to the image it starts from.
      let cur: (typeof stages)[number] | undefined = stage;
      const seen = new Set<number>();
      while (cur && !seen.has(cur.index)) {
        seen.add(cur.index);
        const b = baseOf(cur);
        if (b.stage ? /^build(er)?$/.test(b.stage.name ?? '') : isBuilderImage(b.ref)) {
          add(fromIns, fromIns.line, 'final-from-builder', `the final stage is built on ${b.stage ? `stage "${b.stage.name}"` : b.ref}, a build environment: start it from a runtime image and COPY --from the build what it needs`);
          break;
        }
        cur = b.stage;
      }
    }
    for (const ins of stage.instructions) {
      if (ins.keyword === 'ARG') {
        for (const p of argPairs(ins)) {
          known.add(p.name);
          const v = p.value ?? globalVars[p.name];
          if (v !== undefined) vars[p.name] = expandVars(v, vars);
        }
      }
      if (ins.keyword === 'ENV') for (const k of envKeys(ins)) known.add(k);
      if (ins.keyword === 'ADD' && !ins.flags.some((f) => f.name === 'checksum')) {
        const words = ins.args.split(/\s+/).filter((w) => w !== '' && !w.startsWith('<<'));
        for (const written of words.slice(0, -1)) {
          const w = expandVars(written, { ...globalVars, ...vars });
          if (/^https?:\/\//.test(w) && !GIT_URL_RE.test(w)) add(ins, ins.line, 'add-checksum', `ADD ${w} without --checksum=sha256:<digest>: the download is not pinned`);
        }
      }
      if (ins.keyword === 'ADD') {
        const words = ins.args.split(/\s+/).filter((w) => w !== '');
        for (const written of words.slice(0, -1)) {
          const w = expandVars(written.split('#')[0]!, { ...globalVars, ...vars }) + (written.includes('#') ? written.slice(written.indexOf('#')) : '');
          if (!GIT_URL_RE.test(w)) continue;
          const hash = w.indexOf('#');
          if (hash < 0) {
            add(ins, ins.line, 'pinned-ref', `${w}: git source without a #<commit> ref`);
            continue;
          }
          const ref = expandVars(w.slice(hash + 1).split(':')[0]!, vars);
          if (ref.includes('$')) add(ins, ins.line, 'pinned-ref', `${w}: cannot resolve the ref ${ref} from ARG defaults`);
          else if (!FULL_SHA_RE.test(ref)) add(ins, ins.line, 'pinned-ref', `${w}: ref "${ref}" is not a full 40-hex commit hash`);
        }
      }
      const sources: string[] = [];
      if (ins.keyword === 'COPY' || ins.keyword === 'ADD') {
        const from = ins.flags.find((f) => f.name === 'from');
        if (from?.value) sources.push(from.value);
      }
      if (ins.keyword === 'RUN') for (const m of mountOptions(ins)) if (m.from) sources.push(m.from);
      for (const src of sources) {
        const name = expandVars(src, { ...globalVars, ...vars });
        const problem = await checkSource(name, stage.index, stages, contexts, opts.imageExists);
        if (problem) add(ins, ins.line, 'copy-from', problem);
      }
      if (ins.keyword !== 'RUN') continue;
      for (const h of heredocHits(ins, known)) add(ins, h.line, 'heredoc-expansion', h.message);
      for (const h of pipHits(ins, { envConstraint: known.has('PIP_CONSTRAINT'), pinned: opts.constraints })) add(ins, h.line, 'pip-unpinned', h.message);
      const cmds = commandsOf(scriptLines(ins));
      const installs = aptInstalls(cmds, vars);
      for (const inst of installs) {
        if (!inst.noRecommends) add(ins, inst.line, 'apt-no-recommends', 'apt-get install without --no-install-recommends');
        if (inst.variables.length) {
          add(ins, inst.line, 'apt-install-variable', `apt-get install of ${inst.variables.join(' ')}: lint cannot read the packages (use a literal list, or one ARG whose default names one package)`);
        }
        if (isFinal) {
          const tools = inst.packages.filter(isBuildTool);
          if (tools.length) add(ins, inst.line, 'no-build-tools', `final stage installs build tools: ${tools.join(' ')}`);
        }
      }
      const usesApt = installs.length > 0 || cmds.some((c) => /(^|\s|\/)apt(-get)?\s+(\S+\s+)*(update|dist-upgrade|upgrade)\b/.test(c.text));
      if (usesApt) {
        const cleaned = cmds.some((c) => /^rm\s+(-[a-zA-Z]*\s+)*.*\/var\/lib\/apt\/lists/.test(c.text));
        const mounted = mountOptions(ins).some((m) => (m.type === 'cache' || m.type === 'tmpfs') && /^\/var\/lib\/apt(\/lists)?\/?$/.test(m.target ?? m.dst ?? m.destination ?? ''));
        if (!cleaned && !mounted) add(ins, ins.line, 'apt-lists-cleaned', 'RUN uses apt-get but does not remove /var/lib/apt/lists/* in the same RUN');
      }
    }
  }
  return findings.sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
}

async function checkSource(
  name: string,
  current: number,
  stages: ReturnType<typeof stagesOf>['stages'],
  contexts: Set<string>,
  imageExists?: (ref: string) => Promise<boolean>,
): Promise<string | null> {
  if (name.includes('$')) return `cannot resolve "${name}" from ARG defaults`;
  if (/^\d+$/.test(name)) {
    return Number(name) < current ? null : `stage index ${name} is not an earlier stage`;
  }
  const stage = stages.find((s) => s.name === name.toLowerCase());
  if (stage) return stage.index < current ? null : `stage "${name}" is defined at line ${stage.line}, after its use`;
  if (contexts.has(name)) return null;
  if (/[/:@.]/.test(name)) {
    if (!imageExists || (await imageExists(name))) return null;
    return `image "${name}" does not exist`;
  }
  return `"${name}" is neither an earlier stage, a bake context, nor an image reference`;
}

/** Lints a bake file: annotated variables must be pinned, annotations must govern a ref, base image variables must not float. */
export function lintBakeFile(file: string, text: string): Finding[] {
  const scan = scanRefs(file, text);
  const out: Finding[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const v = /^\s*variable\s+"([A-Za-z0-9_]*IMAGE)"\s*\{/.exec(lines[i]!);
    if (!v) continue;
    for (let j = i; j < lines.length && !/^\s*\}/.test(lines[j]!); j++) {
      const d = /default\s*=\s*"([^"$]+)"/.exec(lines[j]!);
      if (!d) continue;
      const why = floatingBase(d[1]!);
      if (why) out.push({ file, line: j + 1, rule: 'floating-base', message: `${v[1]}: ${why}` });
      break;
    }
  }
  for (const r of scan.refs) {
    if (typeof r.source === 'string') out.push({ file, line: r.line, rule: 'ref-annotation', message: `${r.name}: ${r.source}` });
    if (!FULL_SHA_RE.test(r.value)) out.push({ file, line: r.line, rule: 'pinned-ref', message: `${r.name}="${r.value}" is not a full 40-hex commit hash` });
  }
  for (const o of scan.orphans) out.push({ file, line: o.line, rule: 'ref-annotation', message: 'annotation is not directly above a variable or attribute it could govern' });
  return out;
}

function envKeys(ins: DockerfileInstruction): string[] {
  const a = ins.args.trim();
  // `ENV KEY value` (one pair) or `ENV K=V K2="v 2"`.
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) return [/^\S+/.exec(a)?.[0] ?? ''].filter((k) => k !== '');
  return [...a.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]!);
}

export { GIT_REF_NAME_RE };
