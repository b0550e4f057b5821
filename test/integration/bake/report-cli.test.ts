/** `stratum report` on a run that is not there: one line naming the run and where runs are kept, exit 2. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stratum } from '../../helpers/cli.js';

const oneLine = (stderr: string) => {
  const lines = stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at |internal error/, 'no stack trace');
  return lines[0]!;
};

test('report --run with an unknown run: one line naming it and the runs directory, exit 2', { timeout: 120_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'report-cli-'));
  try {
    const bake = path.join(root, 'bake');
    const none = await stratum(['report', '--run', 'nosuchrun'], { root });
    assert.equal(none.code, 2, none.stderr);
    assert.equal(none.stdout, '');
    const line = oneLine(none.stderr);
    assert.match(line, /^error: no bake run "nosuchrun" under /);
    assert.ok(line.includes(bake), `names ${bake}: ${line}`);

    // with runs recorded, it names them; an id that is a path does not escape the runs directory
    fs.mkdirSync(path.join(bake, '20260101-000000-abcd'), { recursive: true });
    fs.writeFileSync(path.join(bake, '20260101-000000-abcd', 'run.json'), '{}');
    fs.mkdirSync(path.join(root, 'outside'));
    fs.writeFileSync(path.join(root, 'outside', 'run.json'), '{}');
    for (const id of ['nosuchrun', '../outside']) {
      const r = await stratum(['report', '--run', id], { root });
      assert.equal(r.code, 2, r.stderr);
      assert.match(oneLine(r.stderr), new RegExp(`^error: no bake run "${id.replace(/\./g, '\\.')}" under .*recorded: 20260101-000000-abcd`));
    }

    const noLast = await stratum(['report'], { root });
    assert.equal(noLast.code, 2);
    assert.match(oneLine(noLast.stderr), /^error: no bake run recorded yet under /);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
