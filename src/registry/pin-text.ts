/**
 * Pinning image references in Dockerfiles and bake files, by editing the reference's characters
 * in place (comments, spacing and quoting stay), as pin.ts does for YAML.
 *
 * Dockerfile: a `FROM` naming an image literally (not a stage, `scratch`, or a reference built
 * from `${...}`), and the default of an `ARG` that a `FROM` uses as its whole image
 * (`ARG BASE_IMAGE=ubuntu:24.04` ... `FROM ${BASE_IMAGE}`).
 * Bake file: the `default` of a `variable` whose value is an image reference (by the rules of
 * `imageReferenceIn`, with the variable's name as the key, so `UBUNTU_IMAGE = "ubuntu:24.04"`
 * counts).
 */
import { imageReferenceIn, type DigestResolver, type PinChange, type PinResult } from './pin.js';
import type { ImageReference } from './reference.js';

interface Target {
  line: number;
  /** 0-based offset of the reference in the line. */
  column: number;
  key: string;
  value: string;
  ref: ImageReference;
}

function pinned(value: string, digest: string): string {
  const at = value.indexOf('@');
  return `${at >= 0 ? value.slice(0, at) : value}@${digest}`;
}

async function apply(text: string, file: string, targets: Target[], resolve: DigestResolver): Promise<PinResult> {
  const lines = text.split('\n');
  const digests = await Promise.all(targets.map((t) => resolve({ registry: t.ref.registry, repository: t.ref.repository, tag: t.ref.tag! }, t.value)));
  const changes: PinChange[] = [];
  // Right to left within a line, so earlier columns stay valid.
  const order = targets.map((t, i) => ({ t, d: digests[i]! })).sort((a, b) => a.t.line - b.t.line || b.t.column - a.t.column);
  for (const { t, d } of order) {
    const to = pinned(t.value, d);
    if (to === t.value) continue;
    const l = lines[t.line - 1]!;
    lines[t.line - 1] = l.slice(0, t.column) + to + l.slice(t.column + t.value.length);
    changes.push({ file, line: t.line, column: t.column + 1, key: t.key, from: t.value, to });
  }
  changes.sort((a, b) => a.line - b.line || a.column - b.column);
  return { text: lines.join('\n'), changes, found: targets.length };
}

const FROM_RE = /^(\s*FROM\s+(?:--\S+\s+)*)(\S+)(?:\s+AS\s+(\S+))?\s*$/i;
const ARG_RE = /^(\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=)(["']?)([^\s"']+)\3\s*$/i;

export async function pinDockerfile(text: string, file: string, resolve: DigestResolver): Promise<PinResult> {
  const lines = text.split('\n');
  const stages = new Set<string>();
  const fromArgs = new Set<string>();
  const froms: { line: number; column: number; image: string }[] = [];
  lines.forEach((l, i) => {
    const m = FROM_RE.exec(l);
    if (!m) return;
    if (m[3]) stages.add(m[3].toLowerCase());
    const whole = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(m[2]!);
    if (whole) fromArgs.add(whole[1]!);
    else froms.push({ line: i + 1, column: m[1]!.length, image: m[2]! });
  });
  const targets: Target[] = [];
  for (const f of froms) {
    if (f.image.includes('$') || stages.has(f.image.toLowerCase()) || f.image.toLowerCase() === 'scratch') continue;
    const ref = imageReferenceIn(f.image, 'image');
    if (ref) targets.push({ line: f.line, column: f.column, key: 'FROM', value: f.image, ref });
  }
  lines.forEach((l, i) => {
    const m = ARG_RE.exec(l);
    if (!m || !fromArgs.has(m[2]!)) return;
    const ref = imageReferenceIn(m[4]!, 'image');
    if (ref) targets.push({ line: i + 1, column: m[1]!.length + m[3]!.length, key: `ARG ${m[2]}`, value: m[4]!, ref });
  });
  return apply(text, file, targets, resolve);
}

export async function pinBake(text: string, file: string, resolve: DigestResolver): Promise<PinResult> {
  const lines = text.split('\n');
  const targets: Target[] = [];
  for (let i = 0; i < lines.length; i++) {
    const v = /^\s*variable\s+"([^"]+)"\s*\{/.exec(lines[i]!);
    if (!v) continue;
    for (let j = i; j < lines.length; j++) {
      const d = /(\bdefault\s*=\s*")([^"]*)"/.exec(lines[j]!);
      if (d) {
        const ref = imageReferenceIn(d[2]!, v[1]);
        if (ref) targets.push({ line: j + 1, column: d.index + d[1]!.length, key: `variable ${v[1]}`, value: d[2]!, ref });
        break;
      }
      if (/^\s*\}/.test(lines[j]!) || (j > i && /\}\s*$/.test(lines[j]!))) break;
    }
  }
  return apply(text, file, targets, resolve);
}
