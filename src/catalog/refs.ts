import { basename } from 'node:path';
import { annotationAbove, isRefAnnotation, parseAnnotation, refSourceOf, type RefSource } from './annotations.js';
import { argPairs, readDockerfile } from './dockerfile.js';
import { isDockerfileName } from './files.js';

/** A pinned git ref found in a catalog file, with the annotation that says where it comes from. */
export interface PinnedRef {
  file: string;
  /** 1-based line holding the value. */
  line: number;
  /** ARG or bake variable name. */
  name: string;
  value: string;
  kind: 'arg' | 'bake-variable';
  /** The annotation's source, or a message when the annotation is missing or malformed. */
  source: RefSource | string;
  annotationLine?: number;
}

/** An annotation that is not followed by a ref it could govern. */
export interface OrphanAnnotation {
  file: string;
  line: number;
}

export interface RefScan {
  refs: PinnedRef[];
  orphans: OrphanAnnotation[];
}

/** Names the catalog treats as git refs even without an annotation. */
export const GIT_REF_NAME_RE = /_GIT_REF$/;

export function scanRefs(file: string, text: string): RefScan {
  return isDockerfileName(basename(file)) ? scanDockerfile(file, text) : scanBake(file, text);
}

function scanDockerfile(file: string, text: string): RefScan {
  const doc = readDockerfile(text);
  const refs: PinnedRef[] = [];
  const used = new Set<number>();
  for (const ins of doc.instructions) {
    if (ins.keyword !== 'ARG') continue;
    const ann = annotationAbove(doc.lines, ins.line);
    for (const p of argPairs(ins)) {
      if (!ann && !GIT_REF_NAME_RE.test(p.name)) continue;
      if (ann) used.add(ann.line);
      refs.push({
        file,
        line: lineOf(doc.lines, ins.line, ins.endLine, `${p.name}=`),
        name: p.name,
        value: p.value ?? '',
        kind: 'arg',
        source: ann ? refSourceOf(ann) : 'no "# stratum: repo=... branch=..." annotation directly above',
        annotationLine: ann?.line,
      });
    }
  }
  const orphans = doc.comments
    .map((c) => parseAnnotation('#' + c.text, c.line))
    .filter((a): a is NonNullable<typeof a> => a !== null && isRefAnnotation(a) && !used.has(a.line))
    .map((a) => ({ file, line: a.line }));
  return { refs, orphans };
}

function lineOf(lines: readonly string[], from: number, to: number, needle: string): number {
  for (let l = from; l <= to; l++) if (lines[l - 1]?.includes(needle)) return l;
  return from;
}

/**
 * Bake files: an annotation governs either the `variable "NAME" {` block right below it (its
 * `default = "..."` line) or an attribute line `NAME = "..."` right below it.
 */
function scanBake(file: string, text: string): RefScan {
  const lines = text.split(/\r?\n/);
  const refs: PinnedRef[] = [];
  const orphans: OrphanAnnotation[] = [];
  for (let i = 0; i < lines.length; i++) {
    const ann = parseAnnotation(lines[i]!, i + 1);
    if (!ann || !isRefAnnotation(ann)) continue;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim().startsWith('#')) j++;
    const target = lines[j] ?? '';
    const v = /^\s*variable\s+"([^"]+)"\s*\{/.exec(target);
    const a = /^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*"([^"]*)"/.exec(target);
    if (v) {
      const inline = /default\s*=\s*"([^"]*)"/.exec(target);
      if (inline) {
        refs.push({ file, line: j + 1, name: v[1]!, value: inline[1]!, kind: 'bake-variable', source: refSourceOf(ann), annotationLine: ann.line });
        continue;
      }
      let k = j + 1;
      let found = false;
      for (; k < lines.length && !/^\s*\}/.test(lines[k]!); k++) {
        const d = /^\s*default\s*=\s*"([^"]*)"/.exec(lines[k]!);
        if (d) {
          refs.push({ file, line: k + 1, name: v[1]!, value: d[1]!, kind: 'bake-variable', source: refSourceOf(ann), annotationLine: ann.line });
          found = true;
          break;
        }
      }
      if (!found) orphans.push({ file, line: ann.line });
    } else if (a) {
      refs.push({ file, line: j + 1, name: a[1]!, value: a[2]!, kind: 'bake-variable', source: refSourceOf(ann), annotationLine: ann.line });
    } else orphans.push({ file, line: ann.line });
  }
  return { refs, orphans };
}
