/**
 * Differential test: every case of the bake corpus is resolved by `docker buildx bake --print`
 * (the pinned buildx that scripts/prereqs.sh builds) and by stratum, and the printed JSON must be
 * the same. Where buildx fails, stratum must fail too; where stratum deliberately differs, the
 * case says so and says how stratum refuses (see README, "Deliberately different").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { definitionFromCli, printView } from '../../../src/bake/index.js';
import { StratumError } from '../../../src/util/errors.js';
import { bakeFiles, loadCorpus, normalize, writeCase, type CorpusCase } from '../../helpers/bake-corpus.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// the one pin of the buildx version is in scripts/prereqs.sh, which builds it
const BUILDX_VERSION = /^BUILDX_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(ROOT, 'scripts/prereqs.sh'), 'utf8'))![1]!;
const BUILDX = process.env.STRATUM_BUILDX ?? path.join(process.env.STRATUM_TOOLS ?? '/var/tmp/stratum-tools', `buildx-${BUILDX_VERSION}`, 'buildx');
const skip = fs.existsSync(BUILDX) ? false : `buildx ${BUILDX_VERSION} is not installed at ${BUILDX} (scripts/prereqs.sh builds it; STRATUM_BUILDX names another binary)`;
const corpus = loadCorpus(path.join(ROOT, 'test/fixtures/bake-corpus'));

/** The flags of `bake` that reach the definition, read as the CLI reads them. */
function parseArgs(args: string[]) {
  const collect = (v: string, prev: string[]) => [...prev, v];
  const cmd = new Command()
    .exitOverride()
    .argument('[targets...]')
    .option('-f, --file <file>', '', collect, [])
    .option('--set <v>', '', collect, [])
    .option('--var <v>', '', collect, [])
    .option('--print')
    .option('--push')
    .option('--load')
    .option('--no-cache');
  cmd.parse(args, { from: 'user' });
  const o = cmd.opts<{ file: string[]; set: string[]; var: string[]; push?: boolean; load?: boolean; cache?: boolean }>();
  return { files: o.file, sets: o.set, vars: o.var, push: o.push, load: o.load, noCache: o.cache === false, targets: cmd.args };
}

interface Outcome {
  ok: boolean;
  json?: unknown;
  error?: string;
}

function runBuildx(c: CorpusCase, dir: string, env: Record<string, string>): Outcome {
  const r = spawnSync(BUILDX, ['bake', '--progress=quiet', '--print', ...c.args], { cwd: dir, env, input: c.stdin ?? '', encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, error: (r.stderr || r.stdout).trim() };
  return { ok: true, json: JSON.parse(r.stdout) };
}

async function runStratum(c: CorpusCase, dir: string, env: Record<string, string>): Promise<Outcome> {
  try {
    const a = parseArgs(c.args);
    const def = await definitionFromCli({ ...a, print: true, env, cwd: dir, stdin: Readable.from([Buffer.from(c.stdin ?? '')]) });
    return { ok: true, json: JSON.parse(JSON.stringify(printView(def))) };
  } catch (e) {
    if (!(e instanceof StratumError)) return { ok: false, error: `not a StratumError (would print a stack): ${(e as Error).stack}` };
    return { ok: false, error: e.message };
  }
}

test(`bake --print matches buildx ${BUILDX_VERSION} on the corpus`, { skip, timeout: 600_000 }, async () => {
  const nFiles = corpus.reduce((n, c) => n + bakeFiles(c), 0);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-parity-'));
  // ssh entries need an agent socket to exist for buildx to print them
  const sock = path.join(work, 'agent.sock');
  const server = net.createServer();
  await new Promise<void>((res) => server.listen(sock, res));
  const failures: string[] = [];
  let compared = 0;
  let ran = 0;
  try {
    const only = process.env.STRATUM_PARITY_ONLY;
    for (const c of corpus.filter((x) => !only || x.name.includes(only))) {
      ran++;
      const dir = path.join(work, c.name);
      fs.mkdirSync(dir);
      writeCase(c, dir);
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', BUILDX_CONFIG: path.join(dir, '.buildx'), DOCKER_CONFIG: path.join(dir, '.docker'), SSH_AUTH_SOCK: sock, ...c.env };
      const bx = runBuildx(c, dir, env);
      const st = await runStratum(c, dir, env);
      const fail = (msg: string) => failures.push(`${c.name}: ${msg}`);
      if (st.error?.startsWith('not a StratumError')) fail(st.error);
      else if (st.error && (st.error.includes('\n') || /\n\s+at /.test(st.error))) fail(`stratum's error is not one line: ${st.error}`);
      if (c.differs) {
        if (!bx.ok) fail(`marked "differs" but buildx fails too: ${bx.error}`);
        if (st.ok) fail(`marked "differs (${c.differs})" but stratum accepts it`);
      } else if (c.differsValue) {
        const same = bx.ok === st.ok && (!bx.ok || JSON.stringify(normalize(st.json, c.unordered)) === JSON.stringify(normalize(bx.json, c.unordered)));
        if (same) fail(`marked "differs-value (${c.differsValue})" but both ${bx.ok ? 'print the same' : 'fail'}`);
      } else if (c.fails) {
        if (bx.ok) fail('marked "fails" but buildx succeeds');
        if (st.ok) fail(`buildx fails (${bx.error?.split('\n').pop()}) but stratum prints ${JSON.stringify(st.json)}`);
      } else if (!bx.ok) fail(`buildx fails (mark the case "fails" if that is the point): ${bx.error?.split('\n').pop()}`);
      else if (!st.ok) fail(`stratum fails: ${st.error}\nbuildx prints ${JSON.stringify(bx.json)}`);
      else {
        try {
          assert.deepStrictEqual(normalize(st.json, c.unordered), normalize(bx.json, c.unordered));
          compared++;
        } catch (e) {
          fail(`output differs:\n${(e as Error).message}`);
        }
      }
      if (c.stratumError && !st.ok && !c.stratumError.test(st.error!)) fail(`stratum's error ${JSON.stringify(st.error)} does not match ${c.stratumError}`);
    }
  } finally {
    server.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const summary = `${ran} cases, ${nFiles} bake files in the corpus: ${compared} printed the same, ${ran - compared - failures.length} failed alike or differ on purpose, ${failures.length} mismatched`;
  process.stdout.write(`# ${summary}\n`);
  assert.equal(failures.length, 0, `${summary}\n\n${failures.join('\n\n')}`);
  assert.ok(nFiles >= 150, `the corpus holds ${nFiles} bake files; the issue asks for at least 150`);
});

/** A few cases through the command itself: same JSON on stdout, or exit 2 with one line on stderr. */
test('stratum bake --print, the command, prints what buildx prints and fails as it fails', { skip, timeout: 300_000 }, async () => {
  const BIN = path.join(ROOT, 'bin/stratum.js');
  const picked = ['001-empty-default-target', '006-global-attribute', '131-var-flag', '312-set-arg-from-env', '607-print-linked-target', '800-bake-file-env', '415-glob-no-match', '900-differs-unknown-attribute'];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-parity-cli-'));
  try {
    for (const c of corpus.filter((x) => picked.includes(x.name))) {
      const dir = path.join(work, c.name);
      fs.mkdirSync(dir);
      writeCase(c, dir);
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', BUILDX_CONFIG: path.join(dir, '.buildx'), DOCKER_CONFIG: path.join(dir, '.docker'), ...c.env };
      const bx = runBuildx(c, dir, env);
      const r = spawnSync(process.execPath, [BIN, 'bake', '--print', ...c.args], { cwd: dir, env, input: c.stdin ?? '', encoding: 'utf8' });
      if (bx.ok && !c.differs) {
        assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
        assert.deepStrictEqual(normalize(JSON.parse(r.stdout), c.unordered), normalize(bx.json, c.unordered), c.name);
      } else {
        assert.equal(r.status, 2, `${c.name}: exit ${r.status}: ${r.stderr}`);
        assert.match(r.stderr, /^error: [^\n]+\n$/, `${c.name}: one line on stderr`);
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** The project's own catalogs, as real-world bake files. */
test('the catalogs of this repository print the same with buildx and stratum', { skip, timeout: 120_000 }, async () => {
  for (const file of ['images/docker-bake.hcl', 'examples/offline/docker-bake.hcl']) {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', BUILDX_CONFIG: path.join(os.tmpdir(), 'bake-parity-buildx-config') };
    const c: CorpusCase = { name: file, args: ['-f', file, 'default'], env: {}, files: {}, fails: false, unordered: [] };
    const bx = runBuildx(c, ROOT, env);
    assert.ok(bx.ok, `${file}: buildx fails: ${bx.error}`);
    const st = await runStratum(c, ROOT, env);
    assert.ok(st.ok, `${file}: stratum fails: ${st.error}`);
    assert.deepStrictEqual(st.json, bx.json, file);
  }
});
