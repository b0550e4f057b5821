import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { build } from '../../../src/solver/build.js';
import { StratumError } from '../../../src/util/errors.js';
import { generateDockerfile, rng } from '../../helpers/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 20_000);
/** Instructions a build dispatches without running a container (RUN and COPY are fuzzed through their words elsewhere). */
const DISPATCHED = ['ARG K=W', 'ARG K', 'ENV K=W', 'ENV K W', 'LABEL K=W', 'WORKDIR W', 'USER W', 'EXPOSE W', 'STOPSIGNAL W', 'CMD W', 'VOLUME W', 'ENTRYPOINT W', 'SHELL ["W"]', 'FROM W AS s', 'ONBUILD W'];

/** Generated Dockerfiles built for real: each builds or fails with a user error, never a crash. */
test('fuzz: generated Dockerfiles build or fail with a user error', { timeout: 5 * 60_000 }, async (t) => {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-fuzzbuild-'));
  const r = rng(SEED);
  const deadline = Date.now() + BUDGET_MS;
  let runs = 0;
  let built = 0;
  try {
    while (Date.now() < deadline) {
      const input = generateDockerfile(r, DISPATCHED);
      runs++;
      try {
        await build({ root: path.join(tmp, 'store'), context: tmp, dockerfileInline: input, buildArgs: { B: 'b' } });
        built++;
      } catch (e) {
        if (!(e instanceof StratumError)) assert.fail(`input ${JSON.stringify(input)} crashed the build: ${(e as Error).stack}`);
      }
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  t.diagnostic(`${runs} generated Dockerfiles, ${built} built, seed ${SEED}`);
  assert.ok(runs > 20 && built > 0, `${runs} inputs, ${built} built`);
});
