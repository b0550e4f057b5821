/**
 * Upper-constraints editing.
 *
 * An upper-constraints file holds one PEP 508 requirement per line, usually `name===version`
 * with optional environment markers (`name===1.0;python_version>='3.10'`); a package may have
 * several lines with different markers. A catalog declares edits against it:
 *
 * Edits file format (one edit per line, `#` starts a comment):
 *
 *     drop <name>                 remove every line for the package (it is installed from source)
 *     pin  <requirement>          replace every line for the package with this one; several `pin`
 *                                 lines for one package are all kept (one per marker set); a
 *                                 package not in the file is appended
 *
 * The same edits can be read from a Dockerfile's `requirements` step, so the Dockerfile stays
 * the single source of truth. Recognised commands acting on a file named upper-constraints.txt:
 *
 *     sed -i '/^<name>===/d' FILE       (also '/<name>/d': the catalog treats it as the exact name)
 *     sed -i 's/^<name>===.*\/<name>===<version>/' FILE
 *     echo '<requirement>' >> FILE
 *
 * Names are compared after PEP 503 normalisation (lower case, runs of `-_.` become `-`).
 */
import { InputError, SourceError } from '../util/errors.js';
import { readDockerfile, runScript } from './dockerfile.js';

export type ConstraintEdit =
  | { kind: 'drop'; name: string; file?: string; line?: number }
  | { kind: 'pin'; requirement: string; name: string; file?: string; line?: number };

export interface ConstraintLine {
  line: number;
  raw: string;
  /** null for blank lines and comments. */
  name: string | null;
}

export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

const NAME_RE = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/;

/** The normalised project name at the start of a requirement, or null. */
export function requirementName(req: string): string | null {
  const m = NAME_RE.exec(req);
  return m ? normalizeName(m[1]!) : null;
}

export function parseConstraints(text: string): ConstraintLine[] {
  return text.split('\n').map((raw, i) => {
    const t = raw.replace(/#.*$/, '').trim();
    return { line: i + 1, raw, name: t === '' ? null : requirementName(t) };
  });
}

export function parseEdits(text: string, file = '<edits>'): ConstraintEdit[] {
  const edits: ConstraintEdit[] = [];
  text.split('\n').forEach((raw, i) => {
    const t = raw.replace(/(^|\s)#.*$/, '').trim();
    if (t === '') return;
    const m = /^(drop|pin)\s+(.+)$/.exec(t);
    if (!m) throw new SourceError(file, i + 1, 1, `unknown edit "${t}" (expected "drop <name>" or "pin <requirement>")`);
    const arg = m[2]!.trim().replace(/^(["'])(.*)\1$/, '$2');
    const name = requirementName(arg);
    if (!name) throw new SourceError(file, i + 1, 1, `"${arg}" does not start with a package name`);
    if (m[1] === 'drop') {
      if (!/^[A-Za-z0-9._-]+$/.test(arg)) throw new SourceError(file, i + 1, 1, `drop takes a bare package name, got "${arg}"`);
      edits.push({ kind: 'drop', name, file, line: i + 1 });
    } else {
      if (!/(===|==|<=|>=|<|>|~=|!=)/.test(arg)) throw new SourceError(file, i + 1, 1, `pin "${arg}" has no version specifier`);
      edits.push({ kind: 'pin', requirement: arg, name, file, line: i + 1 });
    }
  });
  return edits;
}

/** Reads the edits a Dockerfile applies to upper-constraints.txt with sed/echo (see module doc). */
export function editsFromDockerfile(text: string, file = 'Dockerfile'): ConstraintEdit[] {
  const doc = readDockerfile(text);
  const edits: ConstraintEdit[] = [];
  for (const ins of doc.instructions) {
    if (ins.keyword !== 'RUN') continue;
    for (const part of runScript(ins)) {
      const lines = part.text.split('\n');
      lines.forEach((l, off) => {
        const line = part.line + (part.text === ins.args ? 0 : off);
        for (const cmd of l.split(/&&|;/)) {
          const c = cmd.trim();
          if (!/upper-constraints\.txt/.test(c)) continue;
          let m = /^sed\s+-i\s+(['"])\/\^?([A-Za-z0-9._-]+?)(?:===?)?(?:\.\*)?\$?\/d\1\s+\S+$/.exec(c);
          if (m) {
            edits.push({ kind: 'drop', name: normalizeName(m[2]!), file, line });
            continue;
          }
          m = /^sed\s+-i\s+(['"])s\/\^([A-Za-z0-9._-]+)===?\.\*\/([^/]+)\/\1\s+\S+$/.exec(c);
          if (m) {
            const req = m[3]!;
            if (requirementName(req) !== normalizeName(m[2]!)) {
              throw new SourceError(file, line, 1, `sed replaces ${m[2]} with a line for another package: ${req}`);
            }
            edits.push({ kind: 'pin', requirement: req, name: normalizeName(m[2]!), file, line });
            continue;
          }
          m = /^echo\s+(['"])([^'"]+)\1\s*>>\s*\S+$/.exec(c);
          if (m) {
            const name = requirementName(m[2]!);
            if (!name) throw new SourceError(file, line, 1, `echo appends "${m[2]}", which is not a requirement`);
            edits.push({ kind: 'pin', requirement: m[2]!, name, file, line });
            continue;
          }
          if (/^(sed|echo|cat|printf|perl|awk)\b/.test(c) && !/^cp\b/.test(c)) {
            throw new SourceError(file, line, 1, `unsupported edit of upper-constraints.txt: ${c}`);
          }
        }
      });
    }
  }
  return edits;
}

export interface ApplyResult {
  text: string;
  dropped: string[];
  pinned: string[];
  /** Edits whose package the constraints did not mention (drops) - likely stale. */
  unmatched: ConstraintEdit[];
}

export function applyEdits(upper: string, edits: readonly ConstraintEdit[]): ApplyResult {
  const lines = parseConstraints(upper);
  const drops = new Set(edits.filter((e) => e.kind === 'drop').map((e) => e.name));
  const pins = new Map<string, string[]>();
  for (const e of edits) if (e.kind === 'pin') pins.set(e.name, [...(pins.get(e.name) ?? []), e.requirement]);
  for (const name of pins.keys()) {
    if (drops.has(name)) throw new InputError(`edits both drop and pin ${name}`);
  }
  const present = new Set(lines.map((l) => l.name).filter((n): n is string => n !== null));
  const out: string[] = [];
  const emitted = new Set<string>();
  const dropped = new Set<string>();
  for (const l of lines) {
    if (l.name === null) {
      out.push(l.raw);
      continue;
    }
    if (drops.has(l.name)) {
      dropped.add(l.name);
      continue;
    }
    const p = pins.get(l.name);
    if (p) {
      if (!emitted.has(l.name)) out.push(...p);
      emitted.add(l.name);
      continue;
    }
    out.push(l.raw);
  }
  // Appended pins go before a trailing newline so the file still ends with one.
  const trailing = out.length > 0 && out[out.length - 1] === '' ? out.pop() : undefined;
  for (const [name, reqs] of pins) if (!emitted.has(name)) out.push(...reqs);
  if (trailing !== undefined) out.push(trailing);
  return {
    text: out.join('\n'),
    dropped: [...dropped],
    pinned: [...pins.keys()],
    unmatched: edits.filter((e) => e.kind === 'drop' && !present.has(e.name)),
  };
}

/**
 * Names requested by requirement files (or given directly) that no constraint line pins.
 * Local paths, URLs and pip options are not packages the constraints could pin and are skipped.
 */
export function requestedNames(text: string): string[] {
  const names: string[] = [];
  for (const raw of text.split('\n')) {
    const t = raw.replace(/(^|\s)#.*$/, '').trim();
    if (t === '' || t.startsWith('-') || /^[./~]/.test(t) || /^[a-z+]+:\/\//i.test(t) || /\s@\s/.test(t)) continue;
    const n = requirementName(t);
    if (n) names.push(n);
  }
  return names;
}

export function unpinned(constraints: string, requested: readonly string[]): string[] {
  const pinned = new Set(parseConstraints(constraints).map((l) => l.name).filter((n) => n !== null));
  return [...new Set(requested.map(normalizeName))].filter((n) => !pinned.has(n)).sort();
}
