/**
 * The shape of src/: no module imports itself back through others (type-only imports count too:
 * they still tie the files together), the folders form a layered graph, and no file grows past
 * the size where it stops being one concern.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const src = resolve(import.meta.dirname, '../../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const files = sources(src);
const graph = new Map<string, string[]>(
  files.map((f) => {
    const text = readFileSync(f, 'utf8');
    const targets = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) =>
      resolve(dirname(f), m[1]!).replace(/\.js$/, '.ts'),
    );
    return [f, targets.filter((t) => files.includes(t))];
  }),
);

/** Strongly connected components with more than one member, or a member importing itself (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

const rel = (f: string) => relative(src, f);

test('the cycle finder finds a cycle (so the checks below can fail)', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.deepEqual(cycles(g), [['a', 'b', 'c']]);
});

test('no import cycle between the files of src/', () => {
  assert.ok(files.length > 100, `read ${files.length} files`);
  assert.deepEqual(cycles(graph).map((c) => c.map(rel)), []);
});

test("the parts of src/ form layers: no part imports one that imports it back", () => {
  const part = (f: string) => rel(f).split('/')[0]!;
  const parts = new Map<string, string[]>();
  for (const [f, targets] of graph) {
    if (!rel(f).includes('/')) continue; // src/index.ts re-exports every part
    const deps = new Set(parts.get(part(f)) ?? []);
    for (const t of targets) if (part(t) !== part(f)) deps.add(part(t));
    parts.set(part(f), [...deps]);
  }
  assert.deepEqual(cycles(parts), []);
});

test('no file in src/ over 500 lines (the grammars are the largest)', () => {
  const long = files.map((f) => [rel(f), readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 500);
  assert.deepEqual(long, []);
});
