import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stratum } from '../../helpers/cli.js';

/**
 * Mistakes in a Dockerfile name its file (as given) and line, and what was probably meant. Every build here
 * starts FROM scratch and fails before any RUN, so no base image or container is needed.
 */
describe('Dockerfile errors point at the line', { timeout: 5 * 60_000 }, () => {
  let tmp: string;
  let root: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-line-errors-'));
    root = path.join(tmp, 'store');
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  /** A context under tmp with these files; returns its path relative to tmp (the tests run from tmp). */
  async function context(name: string, files: Record<string, string>): Promise<string> {
    for (const [f, c] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(tmp, name, f)), { recursive: true });
      await writeFile(path.join(tmp, name, f), c);
    }
    return name;
  }

  const build = (args: string[]) => stratum(['build', '--progress', 'quiet', ...args], { root, cwd: tmp });

  function oneError(r: { code: number; stderr: string }, re: RegExp): void {
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, re);
  }

  it('an unknown instruction, with the one it was probably meant to be', async () => {
    const dir = await context('unknown', { Dockerfile: 'FROM scratch\n# a comment\nRUNN true\n' });
    oneError(await build([dir]), /^error: unknown\/Dockerfile:3:1: unknown instruction "RUNN" \(did you mean RUN\?\)$/);
  });

  it('names the Dockerfile as -f gave it', async () => {
    const dir = await context('named', { 'docker/app.Dockerfile': 'FROM scratch\nCOPPY a /a\n' });
    oneError(await build(['-f', `${dir}/docker/app.Dockerfile`, dir]), /^error: named\/docker\/app\.Dockerfile:2:1: unknown instruction "COPPY" \(did you mean COPY\?\)$/);
  });

  it('a COPY source missing from the build context', async () => {
    const dir = await context('missing', { Dockerfile: 'FROM scratch\nCOPY here.txt /\n\n\n\n\nCOPY nothere.txt /\n', 'here.txt': 'x' });
    oneError(await build([dir]), /^error: missing\/Dockerfile:7: COPY: "nothere\.txt" not found in the build context$/);
  });

  it('a COPY --from source missing from the stage', async () => {
    const dir = await context('from-missing', { Dockerfile: 'FROM scratch AS build\nCOPY a /a\nFROM scratch\nCOPY --from=build /nothere /x\n', a: 'a' });
    oneError(await build([dir]), /^error: from-missing\/Dockerfile:4: COPY: "\/nothere" not found in stage build$/);
  });

  it('COPY --from and RUN --mount from= naming nothing: what it could have meant', async () => {
    const text = 'FROM scratch AS base\nFROM scratch AS build\nCOPY a /a\nFROM scratch\nCOPY --from=buidl /a /a\n';
    const dir = await context('from-typo', { Dockerfile: text, a: 'a' });
    oneError(
      await build([dir]),
      /^error: from-typo\/Dockerfile:5: COPY --from=buidl: "buidl" names no stage, build context or image in the local store \(did you mean build\?\); stages: base, build$/,
    );
    const mount = await context('mount-typo', { Dockerfile: 'FROM scratch AS tools\nFROM scratch\nRUN --mount=from=tols,target=/t true\n' });
    oneError(await build([mount, '--build-context', 'extra=.']), /^error: mount-typo\/Dockerfile:3: RUN --mount from=tols: "tols" names no stage, build context or image in the local store \(did you mean tools\?\); stages: tools; build contexts: extra$/);
    const none = await context('from-none', { Dockerfile: 'FROM scratch\nCOPY --from=Nope:1 /a /a\n' });
    oneError(await build([none]), /^error: from-none\/Dockerfile:2: COPY --from=Nope:1: "Nope:1" names no stage, build context or image in the local store; stages: \(no named stages\)$/);
  });

  it('a FROM image missing from the store', async () => {
    const dir = await context('no-base', { Dockerfile: 'FROM scratch AS build\nFROM localhost/nothere:1\n' });
    oneError(await build([dir]), /^error: no-base\/Dockerfile:2: FROM localhost\/nothere:1: image "localhost\/nothere:1" is not in the local store/);
  });

  it('an unknown --target, with the stage it was probably meant to be', async () => {
    const dir = await context('target', { Dockerfile: 'FROM scratch AS build\nFROM scratch AS final\n' });
    oneError(await build([dir, '--target', 'biuld']), /^error: target stage "biuld" could not be found in target\/Dockerfile \(did you mean build\?\); stages: build, final$/);
  });
});
