/**
 * Machine-readable catalog comments.
 *
 * Grammar (one comment line):  `# stratum: key=value [key=value ...]`
 *   - keys: lower-case letters, digits and `-`; values: any non-blank text (no quoting).
 *   - a *ref annotation* carries `repo=<git URL>` and exactly one of `branch=<name>` or `tag=<name>`;
 *     it must sit directly above the line holding the ref (an `ARG NAME=<40-hex>` in a
 *     Dockerfile, or a `variable "NAME" {` block / `default = "<40-hex>"` line in a bake file).
 *   - `lint-disable=<rule>[,<rule>]` switches lint rules off for the next instruction, or for
 *     the whole file when written in the header (before the first instruction).
 */

export interface Annotation {
  line: number;
  fields: Record<string, string>;
}

export interface RefSource {
  repo: string;
  branch?: string;
  tag?: string;
}

const PREFIX_RE = /^#\s*stratum:\s*(.*)$/;

/** Parses one source line; returns null when it is not a stratum annotation. */
export function parseAnnotation(lineText: string, line: number): Annotation | null {
  const m = PREFIX_RE.exec(lineText.trim());
  if (!m) return null;
  const fields: Record<string, string> = {};
  for (const word of m[1]!.trim().split(/\s+/)) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    if (eq <= 0) {
      fields[word] = '';
      continue;
    }
    fields[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return { line, fields };
}

/** Checks a ref annotation's fields; returns the source or a message saying what is wrong. */
export function refSourceOf(a: Annotation): RefSource | string {
  const { repo, branch, tag } = a.fields;
  if (!repo) return 'annotation lacks repo=<git URL>';
  if (branch && tag) return 'annotation has both branch= and tag=; give one';
  if (!branch && !tag) return 'annotation lacks branch=<name> (or tag=<name>)';
  return branch ? { repo, branch } : { repo, tag: tag! };
}

/** True when the annotation describes a ref (rather than lint directives only). */
export function isRefAnnotation(a: Annotation): boolean {
  return 'repo' in a.fields || 'branch' in a.fields || 'tag' in a.fields;
}

export const FULL_SHA_RE = /^[0-9a-f]{40}$/;

/**
 * The annotation governing source line `line` (1-based): the contiguous block of comment lines
 * directly above it is searched, nearest first.
 */
export function annotationAbove(lines: readonly string[], line: number, pred: (a: Annotation) => boolean = isRefAnnotation): Annotation | null {
  for (let l = line - 1; l >= 1; l--) {
    const t = lines[l - 1]!.trim();
    if (!t.startsWith('#')) return null;
    const a = parseAnnotation(t, l);
    if (a && pred(a)) return a;
  }
  return null;
}
