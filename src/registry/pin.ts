import { isPair, isScalar, LineCounter, parseAllDocuments, visit, type Scalar } from 'yaml';
import { SourceError } from '../util/errors.js';
import { parseReference, type ImageReference } from './reference.js';

export interface PinChange {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the value in the document, e.g. `images.keystone`. */
  key: string;
  from: string;
  to: string;
}

export interface PinResult {
  text: string;
  /** References whose pinned form differs from the text (drift, when checking). */
  changes: PinChange[];
  /** References found, changed or not. */
  found: number;
}

/** Asks the registry for the digest a reference's tag points at now. */
export type DigestResolver = (ref: ImageReference, text: string) => Promise<string>;

/**
 * Whether a YAML string value is an image reference worth pinning: a reference with an explicit
 * registry host (`host.tld/...`, `host:port/...`, `localhost/...`) and a tag, or any tagged reference
 * under a key whose name says it is an image. Templated values (`{{ }}`, `${}`) are left alone.
 */
export function imageReferenceIn(value: string, keyName: string | undefined): ImageReference | undefined {
  if (!value || /\s|\{\{|\$\{|\$\(/.test(value)) return undefined;
  let ref: ImageReference;
  try {
    ref = parseReference(value);
  } catch {
    return undefined;
  }
  if (!ref.tag) return undefined; // digest-only references are already exact and have no tag to follow
  const first = value.split('/')[0]!;
  const explicitHost = value.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (explicitHost) return ref;
  if (keyName && /image/i.test(keyName)) return ref;
  return undefined;
}

function pinned(value: string, digest: string): string {
  const at = value.indexOf('@');
  return `${at >= 0 ? value.slice(0, at) : value}@${digest}`;
}

/** Renders a scalar's new value in the same quoting style the file used. */
function render(node: Scalar, value: string): string {
  switch (node.type) {
    case 'QUOTE_DOUBLE':
      return JSON.stringify(value);
    case 'QUOTE_SINGLE':
      return `'${value.replace(/'/g, "''")}'`;
    default:
      return value;
  }
}

/**
 * Rewrites every image reference value in YAML text to `name:tag@digest`. Only the bytes of the values
 * change (edits at the scalars' source ranges), so comments, order, quoting and blank lines stay.
 * References that are already pinned are resolved again from their tag.
 */
export async function pinYaml(text: string, file: string, resolve: DigestResolver): Promise<PinResult> {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, keepSourceTokens: true });
  if (!Array.isArray(docs)) return { text, changes: [], found: 0 };
  const targets: { node: Scalar; ref: ImageReference; key: string; value: string }[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const pos = lineCounter.linePos(err.pos[0]);
      throw new SourceError(file, pos.line, pos.col, err.message.split('\n')[0]!);
    }
    visit(doc, {
      Scalar(key, node, p) {
        if (key === 'key' || typeof node.value !== 'string' || !node.range) return;
        if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') return;
        const names: string[] = [];
        for (const anc of p) if (isPair(anc) && isScalar(anc.key)) names.push(String(anc.key.value));
        const parent = p[p.length - 1];
        const keyName = isPair(parent) && isScalar(parent.key) ? String(parent.key.value) : undefined;
        const ref = imageReferenceIn(node.value, keyName);
        if (ref) targets.push({ node, ref, key: names.join('.'), value: node.value });
      },
    });
  }
  const digests = await Promise.all(targets.map((t) => resolve({ registry: t.ref.registry, repository: t.ref.repository, tag: t.ref.tag! }, t.value)));
  const changes: PinChange[] = [];
  const edits: { start: number; end: number; text: string }[] = [];
  targets.forEach((t, i) => {
    const to = pinned(t.value, digests[i]!);
    if (to === t.value) return;
    const [start, end] = t.node.range!;
    const pos = lineCounter.linePos(start);
    changes.push({ file, line: pos.line, column: pos.col, key: t.key, from: t.value, to });
    edits.push({ start, end, text: render(t.node, to) });
  });
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { text: out, changes, found: targets.length };
}
