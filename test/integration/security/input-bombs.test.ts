import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stratum } from '../../helpers/cli.js';

/**
 * Dockerfiles made to exhaust memory, time or the stack fail fast with a clear error, under a memory cap far below
 * what the attacks would need (a 10-level ARG bomb would reach tens of gigabytes).
 */
describe('resource exhaustion through a Dockerfile', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  const capped = { NODE_OPTIONS: '--max-old-space-size=256' };

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-bombs-'));
    root = path.join(tmp, 'store');
  });
  after(async () => {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function build(name: string, dockerfile: string, extra: string[] = []) {
    const dir = path.join(tmp, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    const started = Date.now();
    const r = await stratum(['build', dir, '--progress', 'quiet', ...extra], { root, env: capped });
    return { ...r, ms: Date.now() - started };
  }

  /** `ARG L0=aaaa…`, then each level repeats the one before eight times. */
  function bomb(levels: number): string[] {
    const lines = [`ARG L0=${'a'.repeat(64)}`];
    for (let i = 1; i <= levels; i++) lines.push(`ARG L${i}=${`$L${i - 1}`.repeat(8)}`);
    return lines;
  }

  it('stops an ARG bomb in a stage at the first value past the bound, naming the line', async () => {
    const r = await build('stage-bomb', ['FROM scratch', ...bomb(10), 'LABEL x=$L10', ''].join('\n'));
    assert.equal(r.code, 2, r.stderr);
    // 64·8^5 = 2 Mi characters: line 2 + 5 is the first over the bound.
    assert.match(r.stderr, /Dockerfile:7:1: ARG: the expansion is longer than 1048576 characters/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('stops an ARG bomb among the global ARGs before any stage is planned', async () => {
    const r = await build('global-bomb', [...bomb(10), 'FROM scratch', 'LABEL x=$L10', ''].join('\n'));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Dockerfile:6:1: .*longer than 1048576 characters/);
  });

  it('refuses substitutions nested thousands deep instead of overflowing the stack', async () => {
    const deep = '${A:-'.repeat(20_000) + 'x' + '}'.repeat(20_000);
    const r = await build('deep', `FROM scratch\nLABEL x=${deep}\n`);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Dockerfile:2:1: LABEL: variable substitutions are nested more than 100 levels deep/);
  });

  it('builds a stage with 50,000 ARGs and a chain of 20,000 stages (linear work, no deep recursion)', async () => {
    const args = Array.from({ length: 50_000 }, (_, i) => `ARG A${i}=${i === 0 ? 'v' : `$A${i - 1}`}`);
    const many = await build('many-args', ['FROM scratch', ...args, 'LABEL last=$A49999', ''].join('\n'), ['-t', 'localhost/many-args:1']);
    assert.equal(many.code, 0, many.stderr);
    const stages = ['FROM scratch AS s0'];
    for (let i = 1; i < 20_000; i++) stages.push(`FROM s${i - 1} AS s${i}`);
    const chain = await build('many-stages', [...stages, 'LABEL end=1', ''].join('\n'), ['-t', 'localhost/many-stages:1']);
    assert.equal(chain.code, 0, chain.stderr);
  });
});
