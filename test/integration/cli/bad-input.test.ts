import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, stratum, type CliResult } from '../../helpers/cli.js';

/**
 * Whatever a user types, stratum answers with one `error:` line and exit 1, 2 or 3: never a stack trace, never
 * "internal error". Every command gets unknown flags, missing and empty values, bad numbers, platforms, image
 * names and paths, against an empty store and in a temporary directory (nothing here builds, pulls or runs).
 */
describe('bad input on the command line', { timeout: 5 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-bad-input-'));
    root = path.join(tmp, 'store');
    await mkdir(path.join(tmp, 'ctx'));
    await writeFile(path.join(tmp, 'ctx/Dockerfile'), 'FROM scratch\nCOPY a /a\n');
    await writeFile(path.join(tmp, 'ctx/a'), 'a');
    // Credentials and the bake state stay in the temporary directory.
    env = { HOME: tmp, DOCKER_CONFIG: path.join(tmp, 'docker'), STRATUM_DEBUG: '', BUILDX_BAKE_FILE: '' };
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const cli = (args: string[]): Promise<CliResult> => stratum(args, { root, cwd: tmp, env });

  it('an unknown flag: one line, the usage line, exit 2', async () => {
    const r = await cli(['build', '--frob', 'ctx']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, "error: unknown option '--frob'\nUsage: stratum build [options] [context]\n(run 'stratum build --help' for the options)\n");
    const sub = await cli(['store', 'check', '--frob']);
    assert.equal(sub.code, 2);
    assert.equal(sub.stderr, "error: unknown option '--frob'\nUsage: stratum store check [options]\n(run 'stratum store check --help' for the options)\n");
    const missing = await cli(['bake', '--jobs']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: option '-j, --jobs <n>' argument missing\nUsage: stratum bake \[options\] \[targets\.\.\.\]\n/);
    const command = await cli(['biuld']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /^error: unknown command 'biuld'\n\(Did you mean build\?\)\nUsage: stratum \[options\] \[command\]\n/);
  });

  it('every command, every kind of bad input: one error line, exit 1-3, no stack trace', async () => {
    const nothere = path.join(tmp, 'nothere');
    const bad = ['', 'x/y/z/w', 'UPPER/Case:tag'];
    // Per command: inputs that must fail. `run` exits 125 when it cannot start the command, as `docker run` does.
    const cases: Record<string, string[][]> = {
      build: [
        ['build', nothere],
        ['build', 'ctx/Dockerfile'],
        ['build', ''],
        ['build', 'ctx', '-f', nothere],
        // Against a context that is not there: whatever the value, nothing may be built.
        ...['-t', '--platform', '-o'].flatMap((o) => bad.map((v) => ['build', nothere, o, v])),
        ['build', 'ctx', '--progress', 'nope'],
        ['build', 'ctx', '--compression', '7'],
        ['build', 'ctx', '-o', 'type=nope,dest=x'],
        ['build', 'ctx', '-t', 'UPPER/Case:tag'],
        ['build', 'ctx', '--build-arg', '=x'],
        ['build', 'ctx', '-f', ''],
        ['build', nothere, '--secret', 'nope'],
        ['build', 'ctx', '--target', 'nope'],
        ['build', nothere, '--no-cache-filter', 'x'],
      ],
      bootstrap: [['bootstrap', 'fedora', '-t', 'x'], ['bootstrap', 'debian'], ['bootstrap', 'debian', '-t', 'UPPER/Case:tag'], ['bootstrap', 'debian', '-t', '']],
      images: [['images', 'extra']],
      rmi: [['rmi', 'localhost/nothere:1'], ['rmi', 'UPPER/Case:tag'], ['rmi', '']],
      tag: [['tag', 'localhost/nothere:1', 'localhost/x:1'], ['tag', 'localhost/nothere:1', 'UPPER/Case:tag'], ['tag', '', '']],
      run: [['run', 'localhost/nothere:1', 'true'], ['run', ''], ['run', 'UPPER/Case:tag'], ['run', '--network', 'nope', 'localhost/nothere:1'], ['run', '-v', nothere, 'localhost/nothere:1']],
      verify: [['verify', 'localhost/nothere:1'], ['verify', ''], ['verify', '--import-timeout', 'abc', 'x'], ['verify', '--import-timeout', '-1', 'x'], ['verify', '--allow', 'nope', 'x']],
      push: [['push', ''], ['push', 'UPPER/Case:tag'], ['push', 'localhost/nothere:1'], ['push', '--chunk-size', 'abc', 'localhost:1/x:1'], ['push', '--chunk-size', '-1', 'localhost:1/x:1']],
      pull: [['pull', ''], ['pull', 'UPPER/Case:tag'], ...bad.map((v) => ['pull', '--platform', v, 'localhost:1/x:1']), ['pull', '--ca-cert', nothere, 'localhost:1/x:1'], ['pull', '--ca-cert', tmp, 'localhost:1/x:1']],
      login: [['login', ''], ['login', 'localhost:1', '--password-stdin'], ['login', 'localhost:1', '--password-stdin', '--ca-cert', nothere]],
      logout: [['logout', ''], ['logout', 'localhost:1']],
      pin: [['pin', nothere], ['pin', ''], ['pin', '--ca-cert', nothere, nothere]],
      bake: [['bake', '-f', nothere], ['bake', '-f', ''], ['bake', '-j', 'abc'], ['bake', '-j', '0'], ['bake', '--progress', 'nope'], ['bake', '--set', 'nope'], ['bake', '--var', 'nope']],
      report: [['report'], ['report', '--run', 'nope'], ['report', '--run', '../../etc'], ['report', '--run', '']],
      update: [['update', nothere], ['update', ''], ['update', '--timeout', 'abc', 'ctx'], ['update', '--timeout', '-1', 'ctx'], ['update', '--timeout', '', 'ctx']],
      constraints: [['constraints', nothere], ['constraints', ''], ['constraints', '--edits', nothere, nothere]],
      lint: [['lint', nothere], ['lint', ''], ['lint', '--constraints', nothere, 'ctx']],
      du: [['du', 'extra']],
      prune: [['prune', '--keep-storage', 'abc'], ['prune', '--keep-storage', '-1'], ['prune', '--keep-storage', ''], ['prune', '--filter', 'nope'], ['prune', '--filter', 'until=abc']],
      store: [['store', 'nope'], ['store', 'check', 'extra']],
    };
    // Every command main.ts knows has its cases, and each gets an unknown flag and an option without its value.
    const main = await readFile(path.join(REPO_ROOT, 'src/cli/main.ts'), 'utf8');
    const commands = [...main.matchAll(/^ {2}([a-z]+): \(\) => import\(/gm)].map((m) => m[1]!);
    assert.ok(commands.length >= 20, `commands found in main.ts: ${commands.join(', ')}`);
    assert.deepEqual(commands.filter((c) => !cases[c]), [], 'commands without bad-input cases');
    const all = commands.flatMap((c) => [...cases[c]!, [c, '--no-such-flag=1', 'x']]);
    all.push(['--root'], ['--frob'], ['build', 'ctx', '--target'], ['update', '--timeout'], ['prune', '--keep-storage']);

    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < all.length; i = next++) {
        const args = all[i]!;
        const r = await cli(args);
        const ok = args[0] === 'run' ? [1, 2, 3, 125] : [1, 2, 3];
        const why = [
          !ok.includes(r.code) && `exit ${r.code}`,
          /^\s+at /m.test(r.stderr) && 'a stack trace',
          /internal error/.test(r.stderr) && 'internal error',
          !r.stderr.startsWith('error: ') && 'stderr does not start with "error: "',
        ].filter(Boolean);
        if (why.length) failures.push(`stratum ${args.map((a) => JSON.stringify(a)).join(' ')}: ${why.join(', ')}\n${r.stderr.slice(0, 600)}`);
      }
    };
    // Three at a time: each is a Node process starting up.
    await Promise.all([worker(), worker(), worker()]);
    assert.deepEqual(failures, []);
  });
});
