/** The HTML report rendered in real headless Chromium: what a reader sees, checked and screenshotted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { humanSize, loadBake, renderReport, runBake, type BuildFn } from '../../../src/bake/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const BAKE = `
target "base" { tags = ["r.example/base:1"] }
target "py" { contexts = { base = "target:base" } }
target "tools" { contexts = { base = "target:base" } }
target "svc-a" { contexts = { py = "target:py" } }
target "svc-b" { contexts = { py = "target:py" } }
target "svc-c" { contexts = { py = "target:py", tools = "target:tools" } }
target "lint" { contexts = { tools = "target:tools" } }
target "bundle" { contexts = { a = "target:svc-a", b = "target:svc-b", c = "target:svc-c" } }
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
        if (name === 'lint' && step === 2) throw new Error('lint: 3 problems found');
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
      assert.equal(await page.locator('[data-testid=graph] path.edge').count(), 10);
      const boxOf = async (t: string) => (await page.locator(`[data-testid=graph-node][data-target="${t}"] rect`).boundingBox())!;
      assert.ok((await boxOf('base')).x < (await boxOf('py')).x && (await boxOf('py')).x < (await boxOf('svc-c')).x && (await boxOf('svc-c')).x < (await boxOf('bundle')).x, 'layers run left to right');

      // timeline: a visible bar per target, parallel builds in separate lanes, cached steps marked
      const bars = page.locator('[data-testid=timeline-bar]');
      assert.equal(await bars.count(), 9);
      for (let i = 0; i < 9; i++) assert.ok(((await bars.nth(i).locator('rect').boundingBox())?.width ?? 0) > 1);
      const lanes = new Set(await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-lane'))));
      assert.ok(lanes.size >= 2 && lanes.size <= 3, `parallel lanes bounded by -j 3, got ${[...lanes].join(',')}`);
      const steps = run.targets.reduce((a, t) => a + t.steps.length, 0);
      assert.equal(await page.locator('[data-testid=step]').count(), steps);
      assert.equal(await page.locator('[data-testid=step][data-cached=true]').count(), 9, 'the first step of each target came from cache');

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

      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(fs.statSync(shot).size > 20_000, 'the screenshot has content');
      if (process.env.BAKE_REPORT_SCREENSHOT) fs.copyFileSync(shot, process.env.BAKE_REPORT_SCREENSHOT);
    } finally {
      await ctx.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
