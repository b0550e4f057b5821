import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { checkStore, storeUsage } from '../../../src/store/index.js';
import { prune, recoverStore } from '../../../src/solver/maintenance.js';
import { run } from '../../../src/util/exec.js';
import { register as registerDu } from '../../../src/cli/commands/du.js';
import { register as registerPrune } from '../../../src/cli/commands/prune.js';
import { register as registerStore } from '../../../src/cli/commands/store.js';
import { REPO_ROOT, stratum } from '../../helpers/cli.js';
import { BASE, makeStore, readOut, runBuild, writeTree } from './harness.js';

let root: string;
let work: string;
let cleanup: () => Promise<void>;

before(async () => {
  ({ root, work, cleanup } = await makeStore('cache-store'));
});
after(async () => {
  await cleanup();
});

async function ctxWith(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(work, name);
  await writeTree(dir, files);
  return dir;
}

async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(dir + '/'));
}

async function runcIds(): Promise<string[]> {
  const r = await run('runc', ['list', '-q'], { check: false });
  return r.stdout.split('\n').filter(Boolean);
}

/** Runs the CLI's commands registered on a bare program (main.ts wiring is not needed to test them). */
async function cli(args: string[]): Promise<{ out: string; error?: Error }> {
  const program = new Command().option('--root <dir>').exitOverride();
  registerDu(program);
  registerPrune(program);
  registerStore(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((c: string | Uint8Array) => {
    out += c.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(['--root', root, ...args], { from: 'user' });
    return { out };
  } catch (e) {
    return { out, error: e as Error };
  } finally {
    process.stdout.write = write;
  }
}

describe('store care', { timeout: 240_000 }, () => {
  it('two concurrent CLI builds of different Dockerfiles share one store', async () => {
    const a = await ctxWith('conc-a', { Dockerfile: `FROM ${BASE}\nRUN echo conc-a > /a && sleep 1\nCOPY f /f\n`, f: 'fa\n' });
    const b = await ctxWith('conc-b', { Dockerfile: `FROM ${BASE}\nRUN echo conc-b > /b && sleep 1\nCOPY f /f\n`, f: 'fb\n' });
    const [ra, rb] = await Promise.all([
      stratum(['build', '-q', '-t', 'localhost/conc:a', a], { root }),
      stratum(['build', '-q', '-t', 'localhost/conc:b', b], { root }),
    ]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.deepEqual(await checkStore(root), []);
    const check = await cli(['store', 'check']);
    assert.equal(check.error, undefined);
    assert.match(check.out, /: ok/);
  });

  it('a build killed with SIGKILL mid-RUN leaves a sound store; the next build is correct', async () => {
    const ctx = await ctxWith('killed', {
      Dockerfile: `FROM ${BASE}\nRUN echo killed-before > /before\nRUN echo sleeping-now && sleep 4 && echo slept > /slept\nCOPY f /f\n`,
      f: 'file\n',
    });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), '--root', root, 'build', '--progress', 'plain', ctx], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the build never reached the sleep:\n${log}`)), 60_000);
      child.stderr.on('data', (c: Buffer) => {
        log += c.toString();
        if (/#\S+ sleeping-now/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', () => reject(new Error(`the build ended early:\n${log}`)));
    });
    child.removeAllListeners('exit');
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    assert.ok((await mountsUnder(path.join(root, 'tmp'))).length > 0, 'the killed build left its overlay mounted (else this test proves little)');

    assert.deepEqual(await checkStore(root), [], 'nothing half-made is visible');
    const out = path.join(work, 'out-killed');
    const next = await runBuild({ root, context: ctx, outputs: [{ type: 'local', dest: out }] });
    assert.deepEqual(next.cached, ['RUN echo killed-before > /before']);
    assert.deepEqual(next.ran, ['RUN echo sleeping-now && sleep 4 && echo slept > /slept', 'COPY f /f']);
    assert.equal(await readOut(out, 'slept'), 'slept\n');
    assert.equal(await readOut(out, 'f'), 'file\n');
    assert.deepEqual(await checkStore(root), []);

    // With no build running, recovery clears the leftovers: the mount, the runc container, the staging dir.
    const bundles = (await readdir(path.join(root, 'tmp', 'bundles')).catch(() => [] as string[])).filter((n) => n.startsWith('stratum-'));
    assert.ok(await recoverStore(root));
    await prune(root, { dryRun: true }); // prune's sweep is the same code; dry run must not fail on a clean tmp
    const report = await prune(root, { keepBytes: Number.MAX_SAFE_INTEGER });
    assert.equal(report.snapshots, 0);
    assert.deepEqual(await mountsUnder(path.join(root, 'tmp')), []);
    const live = await runcIds();
    for (const id of bundles) assert.ok(!live.includes(id), `container ${id} still exists`);
  });

  it('prune keeps what tagged images need, removes the rest, and leaves a sound store', async () => {
    const tagged = await ctxWith('prune-tagged', { Dockerfile: `FROM ${BASE}\nRUN echo prune-tagged > /t\nCOPY f /f\n`, f: 'tagged\n' });
    const loose = await ctxWith('prune-loose', { Dockerfile: `FROM ${BASE}\nRUN echo prune-loose > /l\nCOPY f /f\n`, f: 'loose\n' });
    const t = await runBuild({ root, context: tagged, tags: ['localhost/prune:tagged'] });
    await runBuild({ root, context: loose });

    const before = await storeUsage(root);
    const du = await cli(['du', '--json']);
    assert.equal(du.error, undefined);
    const kinds = (JSON.parse(du.out) as { entries: { kind: string }[] }).entries.map((e) => e.kind);
    assert.deepEqual(kinds, ['blobs', 'snapshots', 'cache-records', 'cache-mounts', 'sources', 'tmp']);

    // until= filter: everything is younger than a day, so nothing goes.
    const young = await prune(root, { olderThanMs: 86_400_000 });
    assert.equal(young.snapshots + young.cacheRecords + young.blobs, 0);

    const r = await cli(['prune', '--json']);
    assert.equal(r.error, undefined, r.error?.message);
    const report = JSON.parse(r.out) as { snapshots: number; cacheRecords: number; blobs: number };
    assert.ok(report.snapshots >= 2, `expected the loose build's snapshots to go: ${r.out}`);
    assert.ok(report.cacheRecords >= 2);
    assert.deepEqual(await checkStore(root), []);
    // The gzip member index only names blobs that are still there.
    const members = (await readdir(path.join(root, 'gzip-members'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    assert.ok(members.length > 0, 'layers were written, so members were indexed');
    for (const m of members) {
      const digest = (await readFile(path.join(m.parentPath, m.name), 'utf8')).split(' ')[0]!;
      await access(path.join(root, 'blobs', 'sha256', digest.slice(7)));
    }
    const after = await storeUsage(root);
    const snaps = (u: typeof before) => u.entries.find((e) => e.kind === 'snapshots')!;
    assert.ok(snaps(after).count < snaps(before).count);
    for (const l of t.result.layers) await access(path.join(root, 'blobs', 'sha256', l.digest.slice(7)));

    assert.deepEqual((await runBuild({ root, context: tagged, tags: ['localhost/prune:tagged'] })).ran, [], 'the tagged image is still cached');
    assert.equal((await runBuild({ root, context: loose })).ran.length, 2, 'the untagged build was pruned');

    // --all drops even the tagged image's cache, but never its blobs.
    const all = await prune(root, { all: true });
    assert.ok(all.snapshots > 0);
    assert.deepEqual(await checkStore(root), []);
    for (const l of t.result.layers) await access(path.join(root, 'blobs', 'sha256', l.digest.slice(7)));
    const again = await runBuild({ root, context: tagged, tags: ['localhost/prune:tagged'] });
    assert.equal(again.ran.length, 2);
    assert.equal(again.result.manifestDigest, t.result.manifestDigest, 'the rebuilt image is the same image');
  });

  it('store check finds a corrupt blob, a broken snapshot and a dangling record', async () => {
    const ctx = await ctxWith('corrupt', { Dockerfile: `FROM ${BASE}\nRUN echo corrupt > /c\n` });
    const r = await runBuild({ root, context: ctx, tags: ['localhost/corrupt:1'] });
    const layer = r.result.layers.at(-1)!;
    await writeFile(path.join(root, 'blobs', 'sha256', layer.digest.slice(7)), 'garbage');
    const snapDir = path.join(root, 'snapshots');
    const ids = (await readdir(snapDir)).filter((n) => /^[0-9a-f]{12}$/.test(n));
    const victim = ids[0]!;
    await writeFile(path.join(snapDir, victim, 'meta.json'), '{');
    const key = 'ab'.repeat(32);
    await mkdir(path.join(root, 'cache', 'ab'), { recursive: true });
    await writeFile(path.join(root, 'cache', 'ab', `${key}.json`), JSON.stringify({ key: `sha256:${key}`, snapshot: '0123456789ab', created: new Date().toISOString(), createdBy: 'x' }));
    const check = await cli(['store', 'check']);
    assert.ok(check.error, 'store check must fail');
    assert.match(check.out, new RegExp(`blob ${layer.digest}: content hashes to`));
    assert.match(check.out, new RegExp(`snapshot ${victim}: meta.json`));
    assert.match(check.out, new RegExp(`cache-record cache/ab/${key}.json: points at snapshot 0123456789ab`));
  });
});
