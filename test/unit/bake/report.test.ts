import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignLanes, layoutGraph, renderReport, type BakeRun } from '../../../src/bake/index.js';
import type { GraphLayout } from '../../../src/bake/report.js';
import { rng } from '../../helpers/fuzz.js';

const T = [
  { name: 'base', deps: [] },
  { name: 'py', deps: ['base'] },
  { name: 'tools', deps: ['base'] },
  { name: 'svc', deps: ['py', 'tools'] },
  { name: 'docs', deps: [] },
];

test('layered layout: dependencies sit left of dependents, nodes never overlap', () => {
  const g = layoutGraph(T);
  const at = new Map(g.nodes.map((n) => [n.name, n]));
  assert.equal(g.nodes.length, 5);
  for (const t of T) for (const d of t.deps) assert.ok(at.get(d)!.x + at.get(d)!.w < at.get(t.name)!.x, `${d} left of ${t.name}`);
  assert.equal(at.get('base')!.x, at.get('docs')!.x, 'roots share the first layer');
  assert.equal(at.get('py')!.x, at.get('tools')!.x);
  for (const a of g.nodes)
    for (const b of g.nodes) if (a !== b) assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `${a.name} overlaps ${b.name}`);
  for (const n of g.nodes) assert.ok(n.x >= 0 && n.y >= 0 && n.x + n.w <= g.width && n.y + n.h <= g.height);
  assert.equal(g.edges.length, 4);
});

type Rect = GraphLayout['nodes'][number];
const inside = (x: number, y: number, n: Rect) => x > n.x && x < n.x + n.w && y > n.y && y < n.y + n.h;

/** Boxes an edge passes through, other than its own two. Each piece between waypoints stays within the two points' bounding box. */
function crossed(g: GraphLayout): string[] {
  const out: string[] = [];
  for (const e of g.edges) {
    for (let i = 1; i < e.points.length; i++) {
      const [p, q] = [e.points[i - 1]!, e.points[i]!];
      const box = { x: Math.min(p.x, q.x), y: Math.min(p.y, q.y), w: Math.abs(q.x - p.x), h: Math.abs(q.y - p.y) };
      for (const n of g.nodes) {
        if (n.name === e.from || n.name === e.to) continue;
        if (box.x < n.x + n.w && n.x < box.x + box.w && box.y <= n.y + n.h && n.y <= box.y + box.h) out.push(`${e.from}->${e.to} crosses ${n.name}`);
      }
    }
  }
  return out;
}

test('edges are routed around boxes: a long edge passes a crowded column between its boxes', () => {
  const T2 = [
    { name: 'base', deps: [] },
    ...['a', 'b', 'c', 'd', 'e'].map((n) => ({ name: n, deps: ['base'] })),
    { name: 'top', deps: ['a', 'b', 'c', 'd', 'e', 'base'] },
  ];
  const g = layoutGraph(T2);
  const at = new Map(g.nodes.map((n) => [n.name, n]));
  const long = g.edges.find((e) => e.from === 'base' && e.to === 'top')!;
  // it crosses the column of five at one height, clear of the boxes above and below
  const [, enter, leave] = long.points;
  assert.equal(enter!.y, leave!.y);
  assert.equal(enter!.x, at.get('c')!.x);
  assert.equal(leave!.x, at.get('c')!.x + at.get('c')!.w);
  assert.ok(['a', 'b', 'c', 'd', 'e'].every((n) => !inside(at.get(n)!.x + 1, enter!.y, at.get(n)!)));
  assert.equal(long.points.length, 4, 'it enters and leaves the column between');
  assert.deepEqual(crossed(g), []);
  assert.equal(g.edges.length, 11);
  for (const e of g.edges) assert.match(e.d, /^M[\d.]+,[\d.]+( (C[\d.]+,[\d.]+ [\d.]+,[\d.]+ [\d.]+,[\d.]+|H[\d.]+))+$/);
});

test('edges avoid every box they do not connect, in random graphs (seeded)', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const n = 2 + Math.floor(r() * 14);
    const T3 = Array.from({ length: n }, (_, i) => ({ name: `t${i}`, deps: Array.from({ length: i }, (_, j) => `t${j}`).filter(() => r() < 0.25) }));
    const g = layoutGraph(T3);
    assert.deepEqual(crossed(g), [], `seed ${seed}`);
    for (const a of g.nodes)
      for (const b of g.nodes) if (a !== b) assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `seed ${seed}: ${a.name} overlaps ${b.name}`);
    for (const n of g.nodes) assert.ok(n.x >= 0 && n.y >= 0 && n.x + n.w <= g.width && n.y + n.h <= g.height, `seed ${seed}: ${n.name} inside the picture`);
    assert.equal(g.edges.length, T3.reduce((a, t) => a + t.deps.length, 0));
  }
});

test('lanes: overlapping targets get different lanes, sequential ones reuse a lane', () => {
  const lanes = assignLanes([
    { name: 'a', start: 0, end: 100 },
    { name: 'b', start: 10, end: 50 },
    { name: 'c', start: 60, end: 90 },
    { name: 'd', start: 100, end: 120 },
  ]);
  assert.equal(lanes.get('a'), 0);
  assert.equal(lanes.get('b'), 1);
  assert.equal(lanes.get('c'), 1);
  assert.equal(lanes.get('d'), 0);
});

test('the page is self-contained and escapes what it shows', () => {
  const run: BakeRun = {
    version: 1,
    runId: 'r1',
    startedAt: 0,
    durationMs: 1000,
    jobs: 2,
    keepGoing: false,
    requested: ['default'],
    ok: false,
    runDir: '/tmp/x',
    targets: [
      { name: 'a', status: 'failed', deps: [], steps: [], tags: [], logFile: '/tmp/a.log', start: 0, end: 500, durationMs: 500, error: '<script>alert(1)</script>' },
      { name: 'b', status: 'skipped', deps: ['a'], steps: [], tags: [], logFile: '/tmp/b.log', reason: 'dependency a failed' },
    ],
  };
  const html = renderReport(run);
  assert.ok(!html.includes('<script>'));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(!/\b(src|href)=["']?(https?:)?\/\//.test(html), 'no external resources');
  assert.equal((html.match(/data-testid="graph-node"/g) ?? []).length, 2);
  assert.equal((html.match(/data-testid="timeline-bar"/g) ?? []).length, 1, 'a skipped target has no bar');
  assert.match(html, /data-testid="failure" data-target="a"/);
  assert.match(html, /It failed before its first step/);
});

test('a failed target lists its steps, marks the one it failed in, and shows its whole error', () => {
  const steps = [
    { stage: 'build', step: 1, total: 3, text: 'COPY . /src', start: 0, end: 10, cached: true },
    { stage: 'build', step: 2, total: 3, text: 'RUN make <all>', start: 10 },
  ];
  const run: BakeRun = {
    version: 1,
    runId: 'r2',
    startedAt: 0,
    durationMs: 900,
    jobs: 1,
    keepGoing: false,
    requested: ['x'],
    ok: false,
    runDir: '/tmp/y',
    targets: [{ name: 'x', status: 'failed', deps: [], steps, tags: [], logFile: '/tmp/x.log', start: 0, end: 800, durationMs: 800, error: 'make: *** [all] Error 2\nline two & <more>' }],
  };
  const html = renderReport(run);
  const failure = html.slice(html.indexOf('data-testid="failure"'));
  assert.deepEqual([...failure.matchAll(/data-testid="failure-step" data-state="(\w+)"/g)].map((m) => m[1]), ['cached', 'failed']);
  assert.match(failure, /RUN make &lt;all&gt;/);
  assert.ok(failure.includes('<pre class="error" data-testid="failure-error">make: *** [all] Error 2\nline two &amp; &lt;more&gt;</pre>'));
  assert.match(html, /data-testid="step" [^>]*data-failed="true"/, 'the timeline marks the failed step too');
  const ok = renderReport({ ...run, ok: true, targets: [{ ...run.targets[0]!, status: 'done', error: undefined }] });
  assert.ok(!ok.includes('data-testid="failures"'), 'no failures section when nothing failed');
});
