/**
 * Upper-constraints editing.
 *
 * An upper-constraints file holds one PEP 508 requirement per line, usually `name===version`
 * with optional environment markers (`name===1.0;python_version>='3.10'`); a package may have
 * several lines with different markers. A catalog edits it in one of two ways:
 *
 * An edits file (one edit per line, `#` starts a comment), applied by name:
 *
 *     drop <name>                 remove every line for the package (it is installed from source)
 *     pin  <requirement>          replace every line for the package with this one; several `pin`
 *                                 lines for one package are all kept (one per marker set); a
 *                                 package not in the file is appended
 *
 * Names there are compared after PEP 503 normalisation (lower case, runs of `-_.` become `-`).
 *
 * Or the Dockerfile's own `sed -i` and `echo ... >>` commands (constraints-dockerfile.ts), which
 * are replayed with sed's and echo's exact meaning (sed.ts): a sed pattern that misses a line
 * because upstream spells the name differently misses it here too, and is reported.
 *
 * Either way the result says which edits changed nothing and which pins an edit lowered below
 * the version upstream pins.
 */
import { InputError, SourceError } from '../util/errors.js';
import { runSed, type SedCommand } from './sed.js';
import { compareVersions } from './version.js';

export type ConstraintEdit =
  | { kind: 'drop'; name: string; file?: string; line?: number }
  | { kind: 'pin'; requirement: string; name: string; file?: string; line?: number }
  /** `sed -i SCRIPT FILE` from a Dockerfile; `text` is the command as written. */
  | { kind: 'sed'; commands: SedCommand[]; text: string; file?: string; line?: number }
  /** `echo WORDS >> FILE` from a Dockerfile: appends `line` and a newline. */
  | { kind: 'append'; appended: string; text: string; file?: string; line?: number };

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

export interface Lowering {
  edit: ConstraintEdit;
  name: string;
  /** The version upstream pins. */
  from: string;
  to: string;
}

export interface ApplyResult {
  text: string;
  /** Packages that had lines before and have none after. */
  dropped: string[];
  /** Packages whose lines the edits replaced or added. */
  pinned: string[];
  /** Edits that changed nothing (a drop or sed whose pattern matched no line): likely stale or misspelt. */
  unmatched: ConstraintEdit[];
  /** Pins an edit set below the version upstream had. */
  lowered: Lowering[];
}

const PIN_RE = /^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*===?\s*([^\s;]+)\s*(?:;(.*))?$/;

/** The exact version and marker text of a `name===version[;markers]` line, or null. */
function pinOf(raw: string): { version: string; markers: string } | null {
  const m = PIN_RE.exec(raw.replace(/\s#.*$/, ''));
  return m ? { version: m[1]!, markers: (m[2] ?? '').replace(/\s+/g, '') } : null;
}

/** Applies edits in order to the text of an upper-constraints file. */
export function applyEdits(upper: string, edits: readonly ConstraintEdit[]): ApplyResult {
  let text = upper;
  const unmatched: ConstraintEdit[] = [];
  const added: { edit: ConstraintEdit; raw: string }[] = [];
  // Consecutive drop/pin edits (an edits file) act together, by name; sed and echo act one by one.
  for (let i = 0; i < edits.length; ) {
    const e = edits[i]!;
    if (e.kind === 'drop' || e.kind === 'pin') {
      let j = i;
      while (j < edits.length && (edits[j]!.kind === 'drop' || edits[j]!.kind === 'pin')) j++;
      const r = applyByName(text, edits.slice(i, j) as NamedEdit[]);
      text = r.text;
      unmatched.push(...r.unmatched);
      added.push(...r.added);
      i = j;
      continue;
    }
    if (e.kind === 'sed') {
      const r = runSed(e.commands, text);
      if (r.changes.length === 0) unmatched.push(e);
      for (const c of r.changes) if (c.after !== null) added.push({ edit: e, raw: c.after });
      text = r.text;
    } else {
      text += e.appended + '\n';
      added.push({ edit: e, raw: e.appended });
    }
    i++;
  }
  const namesOf = (t: string): Set<string> => new Set(parseConstraints(t).map((l) => l.name).filter((n): n is string => n !== null));
  const before = namesOf(upper);
  const after = namesOf(text);
  const upstream = parseConstraints(upper);
  const lowered: Lowering[] = [];
  const pinned = new Set<string>();
  for (const a of added) {
    const name = requirementName(a.raw);
    if (!name) continue;
    pinned.add(name);
    const to = pinOf(a.raw);
    if (!to) continue;
    // Compare with upstream's line for the same package and markers (or its only line).
    const same = upstream.filter((l) => l.name === name);
    const match = same.find((l) => pinOf(l.raw)?.markers === to.markers) ?? (same.length === 1 ? same[0] : undefined);
    const from = match ? pinOf(match.raw) : null;
    if (from && (compareVersions(to.version, from.version) ?? 0) < 0) lowered.push({ edit: a.edit, name, from: from.version, to: to.version });
  }
  return {
    text,
    dropped: [...before].filter((n) => !after.has(n)),
    pinned: [...pinned].filter((n) => after.has(n)),
    unmatched,
    lowered,
  };
}

type NamedEdit = Extract<ConstraintEdit, { kind: 'drop' | 'pin' }>;

function applyByName(upper: string, edits: readonly NamedEdit[]): { text: string; unmatched: NamedEdit[]; added: { edit: ConstraintEdit; raw: string }[] } {
  const lines = parseConstraints(upper);
  const drops = new Set(edits.filter((e) => e.kind === 'drop').map((e) => e.name));
  const pins = new Map<string, NamedEdit[]>();
  for (const e of edits) if (e.kind === 'pin') pins.set(e.name, [...(pins.get(e.name) ?? []), e]);
  for (const name of pins.keys()) {
    if (drops.has(name)) throw new InputError(`edits both drop and pin ${name}`);
  }
  const present = new Set(lines.map((l) => l.name).filter((n): n is string => n !== null));
  const out: string[] = [];
  const emitted = new Set<string>();
  const added: { edit: ConstraintEdit; raw: string }[] = [];
  const reqs = (name: string): string[] => pins.get(name)!.map((e) => (e.kind === 'pin' ? e.requirement : ''));
  for (const l of lines) {
    if (l.name === null) {
      out.push(l.raw);
      continue;
    }
    if (drops.has(l.name)) continue;
    if (pins.has(l.name)) {
      if (!emitted.has(l.name)) out.push(...reqs(l.name));
      emitted.add(l.name);
      continue;
    }
    out.push(l.raw);
  }
  // Appended pins go before a trailing newline so the file still ends with one.
  const trailing = out.length > 0 && out[out.length - 1] === '' ? out.pop() : undefined;
  for (const name of pins.keys()) if (!emitted.has(name)) out.push(...reqs(name));
  if (trailing !== undefined) out.push(trailing);
  for (const es of pins.values()) for (const e of es) if (e.kind === 'pin') added.push({ edit: e, raw: e.requirement });
  return { text: out.join('\n'), unmatched: edits.filter((e) => e.kind === 'drop' && !present.has(e.name)), added };
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
