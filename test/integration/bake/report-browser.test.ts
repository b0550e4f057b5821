/** The HTML report rendered in real headless Chromium: what a reader sees, checked and screenshotted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { humanSize, loadBake, renderReport, runBake, type BuildFn } from '../../../src/bake/index.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(REPO_ROOT, 'test/artifacts/report.png');
const LINT_ERROR = 'lint: 3 problems found in <src/app.ts> & "tests"\n  src/app.ts:1:1: no-unused-vars';

type Box = { x: number; y: number; width: number; height: number };
// Strict overlap: boxes that only touch do not count.
const overlaps = (a: Box, b: Box) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const BAKE = `
target "base" { tags = ["r.example/base:1"] }
target "py" { contexts = { base = "target:base" } }
target "tools" { contexts = { base = "target:base" } }
target "svc-a" { contexts = { py = "target:py" } }
target "svc-b" { contexts = { py = "target:py" } }
target "svc-c" { contexts = { py = "target:py", tools = "target:tools" } }
target "lint" { contexts = { tools = "target:tools" } }
target "bundle" { contexts = { a = "target:svc-a", b = "target:svc-b", c = "target:svc-c", t = "target:tools", base = "target:base" } }
target "docs" {}
group "default" { targets = ["bundle", "lint", "docs"] }
`;

test('the bake report renders in Chromium: graph, timeline lanes, cached steps, sizes', { timeout: 120_000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-report-'));
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    const def = await loadBake([{ name: 'docker-bake.hcl', data: BAKE }], { env: {} });
    for (const [n, t] of Object.entries(def.targets)) t.args = { NAME: n };
    const build: BuildFn = async (o) => {
      const name = o.buildArgs!.NAME!;
      const n = 2 + (name.length % 3);
      for (let step = 1; step <= n; step++) {
        const t = Date.now();
        o.onProgress?.({ kind: 'step-start', stage: 'stage-0', step, total: n, text: `RUN make ${name} part ${step}`, time: t });
        await new Promise((r) => setTimeout(r, step === 1 ? 5 : 60));
        if (name === 'lint' && step === 2) throw new Error(LINT_ERROR);
        o.onProgress?.({ kind: 'step-done', stage: 'stage-0', step, cached: step === 1, time: Date.now(), durationMs: Date.now() - t });
      }
      const layers = Array.from({ length: n }, (_, i) => ({
        digest: `sha256:${String(i).repeat(64).slice(0, 64)}`,
        diffID: `sha256:${'d'.repeat(64)}`,
        size: (i + 1) * 300_000 * name.length,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        createdBy: `RUN make ${name} part ${i + 1}`,
      }));
      return { manifestDigest: `sha256:${Buffer.from(name).toString('hex').padEnd(64, 'e')}`, configDigest: `sha256:${'c'.repeat(64)}`, size: layers.reduce((a, l) => a + l.size, 0) + 1500, layers, tags: o.tags ?? [], stepsTotal: n, stepsCached: 1, durationMs: 0 };
    };
    const run = await runBake(def, { build, jobs: 3, keepGoing: true, cwd: dir, stateDir: path.join(dir, 'state'), env: {} });
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, renderReport(run));

    const ctx = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = await ctx.newPage();
      const external: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file://')) external.push(r.url());
      });
      await page.goto(`file://${file}`);
      assert.equal(await page.title(), `stratum bake ${run.runId}`);

      // graph: one box per target, each named, with its status; one edge per dependency
      const nodes = page.locator('[data-testid=graph-node]');
      assert.equal(await nodes.count(), 9);
      const names = (await nodes.locator('text').allTextContents()).filter((_, i) => i % 2 === 0).sort();
      assert.deepEqual(names, ['base', 'bundle', 'docs', 'lint', 'py', 'svc-a', 'svc-b', 'svc-c', 'tools']);
      assert.equal(await page.locator('[data-testid=graph-node][data-status=failed]').getAttribute('data-target'), 'lint');
      assert.equal(await page.locator('[data-testid=graph] path.edge').count(), 12);
      const boxOf = async (t: string) => (await page.locator(`[data-testid=graph-node][data-target="${t}"] rect`).boundingBox())!;
      assert.ok((await boxOf('base')).x < (await boxOf('py')).x && (await boxOf('py')).x < (await boxOf('svc-c')).x && (await boxOf('svc-c')).x < (await boxOf('bundle')).x, 'layers run left to right');

      // edges go around boxes: every point of an edge lies outside every box but its own two
      const crossings = await page.evaluate(() => {
        const svg = document.querySelector('[data-testid=graph]')!;
        const boxes = [...svg.querySelectorAll('[data-testid=graph-node]')].map((g) => ({ name: g.getAttribute('data-target')!, b: g.querySelector<SVGRectElement>('rect')!.getBBox() }));
        const out: string[] = [];
        for (const p of svg.querySelectorAll<SVGPathElement>('path.edge')) {
          const from = p.getAttribute('data-from');
          const to = p.getAttribute('data-to');
          const len = p.getTotalLength();
          for (let s = 0; s <= len; s += 1) {
            const pt = p.getPointAtLength(s);
            for (const { name, b } of boxes) {
              if (name === from || name === to) continue;
              if (pt.x > b.x && pt.x < b.x + b.width && pt.y > b.y && pt.y < b.y + b.height) {
                out.push(`${from}->${to} crosses ${name} at (${pt.x.toFixed(0)},${pt.y.toFixed(0)})`);
                break;
              }
            }
            if (out.length && out[out.length - 1]!.startsWith(`${from}->${to} `)) break;
          }
        }
        return out;
      });
      assert.deepEqual(crossings, [], 'no edge runs through a box it does not connect');
      const ends = await page.evaluate(() =>
        // (no named functions in here: tsx would wrap them in a helper the page does not have)
        [...document.querySelectorAll<SVGPathElement>('[data-testid=graph] path.edge')].map((p) => {
          const [f, t] = [p.getAttribute('data-from'), p.getAttribute('data-to')].map((n) => document.querySelector<SVGRectElement>(`[data-testid=graph-node][data-target="${n}"] rect`)!.getBBox()) as [DOMRect, DOMRect];
          const a = p.getPointAtLength(0);
          const z = p.getPointAtLength(p.getTotalLength());
          return Math.abs(a.x - (f.x + f.width)) < 1 && a.y > f.y && a.y < f.y + f.height && z.x < t.x && t.x - z.x < 10 && z.y > t.y && z.y < t.y + t.height;
        }),
      );
      assert.ok(ends.every(Boolean), 'each edge leaves its dependency on the right and ends at its dependent on the left');

      // timeline: a visible bar per target, parallel builds in separate lanes, cached steps marked
      const bars = page.locator('[data-testid=timeline-bar]');
      assert.equal(await bars.count(), 9);
      for (let i = 0; i < 9; i++) assert.ok(((await bars.nth(i).locator('rect').boundingBox())?.width ?? 0) > 1);
      const lanes = new Set(await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-lane'))));
      assert.ok(lanes.size >= 2 && lanes.size <= 3, `parallel lanes bounded by -j 3, got ${[...lanes].join(',')}`);
      const steps = run.targets.reduce((a, t) => a + t.steps.length, 0);
      assert.equal(await page.locator('[data-testid=step]').count(), steps);
      assert.equal(await page.locator('[data-testid=step][data-cached=true]').count(), 9, 'the first step of each target came from cache');

      // lane labels sit clear of the time axis (its tick labels and grid lines) and of each other
      const rects = (sel: string) => page.locator(sel).evaluateAll((els) => els.map((e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; }));
      const laneLabels = await rects('[data-testid=lane-label]');
      assert.equal(laneLabels.length, lanes.size);
      const axis = await rects('[data-testid=timeline] [data-testid=axis] > *');
      assert.ok(axis.length >= 2, 'the axis has ticks');
      const bodies = await rects('[data-testid=timeline-bar] rect, [data-testid=step]');
      for (const [i, l] of laneLabels.entries()) {
        assert.ok(l.width > 0 && l.height > 0);
        for (const a of axis) assert.ok(!overlaps(l, { ...a, width: Math.max(a.width, 0.5), height: Math.max(a.height, 0.5) }), `lane label ${i + 1} overlaps the axis at x=${a.x}`);
        for (const [j, m] of laneLabels.entries()) if (i !== j) assert.ok(!overlaps(l, m), `lane labels ${i + 1} and ${j + 1} overlap`);
        for (const b of bodies) assert.ok(!overlaps(l, b), `lane label ${i + 1} overlaps a bar`);
      }

      // the failed target: the steps it ran, the one it failed in, and its error in full (escaped, shown as text)
      const lint = run.targets.find((t) => t.name === 'lint')!;
      const failure = page.locator('[data-testid=failure][data-target=lint]');
      assert.equal(await failure.count(), 1);
      assert.equal(await page.locator('[data-testid=failure]').count(), 1, 'only lint failed');
      const fsteps = failure.locator('[data-testid=failure-step]');
      assert.equal(await fsteps.count(), lint.steps.length);
      assert.equal(lint.steps.length, 2);
      assert.deepEqual(await fsteps.evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))), ['cached', 'failed']);
      assert.match((await failure.locator('[data-testid=failure-step][data-state=failed]').textContent())!, /RUN make lint part 2/);
      assert.equal(await failure.locator('[data-testid=failure-error]').textContent(), LINT_ERROR);
      assert.ok(await failure.locator('[data-testid=failure-error]').isVisible());

      // sizes: one row per built image, sizes as text, one segment per layer, largest first
      const rows = page.locator('[data-testid=size-row]');
      assert.equal(await rows.count(), 8);
      const bundle = run.targets.find((t) => t.name === 'bundle')!.result!;
      const bundleRow = page.locator('[data-testid=size-row][data-target=bundle]');
      assert.equal(await bundleRow.locator('[data-testid=size-text]').textContent(), humanSize(bundle.size));
      assert.equal(await bundleRow.locator('[data-testid=layer]').count(), bundle.layers.length);
      const sizes = await rows.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-size'))));
      assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a));
      const w = async (t: string) => (await page.locator(`[data-testid=size-row][data-target="${t}"] .bar`).boundingBox())!.width;
      assert.ok((await w('bundle')) > 100, 'the size bar is drawn');

      assert.match((await page.locator('[data-testid=overview]').textContent())!, /9 targets: 8 built, 1 failed, 0 skipped/);
      assert.deepEqual(external, [], 'the page loads nothing from outside');

      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.ok(fs.statSync(SCREENSHOT).size > 20_000, 'the screenshot has content');
      if (process.env.BAKE_REPORT_SCREENSHOT) fs.copyFileSync(SCREENSHOT, process.env.BAKE_REPORT_SCREENSHOT);
    } finally {
      await ctx.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
