/** An `up-to-date` target (bake --push found its image in the registry) in the summary, metadata and report. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metadata, summaryTable, type BakeRun } from '../../../src/bake/index.js';
import { renderReport } from '../../../src/bake/report.js';
import { dependencyContexts } from '../../../src/bake/skip.js';
import type { BakeDefinition } from '../../../src/bake/types.js';

const digest = `sha256:${'d'.repeat(64)}`;
const run: BakeRun = {
  version: 1,
  runId: 'r1',
  startedAt: 0,
  durationMs: 1200,
  jobs: 2,
  keepGoing: false,
  requested: ['app'],
  ok: true,
  runDir: '/tmp/run',
  targets: [
    {
      name: 'app',
      status: 'up-to-date',
      deps: [],
      steps: [],
      tags: ['reg.example:5000/app:1', 'reg.example:5000/app:2'],
      logFile: '/tmp/run/logs/app.log',
      durationMs: 40,
      inputs: `sha256:${'1'.repeat(64)}`,
      reason: `up to date in reg.example:5000/app@${digest}`,
      upToDate: { ref: `reg.example:5000/app@${digest}`, digest, pinned: `reg.example:5000/app:1@${digest}`, retagged: ['reg.example:5000/app:2'] },
    },
  ],
};

test('summary: the status, the digest the registry has, where, and the tags pointed at it', () => {
  const s = summaryTable(run);
  assert.match(s, /^app\s+up-to-date\s+0\.0s\s+-\s+-\s+-\s+dddddddddddd$/m);
  assert.match(s, /^0\/1 built, 1 up to date in 1\.2s;/m);
  assert.match(s, new RegExp(`^app skipped: up to date in reg\\.example:5000/app@${digest}$`, 'm'));
  assert.match(s, new RegExp(`^app tagged reg\\.example:5000/app:2@${digest}$`, 'm'));
});

test('metadata: buildx keys name the registry\'s image; stratum keys the status and the input digest', () => {
  const m = metadata(run).app!;
  assert.equal(m['stratum.status'], 'up-to-date');
  assert.equal(m['containerimage.digest'], digest);
  assert.equal(m['image.name'], 'reg.example:5000/app:1,reg.example:5000/app:2');
  assert.equal(m['stratum.upToDate'], `reg.example:5000/app@${digest}`);
  assert.equal(m['stratum.inputs.digest'], run.targets[0]!.inputs);
});

test('report: the row and the overview say up to date', () => {
  const html = renderReport(run);
  assert.match(html, /<td class="st-up-to-date">up-to-date<\/td>/);
  assert.match(html, /1 targets: 0 built, 1 up to date, 0 failed/);
});

test('the named contexts that are other targets: target: contexts and images inferred from FROM', () => {
  const def = { targets: { app: { contexts: { base: 'target:base', dir: './x' } }, base: {} } } as unknown as BakeDefinition;
  assert.deepEqual(dependencyContexts(def, 'app', { app: [{ dep: 'tools', ref: 'reg.example:5000/tools:1' }] }), { base: 'base', 'reg.example:5000/tools:1': 'tools' });
});
