/**
 * The README's five-minute walk-through, run exactly as written (the first `sh` block under its heading) in a
 * fresh store: what it promises a reader to see, the test sees.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers/cli.js';
import { portFree } from '../../helpers/net.js';

function walkthrough(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('## A five-minute walk-through');
  assert.ok(at >= 0, 'the README has its walk-through');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block, 'the walk-through has a sh block');
  return block[1]!;
}

test('the README walk-through runs as written', { timeout: 15 * 60_000 }, async () => {
  const script = walkthrough();
  assert.ok(await portFree(5000), 'the walk-through serves a registry on 127.0.0.1:5000: something else listens there');
  const root = await mkdtemp(path.join(os.tmpdir(), 'stratum-walk-'));
  // Its own process group, so the registry it starts in the background goes with it whatever happens.
  const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, STRATUM_ROOT: root, TERM: 'dumb' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone: the script's `kill %1` stopped the registry
  }
  try {
    assert.equal(code, 0, out.slice(-4000));
    // 2 and 3: built in two stages, the service runs as its user.
    assert.match(out, /^tagged localhost\/hello:1$/m);
    assert.match(out, /^hello from app on Debian GNU\/Linux 12 \(bookworm\)$/m);
    // 4: the registry serves what was pushed.
    assert.match(out, /"Digest": "sha256:[0-9a-f]{64}"/);
    assert.match(out, /"Architecture": "amd64"/);
    // 5: hello was built before greeter, from the same steps as in 2 (cached), and both pushed.
    assert.match(out, /^hello\s+ok\s+\S+\s+3\/3\s/m);
    assert.match(out, /^greeter\s+ok\s/m);
    assert.match(out, /^greeter pushed 127\.0\.0\.1:5000\/greeter:2@sha256:[0-9a-f]{64}$/m);
    assert.match(out, /^hello from app on Debian GNU\/Linux 12 \(bookworm\)\nand goodbye$/m);
    // 6: the report was written where it says.
    const report = /^(\/\S+\/report\.html)$/m.exec(out);
    assert.ok(report && existsSync(report[1]!), `report.html written:\n${out.slice(-2000)}`);
    assert.match(readFileSync(report[1]!, 'utf8'), /greeter/);
    await rm(path.dirname(report[1]!), { recursive: true, force: true });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
