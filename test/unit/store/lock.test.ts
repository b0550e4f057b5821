import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseDuration, parseSize, storeLock, tryExclusive } from '../../../src/store/index.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const dirs: string[] = [];
async function root(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'stratum-lock-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('storeLock', () => {
  it('lets shared holders in together and keeps the exclusive one out until they leave', async () => {
    const r = await root();
    const a = await storeLock(r, 'shared');
    const b = await storeLock(r, 'shared', { timeoutMs: 1000 });
    assert.equal(await tryExclusive(r), undefined);
    await assert.rejects(storeLock(r, 'exclusive', { timeoutMs: 200 }), /busy/);
    let got = false;
    const pending = storeLock(r, 'exclusive', { timeoutMs: 5000 }).then((rel) => {
      got = true;
      return rel;
    });
    await a();
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(got, false, 'exclusive taken while a shared holder remains');
    await b();
    const x = await pending;
    assert.ok(got);
    await assert.rejects(storeLock(r, 'shared', { timeoutMs: 200 }), /prune is running/);
    await x();
    const c = await storeLock(r, 'shared', { timeoutMs: 500 });
    await c();
    assert.deepEqual(await readdir(path.join(r, 'locks', 'store')), []);
  });

  it('ignores the holder files of a process killed with SIGKILL', async () => {
    const r = await root();
    const script = `import { storeLock } from ${JSON.stringify(path.join(REPO_ROOT, 'src/store/index.ts'))};
await storeLock(${JSON.stringify(r)}, 'shared'); console.log('held'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (c: Buffer) => c.toString().includes('held') && res());
      child.on('exit', () => rej(new Error('child exited early')));
      setTimeout(() => rej(new Error('child did not take the lock')), 15_000);
    });
    assert.equal(await tryExclusive(r), undefined, 'the live child holds the lock');
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    const rel = await storeLock(r, 'exclusive', { timeoutMs: 2000 });
    await rel();
  });
});

describe('size and duration parsing', () => {
  it('parses what prune accepts', () => {
    assert.equal(parseSize('10GB'), 10e9);
    assert.equal(parseSize('2GiB'), 2 * 1024 ** 3);
    assert.equal(parseSize('512m'), 512e6);
    assert.equal(parseSize('1000'), 1000);
    assert.throws(() => parseSize('ten'), /invalid size/);
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.throws(() => parseDuration('1x'), /invalid duration/);
    assert.throws(() => parseDuration('5'), /invalid duration/);
  });
});
