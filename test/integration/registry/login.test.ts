/**
 * `stratum login` as a person meets it: asked for the user name and password on a real terminal (a pseudo-terminal
 * through script(1)), the password never shown; -p with docker's warning; without a terminal, one line.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, stratum as runCli } from '../../helpers/cli.js';
import { startRegistry, tempDir, type RegistryInstance } from './harness.js';

const MAIN = path.join(REPO_ROOT, 'src/cli/main.ts');
const TSX = import.meta.resolve('tsx');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Terminal {
  /** Resolves once the terminal has shown text matching `re` (after what earlier waits consumed). */
  waitFor(re: RegExp): Promise<void>;
  type(s: string): void;
  /** Everything the terminal showed, and the command's exit code. */
  done: Promise<{ code: number; screen: string }>;
}

/** Runs the CLI on a pseudo-terminal; keystrokes are sent only when asked, as a person would type them. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv): Terminal {
  const cmd = [process.execPath, '--import', TSX, MAIN, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let seen = 0;
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = w.re.exec(screen.slice(seen));
      if (m) {
        seen += m.index + m[0].length;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (c: Buffer) => {
    screen += c.toString();
    check();
  });
  child.stderr.on('data', (c: Buffer) => (screen += c.toString()));
  const done = new Promise<{ code: number; screen: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, screen })));
  return {
    waitFor: (re) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ re, resolve });
          check();
        }),
        done.then(({ screen: s }) => {
          throw new Error(`the command ended before showing ${re}:\n${s}`);
        }),
      ]),
    type: (s) => child.stdin.write(s),
    done: done.finally(() => child.stdin.end()),
  };
}

describe('login: prompts on a terminal, -p, and without a terminal', { timeout: 180_000 }, () => {
  let reg: RegistryInstance;
  let work: string;
  let env: NodeJS.ProcessEnv;
  const configFile = () => path.join(work, 'docker', 'config.json');
  const saved = async () => {
    const cfg = JSON.parse(await fs.readFile(configFile(), 'utf8')) as { auths: Record<string, { auth: string }> };
    return Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString();
  };

  before(async () => {
    work = await tempDir('stratum-login-');
    reg = await startRegistry({ users: { bob: 'hunter22', carol: 'pa55-w0rd' } });
    env = { DOCKER_CONFIG: path.join(work, 'docker'), STRATUM_ROOT: path.join(work, 'root'), STRATUM_INSECURE_REGISTRIES: reg.host };
  });
  after(async () => {
    await reg?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  test('asks for user name and password on a terminal; the password is not shown', async () => {
    const t = onTerminal(['login', reg.host], env);
    await t.waitFor(/Username: /);
    t.type('bob\r');
    await t.waitFor(/Password: /);
    t.type('hunter22\r');
    const { code, screen } = await t.done;
    assert.equal(code, 0, screen);
    assert.match(screen, /Username: bob\r\n/);
    assert.doesNotMatch(screen, /hunter22/);
    assert.match(screen, /Password: \r\n/);
    assert.match(screen, new RegExp(`login succeeded: ${reg.host}`));
    assert.equal(await saved(), 'bob:hunter22');
  });

  test('with --username only the password is asked for; a wrong one is one line, exit 1', async () => {
    const t = onTerminal(['login', '-u', 'carol', reg.host], env);
    await t.waitFor(/Password: /);
    t.type('not-it\r');
    const { code, screen } = await t.done;
    assert.equal(code, 1, screen);
    assert.doesNotMatch(screen, /Username|not-it/);
    assert.match(screen, new RegExp(`error: registry ${reg.host}: login refused: unauthorized \\(401\\): credentials rejected`));
    assert.equal(await saved(), 'bob:hunter22', 'the stored credentials are untouched');
  });

  test('Ctrl-C at the prompt cancels with 130 and saves nothing', async () => {
    const t = onTerminal(['login', '-u', 'carol', reg.host], env);
    await t.waitFor(/Password: /);
    t.type('pa55\x03');
    const { code, screen } = await t.done;
    assert.equal(code, 130, screen);
    assert.match(screen, /error: cancelled/);
    assert.equal(await saved(), 'bob:hunter22');
  });

  test('-p logs in, with docker\'s warning on stderr', async () => {
    const r = await runCli(['login', '-u', 'carol', '-p', 'pa55-w0rd', reg.host], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    assert.match(r.stdout, new RegExp(`^login succeeded: ${reg.host}`));
    assert.equal(await saved(), 'carol:pa55-w0rd');
    const both = await runCli(['login', '-u', 'carol', '-p', 'x', '--password-stdin', reg.host], { env, input: 'x' });
    assert.equal(both.code, 2);
    assert.equal(both.stderr, 'error: login: --password and --password-stdin exclude each other\n');
  });

  test('without a terminal and without a password: one line, exit 2, nothing asked', async () => {
    const noPass = await runCli(['login', '-u', 'bob', reg.host], { env });
    assert.equal(noPass.code, 2);
    assert.equal(noPass.stderr, 'error: login: no password given (pipe it with --password-stdin), and standard input is not a terminal to ask on\n');
    const noUser = await runCli(['login', reg.host], { env });
    assert.equal(noUser.code, 2);
    assert.equal(noUser.stderr, 'error: login: no user name given (--username), and standard input is not a terminal to ask on\n');
    const stdinNoUser = await runCli(['login', '--password-stdin', reg.host], { env, input: 'hunter22' });
    assert.equal(stdinNoUser.code, 2);
    assert.equal(stdinNoUser.stderr, 'error: login: --password-stdin needs --username\n');
  });
});
