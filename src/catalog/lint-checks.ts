/**
 * Checks behind the lint rules that look inside a RUN's shell text or at an image reference.
 * Each returns what it found (line and message); lint.ts decides the rule name and applies
 * lint-disable directives.
 */
import type { DockerfileInstruction } from './dockerfile.js';
import { logicalLines, shellCommands } from './shell.js';

export interface Hit {
  line: number;
  message: string;
}

// Variables every build environment has, which the outer shell expands to the same value the
// script's own shell would see.
const AMBIENT = new Set(['PATH', 'HOME', 'HOSTNAME', 'TERM', 'LANG', 'LC_ALL']);

/**
 * An unquoted heredoc fed to a command (`RUN <<EOF bash -xe`) is expanded by the shell that
 * starts the command, before the script runs: a variable the script sets itself (`x=1`,
 * `. /etc/os-release`, a loop variable), a positional or special parameter, or a command
 * substitution is then taken from the wrong shell. Build args and ENV are in both shells'
 * environment and are safe, so they are not reported.
 */
export function heredocHits(ins: DockerfileInstruction, known: ReadonlySet<string>): Hit[] {
  const hits: Hit[] = [];
  // With nothing but the heredoc, the body itself is the script the shell runs: no outer shell.
  const command = ins.args.replace(/<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1/g, '').trim();
  if (command === '') return hits;
  for (const h of ins.heredocs) {
    if (h.quoted) continue;
    h.content.split('\n').forEach((text, i) => {
      const seen = new Set<string>();
      for (const m of text.matchAll(/(\\*)\$(\{[#!]?([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])[^}]*\}|([A-Za-z_][A-Za-z0-9_]*)|([0-9@*#?$!-])|\()/g)) {
        if (m[1]!.length % 2 === 1) continue; // \$ stays a literal dollar for the inner shell
        const name = m[3] ?? m[4] ?? m[5];
        const what = name === undefined ? '$(...)' : `\${${name}}`;
        if (name !== undefined && /^[A-Za-z_]/.test(name) && (known.has(name) || AMBIENT.has(name))) continue;
        if (seen.has(what)) continue;
        seen.add(what);
        const why = name === undefined ? 'runs in the shell that starts the script, before it' : 'is expanded by the shell that starts the script, before the script runs';
        hits.push({ line: h.firstLine + i, message: `unquoted heredoc <<${h.name}: ${what} ${why}; quote the delimiter (<<'${h.name}') or escape the $` });
      }
      for (const m of text.matchAll(/(\\*)`/g)) {
        if (m[1]!.length % 2 === 0 && !seen.has('`')) {
          seen.add('`');
          hits.push({ line: h.firstLine + i, message: `unquoted heredoc <<${h.name}: a backquoted command runs in the shell that starts the script; quote the delimiter (<<'${h.name}')` });
        }
      }
    });
  }
  return hits;
}

const PIP_VALUE_OPTIONS = new Set([
  '-c', '--constraint', '-r', '--requirement', '-e', '--editable', '-i', '--index-url', '--extra-index-url',
  '-f', '--find-links', '-t', '--target', '--prefix', '--root', '--src', '--platform', '--python-version',
  '--implementation', '--abi', '--upgrade-strategy', '--progress-bar', '--cache-dir', '--trusted-host',
  '--cert', '--client-cert', '--proxy', '--retries', '--timeout', '--log', '--config-settings', '-C',
  '--global-option', '--no-binary', '--only-binary', '--report', '--python',
]);

export interface PipContext {
  /** The stage sets PIP_CONSTRAINT, so every pip run is constrained. */
  envConstraint: boolean;
  /** Names (PEP 503) an upper-constraints file given to lint pins; undefined: trust --constraint. */
  pinned?: ReadonlySet<string>;
}

/**
 * Every package a `pip install` names must be pinned: `name==version` (or `===`), a local
 * source directory or archive, a VCS URL at a full commit, or a name the constraints in force pin.
 */
export function pipHits(ins: DockerfileInstruction, ctx: PipContext): Hit[] {
  const hits: Hit[] = [];
  const parts = [{ text: ins.args, line: ins.line }, ...ins.heredocs.map((h) => ({ text: h.content, line: h.firstLine }))];
  for (const part of parts) {
    for (const ll of logicalLines(part.text, part.line)) {
      let cmds;
      try {
        cmds = shellCommands(ll.text);
      } catch {
        continue;
      }
      for (const c of cmds) {
        const words = c.words.map((w) => w.text);
        let k = 0;
        while (k < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[k]!)) k++;
        const w = words.slice(k);
        let at: number;
        if (/(^|\/)pip3?(\.\d+)?$/.test(w[0] ?? '') && w[1] === 'install') at = 2;
        else if (/(^|\/)python3?(\.\d+)?$/.test(w[0] ?? '') && w[1] === '-m' && w[2] === 'pip' && w[3] === 'install') at = 4;
        else continue;
        let constrained = ctx.envConstraint;
        const reqs: { text: string; expands: boolean }[] = [];
        for (let i = at; i < w.length; i++) {
          const a = w[i]!;
          if (a === '-c' || a === '--constraint' || a.startsWith('--constraint=')) constrained = true;
          if (a === '-r' || a === '--requirement' || a.startsWith('--requirement=')) {
            hits.push({ line: ll.line, message: `pip install -r: the requirements file's pins cannot be checked here; list the packages` });
          }
          if (PIP_VALUE_OPTIONS.has(a)) {
            i++;
            continue;
          }
          if (a.startsWith('-')) continue;
          reqs.push({ text: a, expands: c.words[k + i]!.expands });
        }
        for (const r of reqs) {
          const problem = requirementProblem(r.text, r.expands, constrained, ctx.pinned);
          if (problem) hits.push({ line: ll.line, message: problem });
        }
      }
    }
  }
  return hits;
}

function requirementProblem(req: string, expands: boolean, constrained: boolean, pinned?: ReadonlySet<string>): string | null {
  if (expands) return `pip installs "${req}", which the shell expands: its pin cannot be checked`;
  if (/^(\.{0,2}\/|~)/.test(req) || /\.(whl|tar\.gz|zip)$/.test(req)) return null;
  const vcs = /^(git\+|hg\+|svn\+|bzr\+)\S+@([0-9a-f]{40})(#.*)?$/.exec(req) ?? /\s@\s*git\+\S+@([0-9a-f]{40})/.exec(req);
  if (vcs) return null;
  if (/:\/\//.test(req)) return `pip installs ${req} from a URL without a pinned commit`;
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$/.exec(req);
  if (!m) return `pip installs "${req}", which is not a requirement lint understands`;
  const spec = m[3]!.replace(/;.*$/, '').trim();
  if (/^===?\s*[^\s,*]+$/.test(spec)) return null;
  const name = m[1]!.toLowerCase().replace(/[-_.]+/g, '-');
  if (!constrained) return `pip installs ${m[1]}${spec ? ` ${spec}` : ''} unpinned: pin it (${m[1]}==<version>) or install with --constraint`;
  if (pinned && !pinned.has(name)) return `pip installs ${m[1]}, which the constraints do not pin: pin it (${m[1]}==<version>)`;
  return null;
}

/**
 * A base image reference that moves: no tag, `latest`, or a tag without a version number (a
 * codename or channel such as `bookworm`, `stable`, `edge`). A digest pins it whatever its tag.
 * `localhost/...` names an image this machine made (`stratum bootstrap`): no registry moves it.
 */
export function floatingBase(ref: string): string | null {
  if (/@sha256:[0-9a-f]{64}$/.test(ref) || ref.startsWith('localhost/')) return null;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  if (colon < 0) return `${ref} has no tag: it follows "latest"; name a release tag or pin a digest (stratum pin)`;
  const tag = ref.slice(colon + 1);
  if (tag === 'latest') return `${ref} follows "latest"; name a release tag or pin a digest (stratum pin)`;
  if (!/[0-9]/.test(tag)) return `${ref}: the tag "${tag}" names a channel, not a release; name a release tag or pin a digest (stratum pin)`;
  return null;
}

/** An image built to compile things (the venv builder and its kind), by its repository name. */
export function isBuilderImage(ref: string): boolean {
  const repo = ref.replace(/@.*$/, '').replace(/:[^/:]*$/, '').split('/').pop() ?? '';
  return /(^|[-_])(builder|build|buildenv|devel|sdk)($|[-_])/.test(repo);
}
