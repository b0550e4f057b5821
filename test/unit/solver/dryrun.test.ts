import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dryRun } from '../../../src/solver/dryrun.js';

test('--dry-run shows heredoc bodies and the ONBUILD triggers a stage runs first', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stratum-dryrun-'));
  try {
    const df = [
      'FROM scratch AS runtime',
      'ONBUILD ARG PROJECT',
      'ONBUILD RUN useradd ${PROJECT}',
      '',
      'FROM runtime',
      'ARG PROJECT=nova',
      "RUN <<'EOF' bash -xe",
      '. /etc/os-release',
      'echo "${VERSION_CODENAME}"',
      'EOF',
      'COPY <<EOF /etc/motd',
      'hello ${PROJECT}',
      'EOF',
      '',
    ].join('\n');
    await writeFile(join(dir, 'Dockerfile'), df);
    const plan = await dryRun({ context: dir, root: join(dir, 'store'), buildArgs: { PROJECT: 'keystone' } });
    const [runtime, svc] = plan.stages;
    assert.deepEqual(runtime!.steps.map((s) => s.instruction), ['ONBUILD ARG PROJECT', 'ONBUILD RUN useradd ${PROJECT}']);
    assert.ok(runtime!.steps.every((s) => !s.onbuild));
    // A trigger is expanded when it runs, not where it is declared.
    assert.equal(runtime!.steps[1]!.expanded, 'ONBUILD RUN useradd ${PROJECT}');
    const triggers = svc!.steps.filter((s) => s.onbuild);
    assert.deepEqual(triggers.map((s) => [s.line, s.instruction, s.expanded]), [
      [5, 'ARG PROJECT', 'ARG PROJECT'],
      [5, 'RUN useradd ${PROJECT}', 'RUN useradd ${PROJECT}'],
    ]);
    const run = svc!.steps.find((s) => s.instruction.startsWith('RUN <<'))!;
    assert.deepEqual(run.heredocs, [{ name: 'EOF', quoted: true, body: '. /etc/os-release\necho "${VERSION_CODENAME}"\n' }]);
    const copy = svc!.steps.find((s) => s.instruction.startsWith('COPY'))!;
    assert.deepEqual(copy.heredocs, [{ name: 'EOF', quoted: false, body: 'hello ${PROJECT}\n' }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
