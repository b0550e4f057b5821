import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers/cli.js';
import { run as runProgram } from '../../../src/util/exec.js';

// bin/stratum.js in a checkout of its own (sources and node_modules linked to this one), with a bundle made by
// scripts/bundle.ts into its dist/cli: what `npm run build` makes, without touching this checkout's dist/.
let root = '';
let bundleDir = '';

/** Runs a program from the repository root and collects its output, whatever its exit code. */
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => runProgram(cmd, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, check: false });

const stratum = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [path.join(root, 'bin', 'stratum.js'), ...args], env);

async function writeInputs(extra: Record<string, [number, number]>): Promise<void> {
  const file = path.join(bundleDir, 'inputs.json');
  const stamp = JSON.parse(await readFile(file, 'utf8')) as { hash: string; inputs: Record<string, [number, number]> };
  await writeFile(file, JSON.stringify({ hash: stamp.hash, inputs: { ...stamp.inputs, ...extra } }));
}

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'stratum-launcher-'));
  await mkdir(path.join(root, 'bin'));
  for (const f of ['stratum.js', 'package.json']) await copyFile(path.join(REPO_ROOT, 'bin', f), path.join(root, 'bin', f));
  await symlink(path.join(REPO_ROOT, 'src'), path.join(root, 'src'));
  await symlink(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  bundleDir = path.join(root, 'dist', 'cli');
  const made = await run(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'bundle.ts'), bundleDir]);
  assert.equal(made.code, 0, made.stderr);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('bin/stratum.js', () => {
  it('runs the bundle when it is fresh, and keeps a code cache for the command', async () => {
    const r = await stratum(['--version'], { STRATUM_CLI: 'dist' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0.1.0');
    assert.ok((await readdir(bundleDir)).some((f) => /^stratum-[0-9a-f]{16}-other-[0-9a-f]{8}\.v8cache$/.test(f)));
  });

  it('gives the same answers from the bundle, cached or not, as from the sources', async () => {
    const ctx = path.join(root, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch AS one\nARG V=1\nENV A=$V\nFROM one\nCOPY f /f\nCMD ["x"]\n');
    await writeFile(path.join(ctx, 'f'), 'f\n');
    const args = ['--root', path.join(root, 'store'), 'build', '--dry-run', '--build-arg', 'V=2', ctx];
    const fromSources = await stratum(args, { STRATUM_CLI: 'src' });
    assert.equal(fromSources.code, 0, fromSources.stderr);
    for (let i = 0; i < 2; i++) {
      const fromBundle = await stratum(args, { STRATUM_CLI: 'dist' });
      assert.equal(fromBundle.code, 0, fromBundle.stderr);
      assert.equal(fromBundle.stdout, fromSources.stdout);
    }
    const bad = await stratum(['build', '--progress', 'nonsense', ctx], { STRATUM_CLI: 'dist' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--progress nonsense: expected one of auto, tty, plain, json, rawjson, quiet/);
  });

  it('a damaged code cache is ignored and made again', async () => {
    const cache = (await readdir(bundleDir)).find((f) => /-other-[0-9a-f]{8}\.v8cache$/.test(f))!;
    await writeFile(path.join(bundleDir, cache), 'not a code cache');
    const r = await stratum(['--version'], { STRATUM_CLI: 'dist' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await stat(path.join(bundleDir, cache))).size > 1000);
  });

  it('never runs a bundle older than a file it was built from: it runs the sources instead', async () => {
    const marker = path.join(root, 'marker.ts');
    await writeFile(marker, 'one');
    const st = await stat(marker);
    await writeInputs({ 'marker.ts': [st.mtimeMs, st.size] });
    assert.equal((await stratum(['--version'], { STRATUM_CLI: 'dist' })).code, 0);

    await writeFile(marker, 'two!');
    const refused = await stratum(['--version'], { STRATUM_CLI: 'dist' });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /marker\.ts changed since npm run build/);
    const fallback = await stratum(['--version']);
    assert.equal(fallback.code, 0, fallback.stderr);
    assert.equal(fallback.stdout.trim(), '0.1.0');

    await rm(marker);
    assert.equal((await stratum(['--version'], { STRATUM_CLI: 'dist' })).code, 3);
  });

  it('without a bundle, runs the sources', async () => {
    await rm(bundleDir, { recursive: true, force: true });
    const refused = await stratum(['--version'], { STRATUM_CLI: 'dist' });
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /no bundle/);
    const r = await stratum(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '0.1.0');
  });
});
