/**
 * `bake --list targets|variables` against the pinned buildx (scripts/prereqs.sh builds it), on the
 * bake files of every corpus case that buildx reads: same text, tabs included, or both fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { listFromCli } from '../../../src/bake/index.js';
import { loadCorpus, writeCase } from '../../helpers/bake-corpus.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const BUILDX_VERSION = /^BUILDX_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(REPO_ROOT, 'scripts/prereqs.sh'), 'utf8'))![1]!;
const BUILDX = process.env.STRATUM_BUILDX ?? path.join(process.env.STRATUM_TOOLS ?? '/var/tmp/stratum-tools', `buildx-${BUILDX_VERSION}`, 'buildx');
const skip = fs.existsSync(BUILDX) ? false : `buildx ${BUILDX_VERSION} is not installed at ${BUILDX} (scripts/prereqs.sh builds it)`;

/** -f and --var of a case's arguments: what --list reads (targets and --set do not change it). */
function listArgs(args: string[]): { files: string[]; vars: string[] } {
  const files: string[] = [];
  const vars: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^(-f|--file|--var)(?:=(.*))?$/.exec(a);
    if (!m) continue;
    const v = m[2] ?? args[++i]!;
    (m[1] === '--var' ? vars : files).push(v);
  }
  return { files, vars };
}

test(`bake --list prints what buildx ${BUILDX_VERSION} prints, on the corpus`, { skip, timeout: 600_000 }, async () => {
  const corpus = loadCorpus(path.join(REPO_ROOT, 'test/fixtures/bake-corpus')).filter((c) => !c.differs && !c.differsValue && !c.fails);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-list-'));
  const failures: string[] = [];
  let compared = 0;
  try {
    for (const c of corpus) {
      const dir = path.join(work, c.name);
      fs.mkdirSync(dir);
      writeCase(c, dir);
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', BUILDX_CONFIG: path.join(dir, '.buildx'), DOCKER_CONFIG: path.join(dir, '.docker'), ...c.env };
      const { files, vars } = listArgs(c.args);
      for (const spec of ['targets', 'variables']) {
        const args = ['bake', '--progress=quiet', '--list', spec, ...files.flatMap((f) => ['-f', f]), ...vars.flatMap((v) => ['--var', v])];
        const bx = spawnSync(BUILDX, args, { cwd: dir, env, input: c.stdin ?? '', encoding: 'utf8' });
        let st: string | Error;
        try {
          st = await listFromCli({ files, vars, targets: [], sets: [], env, cwd: dir, stdin: Readable.from([Buffer.from(c.stdin ?? '')]) }, spec);
        } catch (e) {
          st = e as Error;
        }
        if (bx.status !== 0) {
          if (typeof st === 'string') failures.push(`${c.name} --list ${spec}: buildx fails (${bx.stderr.trim().split('\n').pop()}) but stratum prints\n${st}`);
        } else if (typeof st !== 'string') failures.push(`${c.name} --list ${spec}: stratum fails: ${st.message}`);
        else if (st !== bx.stdout) failures.push(`${c.name} --list ${spec}:\nbuildx:  ${JSON.stringify(bx.stdout)}\nstratum: ${JSON.stringify(st)}`);
        else compared++;
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${compared} listings the same, ${failures.length} differ\n`);
  assert.equal(failures.length, 0, failures.join('\n\n'));
});
