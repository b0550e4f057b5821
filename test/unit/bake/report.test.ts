import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignLanes, layoutGraph, renderReport, type BakeRun } from '../../../src/bake/index.js';

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
});
