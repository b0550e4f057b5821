import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createProgress,
  loadBake,
  loadRun,
  metadata,
  runBake,
  summaryTable,
  type BakeEvent,
  type BuildFn,
} from '../../../src/bake/index.js';
import type { BuildOptions, BuildResult } from '../../../src/solver/types.js';
import { SourceError } from '../../../src/util/errors.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-sched-'));
  fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** base → py, tools → svc-a, svc-b, svc-c → bundle; lint on tools; docs alone. 9 targets. */
const DIAMOND = `
target "base" {
  tags = ["reg.example/base:1"]
}
target "py" {
  contexts = { base = "target:base" }
}
target "tools" {
  contexts = { base = "target:base" }
}
target "svc-a" {
  contexts = { py = "target:py" }
}
target "svc-b" {
  contexts = { py = "target:py" }
}
target "svc-c" {
  contexts = { py = "target:py", tools = "target:tools" }
}
target "lint" {
  contexts = { tools = "target:tools" }
}
target "bundle" {
  contexts = { a = "target:svc-a", b = "target:svc-b", c = "target:svc-c" }
}
target "docs" {}
group "default" {
  targets = ["bundle", "lint", "docs"]
}
`;

interface Call {
  name: string;
  opts: BuildOptions;
  start: number;
  end?: number;
}

/** A real asynchronous build: takes time, reports steps, fails when told to; records what it saw. */
function recordingBuild(nameOf: (o: BuildOptions) => string, opts: { ms?: number; fail?: string[] } = {}) {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  const build: BuildFn = async (o) => {
    const name = nameOf(o);
    const call: Call = { name, opts: o, start: performance.now() };
    calls.push(call);
    active++;
    maxActive = Math.max(maxActive, active);
    try {
      const total = 3;
      for (let step = 1; step <= total; step++) {
        const t = Date.now();
        o.onProgress?.({ kind: 'step-start', stage: 'main', step, total, text: `RUN step ${step} of ${name}`, time: t });
        o.onProgress?.({ kind: 'step-log', stage: 'main', step, data: `output of ${name} ${step}\n`, time: Date.now() });
        await new Promise((r) => setTimeout(r, (opts.ms ?? 40) / total));
        if (step === 2 && opts.fail?.includes(name)) throw new Error(`RUN step 2 of ${name} exited with 1`);
        o.onProgress?.({ kind: 'step-done', stage: 'main', step, cached: step === 1, time: Date.now(), durationMs: Date.now() - t });
      }
      const result: BuildResult = {
        manifestDigest: `sha256:${Buffer.from(name).toString('hex').padEnd(64, '0')}`,
        configDigest: 'sha256:' + 'c'.repeat(64),
        size: 1000 * name.length,
        layers: [{ digest: 'sha256:' + 'a'.repeat(64), diffID: 'sha256:' + 'b'.repeat(64), size: 900, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', createdBy: `RUN build ${name}` }],
        tags: o.tags ?? [],
        stepsTotal: total,
        stepsCached: 1,
        durationMs: 0,
      };
      return result;
    } finally {
      call.end = performance.now();
      active--;
    }
  };
  return { build, calls, maxActive: () => maxActive };
}

// the test learns which target a call is for from its build-arg (the scheduler does not say)
const byArg = (o: BuildOptions) => o.buildArgs!.NAME!;
async function diamond(extraSet = '') {
  const def = await loadBake([{ name: 'docker-bake.hcl', data: DIAMOND + extraSet }], { env: {} });
  for (const [n, t] of Object.entries(def.targets)) t.args = { ...(t.args ?? {}), NAME: n };
  return def;
}

function assertOrder(calls: Call[], deps: Record<string, string[]>) {
  const byName = new Map(calls.map((c) => [c.name, c]));
  for (const c of calls) for (const d of deps[c.name] ?? []) assert.ok(byName.get(d)!.end! <= c.start, `${c.name} started before its dependency ${d} ended`);
}

const overlaps = (a: Call, b: Call) => a.start < b.end! && b.start < a.end!;

test('a 9-target diamond builds in dependency order, each target once, in parallel up to -j', async () => {
  const def = await diamond();
  const rec = recordingBuild(byArg, { ms: 60 });
  const events: BakeEvent[] = [];
  const stateDir = path.join(dir, 'state1');
  const run = await runBake(def, { build: rec.build, jobs: 3, cwd: dir, stateDir, runId: 'run-1', env: {}, onEvent: (e) => events.push(e) });
  assert.equal(run.ok, true);
  assert.deepEqual(rec.calls.map((c) => c.name).sort(), ['base', 'bundle', 'docs', 'lint', 'py', 'svc-a', 'svc-b', 'svc-c', 'tools']);
  assertOrder(rec.calls, Object.fromEntries(run.targets.map((t) => [t.name, t.deps])));
  assert.ok(rec.maxActive() <= 3, `at most 3 at once, saw ${rec.maxActive()}`);
  assert.equal(rec.maxActive(), 3, 'the graph is wide enough to keep 3 builds busy');
  const c = new Map(rec.calls.map((x) => [x.name, x]));
  assert.ok(overlaps(c.get('svc-a')!, c.get('svc-b')!) || overlaps(c.get('svc-a')!, c.get('svc-c')!), 'independent services overlapped in time');
  assert.ok(overlaps(c.get('py')!, c.get('tools')!), 'py and tools overlapped in time');

  // dependencies reach dependents as images: by first tag, or by an internal tag the dependency got
  assert.deepEqual(c.get('py')!.opts.contexts, { base: { kind: 'docker-image', ref: 'reg.example/base:1' } });
  assert.deepEqual(c.get('py')!.opts.tags, ['localhost/bake/py:run-1']);
  assert.deepEqual(c.get('svc-c')!.opts.contexts, {
    py: { kind: 'docker-image', ref: 'localhost/bake/py:run-1' },
    tools: { kind: 'docker-image', ref: 'localhost/bake/tools:run-1' },
  });
  assert.equal(c.get('docs')!.opts.tags, undefined, 'a target nobody depends on gets no internal tag');
  assert.equal(c.get('docs')!.opts.context, dir);
  assert.equal(c.get('docs')!.opts.dockerfile, path.join(dir, 'Dockerfile'));

  // records: steps with times, cached marks, logs, the saved run
  const bundle = run.targets.find((t) => t.name === 'bundle')!;
  assert.equal(bundle.steps.length, 3);
  assert.equal(bundle.steps[0]!.cached, true);
  assert.equal(bundle.steps[1]!.cached, false);
  assert.ok(bundle.steps.every((s) => s.end! >= s.start));
  const log = fs.readFileSync(bundle.logFile, 'utf8');
  assert.match(log, /\[main 2\/3\] RUN step 2 of bundle/);
  assert.match(log, /output of bundle 3/);
  assert.equal(bundle.logFile, path.join(stateDir, 'run-1', 'logs', 'bundle.log'));
  assert.deepEqual(loadRun(stateDir), JSON.parse(JSON.stringify(run)));
  assert.equal(events.filter((e) => e.kind === 'target-start').length, 9);

  const table = summaryTable(run);
  assert.match(table, /^TARGET\s+STATUS\s+TIME\s+CACHED\s+SIZE\s+LAYERS\s+DIGEST/);
  assert.match(table, /\nbundle\s+ok\s+[\d.]+s\s+1\/3\s+5\.9 KiB\s+1\s+62756e646c65\n/);
  const meta = metadata(run);
  assert.equal(meta.base!['containerimage.digest'], `sha256:${Buffer.from('base').toString('hex').padEnd(64, '0')}`);
  assert.equal(meta.base!['image.name'], 'reg.example/base:1');
  assert.equal(meta.py!['image.name'], 'localhost/bake/py:run-1');
});

test('-j 1 builds one target at a time, still in order', async () => {
  const def = await diamond();
  const rec = recordingBuild(byArg, { ms: 15 });
  const run = await runBake(def, { build: rec.build, jobs: 1, cwd: dir, stateDir: path.join(dir, 'state2'), env: {} });
  assert.equal(run.ok, true);
  assert.equal(rec.maxActive(), 1);
  assertOrder(rec.calls, Object.fromEntries(run.targets.map((t) => [t.name, t.deps])));
  for (let i = 1; i < rec.calls.length; i++) assert.ok(rec.calls[i]!.start >= rec.calls[i - 1]!.end!);
});

test('a failure skips its dependents; without --keep-going nothing new starts', async () => {
  const def = await diamond();
  const rec = recordingBuild(byArg, { ms: 30, fail: ['py'] });
  const run = await runBake(def, { build: rec.build, jobs: 1, cwd: dir, stateDir: path.join(dir, 'state3'), env: {} });
  assert.equal(run.ok, false);
  const st = Object.fromEntries(run.targets.map((t) => [t.name, t]));
  assert.equal(st.py!.status, 'failed');
  assert.match(st.py!.error!, /step 2 of py exited with 1/);
  for (const d of ['svc-a', 'svc-b', 'svc-c', 'bundle']) {
    assert.equal(st[d]!.status, 'skipped');
    assert.equal(st[d]!.reason, 'dependency py failed');
  }
  const pyEnd = rec.calls.find((c) => c.name === 'py')!.end!;
  assert.deepEqual(rec.calls.filter((c) => c.start >= pyEnd).map((c) => c.name), [], 'nothing started after the failure');
  const notStarted = run.targets.filter((t) => t.status === 'skipped' && t.reason?.startsWith('not started'));
  assert.ok(notStarted.length >= 1, 'independent targets are reported as not started');
  assert.ok(!rec.calls.some((c) => ['svc-a', 'svc-b', 'svc-c', 'bundle'].includes(c.name)));
  assert.match(summaryTable(run), /py failed: RUN step 2 of py exited with 1/);
});

test('--keep-going builds everything that does not depend on the failure', async () => {
  const def = await diamond();
  const rec = recordingBuild(byArg, { ms: 30, fail: ['py'] });
  const run = await runBake(def, { build: rec.build, jobs: 2, keepGoing: true, cwd: dir, stateDir: path.join(dir, 'state4'), env: {} });
  const st = Object.fromEntries(run.targets.map((t) => [t.name, t.status]));
  assert.deepEqual(st, { base: 'done', py: 'failed', tools: 'done', 'svc-a': 'skipped', 'svc-b': 'skipped', 'svc-c': 'skipped', lint: 'done', bundle: 'skipped', docs: 'done' });
  assert.equal(run.ok, false);
});

test('bad contexts are reported before anything builds', async () => {
  const rec = recordingBuild(byArg);
  const missing = await loadBake([{ name: 'f.hcl', data: 'target "a" {}\n\ntarget "b" {\n  context = "no/such/dir"\n}\ngroup "default" {\n  targets = ["a", "b"]\n}\n' }], { env: {} });
  await assert.rejects(runBake(missing, { build: rec.build, cwd: dir, stateDir: path.join(dir, 'state5'), env: {} }), (e: unknown) => e instanceof SourceError && e.line === 3 && /target "b": context directory no\/such\/dir does not exist/.test(e.message));
  // a cycle through target: contexts is found when the definition is resolved, as buildx finds it
  await assert.rejects(loadBake([{ name: 'c.hcl', data: 'target "a" {\n  contexts = { x = "target:b" }\n}\ntarget "b" {\n  contexts = { y = "target:a" }\n}\n' }], { env: {}, targets: ['a'] }), /infinite loop from b to a/);
  const ctx = await loadBake([{ name: 'd.hcl', data: 'target "a" {\n  contexts = { src = "./nope" }\n}\n' }], { env: {} });
  await assert.rejects(runBake(ctx, { targets: ['a'], build: rec.build, cwd: dir, stateDir: path.join(dir, 'state5'), env: {} }), /context "src": directory \.\/nope does not exist/);
  assert.equal(rec.calls.length, 0);
});

test('progress: plain lines carry time and target, json is one event per line, tty redraws', async () => {
  const def = await diamond();
  const chunks = { plain: [] as string[], json: [] as string[], tty: [] as string[] };
  const views = {
    plain: createProgress('plain', { write: (s: string) => chunks.plain.push(s) }),
    json: createProgress('json', { write: (s: string) => chunks.json.push(s) }),
    tty: createProgress('tty', { write: (s: string) => chunks.tty.push(s), isTTY: true, columns: 80 }),
  };
  const rec = recordingBuild(byArg, { ms: 300, fail: ['lint'] });
  await runBake(def, {
    build: rec.build,
    jobs: 4,
    keepGoing: true,
    cwd: dir,
    stateDir: path.join(dir, 'state6'),
    env: {},
    onEvent: (e) => Object.values(views).forEach((v) => v.onEvent(e)),
  });
  Object.values(views).forEach((v) => v.close());
  const plain = chunks.plain.join('').trimEnd().split('\n');
  for (const l of plain.slice(1, -1)) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} \[[a-z-]+\] /);
  assert.ok(plain.some((l) => /\[svc-b\] #2\/3 main: RUN step 2 of svc-b$/.test(l)));
  assert.ok(plain.some((l) => /\[svc-b\] #1 output of svc-b 1$/.test(l)));
  assert.ok(plain.some((l) => /\[lint\] FAILED in [\d.]+s: RUN step 2 of lint exited with 1/.test(l)));
  const json = chunks.json.join('').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; target?: string; event?: { kind: string } });
  assert.equal(json[0]!.kind, 'run-start');
  assert.equal(json.at(-1)!.kind, 'run-done');
  assert.ok(json.some((e) => e.kind === 'progress' && e.target === 'docs' && e.event!.kind === 'step-done'));
  const tty = chunks.tty.join('');
  const ESC = String.fromCharCode(27);
  assert.ok(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`).test(tty), 'redraws in place');
  assert.match(tty, /\[\+\] bake 9\/9/);
  assert.match(tty, /✔.*bundle/);
  assert.match(tty, /✘ lint/);
  assert.match(tty, /#\d\/3 RUN step \d of /, 'shows the running step');
});

test('plan: --push pushes tagged targets only; outputs, secrets and platforms map to the engine', async () => {
  const { planTarget } = await import('../../../src/bake/plan.js');
  fs.writeFileSync(path.join(dir, 'token'), 's3cret');
  const def = await loadBake(
    [
      {
        name: 'p.hcl',
        data: `
target "tagged" {
  tags = ["r.example/a:1"]
  platforms = ["linux/arm64/v8"]
  output = ["type=oci,dest=out.tar", { type = "local", dest = "rootfs" }, "type=cacheonly"]
  secret = ["id=tok,src=token", { env = "MY_ENV", id = "MY_ENV" }]
  no-cache-filter = ["build"]
}
target "plain" {}
target "pushy" {
  output = ["type=registry"]
}
target "multi" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "cached" {
  cache-from = ["type=registry,ref=r.example/cache"]
}`,
      },
    ],
    { env: { MY_ENV: 'from-env' }, cwd: dir },
  );
  const ctx = { cwd: dir, runId: 'r', runDir: path.join(dir, 'plan-run'), env: { MY_ENV: 'from-env' }, push: true, needed: new Set<string>() };
  const a = planTarget(def, 'tagged', ctx);
  assert.equal(a.push, true);
  assert.deepEqual(a.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(a.outputs, [
    { type: 'oci', dest: path.join(dir, 'out.tar'), tar: true },
    { type: 'local', dest: path.join(dir, 'rootfs') },
  ]);
  assert.equal(a.secrets!.tok, path.join(dir, 'token'));
  assert.equal(fs.readFileSync(a.secrets!.MY_ENV!, 'utf8'), 'from-env');
  assert.deepEqual(a.noCacheFilter, ['build']);
  assert.equal(planTarget(def, 'plain', ctx).push, undefined, 'an untagged target stays local under --push');
  assert.throws(() => planTarget(def, 'pushy', ctx), /p\.hcl:\d+:1: target "pushy": an output with push needs at least one tag/);
  // what --print shows but the engine cannot do is refused by name, not dropped
  assert.throws(() => planTarget(def, 'multi', ctx), /target "multi": attribute "platforms" is not supported by the stratum engine \(one platform per build/);
  assert.deepEqual(planTarget(def, 'cached', ctx).cacheFrom, [{ type: 'registry', ref: 'r.example/cache' }]);
});
