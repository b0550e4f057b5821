/**
 * `stratum bake` with the real engine on a 9-target diamond (FROM scratch + named contexts, so
 * no network or base image is needed): order, overlap, dependency images used as contexts,
 * a fully cached re-run, failure propagation, metadata, and the report command.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BakeRun } from '../../../src/bake/index.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/stratum.js');

const BAKE = `
variable "TAG" { default = "t1" }
target "_img" {
  labels = { "org.example.bake" = "yes" }
}
target "base" {
  inherits = ["_img"]
  dockerfile-inline = "FROM scratch\\nCOPY base.txt /base.txt\\n"
  tags = ["localhost/bakeit/base:\${TAG}"]
}
target "py" {
  inherits = ["_img"]
  contexts = { base = "target:base" }
  dockerfile-inline = "FROM base\\nCOPY py.txt /py.txt\\n"
}
target "tools" {
  inherits = ["_img"]
  contexts = { base = "target:base" }
  dockerfile-inline = "FROM base\\nCOPY tools.txt /tools.txt\\n"
}
target "svc" {
  inherits = ["_img"]
  name = "svc-\${s}"
  matrix = { s = ["a", "b"] }
  contexts = { py = "target:py" }
  dockerfile-inline = "FROM py\\nCOPY svc-\${s}.txt /svc.txt\\n"
}
target "svc-c" {
  inherits = ["_img"]
  contexts = { py = "target:py", tools = "target:tools" }
  dockerfile-inline = "FROM py\\nCOPY --from=tools /tools.txt /tools.txt\\nCOPY svc-c.txt /svc.txt\\n"
}
target "lint" {
  inherits = ["_img"]
  contexts = { tools = "target:tools" }
  dockerfile-inline = "FROM tools\\nCOPY lint.txt /lint.txt\\n"
}
target "bundle" {
  inherits = ["_img"]
  contexts = { a = "target:svc-a", b = "target:svc-b", c = "target:svc-c" }
  dockerfile-inline = "FROM a\\nCOPY --from=b /svc.txt /b.txt\\nCOPY --from=c /svc.txt /c.txt\\nCOPY --from=c /tools.txt /tools.txt\\nCOPY bundle.txt /bundle.txt\\n"
  tags = ["localhost/bakeit/bundle:\${TAG}"]
}
target "docs" {
  inherits = ["_img"]
  dockerfile-inline = "FROM scratch\\nCOPY docs.txt /docs.txt\\n"
}
group "default" { targets = ["bundle", "lint", "docs"] }
`;

const NAMES = ['base', 'py', 'tools', 'svc-a', 'svc-b', 'svc-c', 'lint', 'bundle', 'docs'];
let dir: string;
let root: string;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-it-'));
  root = path.join(dir, 'root');
  for (const n of NAMES) fs.writeFileSync(path.join(dir, `${n}.txt`), `${n} content\n`);
  fs.writeFileSync(path.join(dir, 'docker-bake.hcl'), BAKE);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function stratum(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, '--root', root, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lastRun = (): BakeRun => {
  const id = fs.readFileSync(path.join(root, 'bake', 'last'), 'utf8').trim();
  return JSON.parse(fs.readFileSync(path.join(root, 'bake', id, 'run.json'), 'utf8')) as BakeRun;
};

test('stratum bake builds the diamond in order, in parallel, and a re-run is fully cached', { timeout: 300_000 }, () => {
  const r = stratum(['bake', '-j', '2', '--progress', 'plain', '--metadata-file', 'meta.json', '--set', 'bundle.output=type=local,dest=out']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const run = lastRun();
  assert.equal(run.ok, true);
  assert.deepEqual(run.targets.map((t) => t.name).sort(), [...NAMES].sort());
  const by = new Map(run.targets.map((t) => [t.name, t]));
  for (const t of run.targets) {
    assert.equal(t.status, 'done');
    for (const d of t.deps) assert.ok(by.get(d)!.end! <= t.start!, `${t.name} started before ${d} finished`);
  }
  // independent targets ran at the same time (2 jobs), never more than 2 at once
  const ov = (a: string, b: string) => by.get(a)!.start! < by.get(b)!.end! && by.get(b)!.start! < by.get(a)!.end!;
  assert.ok(ov('py', 'tools') || ov('svc-a', 'svc-b') || ov('base', 'docs'), 'some independent targets overlapped');
  for (const t of run.targets) {
    const during = run.targets.filter((o) => o.start! <= t.start! && t.start! < o.end!);
    assert.ok(during.length <= 2, `${during.map((o) => o.name).join(',')} ran at once with -j 2`);
  }
  // the plain progress prefixes every line with its target
  assert.match(r.stderr, /^\d\d:\d\d:\d\d\.\d{3} \[bundle\] #4\/4 stage-0: COPY bundle\.txt \/bundle\.txt$/m);
  assert.match(r.stdout, /^bundle\s+ok\s+\S+\s+0\/4\s/m);

  // the bundle was built on its dependencies' images: every file of the chain is in it
  assert.deepEqual(fs.readdirSync(path.join(dir, 'out')).sort(), ['b.txt', 'base.txt', 'bundle.txt', 'c.txt', 'py.txt', 'svc.txt', 'tools.txt']);
  assert.equal(fs.readFileSync(path.join(dir, 'out', 'b.txt'), 'utf8'), 'svc-b content\n');
  assert.equal(fs.readFileSync(path.join(dir, 'out', 'svc.txt'), 'utf8'), 'svc-a content\n');

  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(meta).sort(), [...NAMES].sort());
  assert.equal(meta.bundle!['image.name'], 'localhost/bakeit/bundle:t1');
  assert.match(String(meta.bundle!['containerimage.digest']), /^sha256:[0-9a-f]{64}$/);
  assert.equal(meta.bundle!['containerimage.digest'], by.get('bundle')!.result!.manifestDigest);
  assert.equal(by.get('bundle')!.result!.layers.length, 7);
  assert.match(fs.readFileSync(by.get('svc-c')!.logFile, 'utf8'), /COPY --from=tools \/tools\.txt \/tools\.txt/);

  const again = stratum(['bake', '-j', '2', '--progress', 'json']);
  assert.equal(again.code, 0, again.stderr);
  const run2 = lastRun();
  assert.notEqual(run2.runId, run.runId);
  for (const t of run2.targets) {
    assert.equal(t.result!.stepsCached, t.result!.stepsTotal, `${t.name} fully cached`);
    assert.equal(t.result!.manifestDigest, by.get(t.name)!.result!.manifestDigest, `${t.name} reproduced`);
  }
  assert.equal(again.stdout, '', 'with --progress json everything goes to stderr');
  const events = again.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { kind: string });
  assert.ok(events.some((e) => e.kind === 'run-done'), 'json progress events on stderr');

  const rep = stratum(['report', '-o', 'report.html']);
  assert.equal(rep.code, 0, rep.stderr);
  const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
  assert.equal((html.match(/data-testid="graph-node"/g) ?? []).length, 9);
  assert.equal((html.match(/data-testid="step" [^>]*data-cached="true"/g) ?? []).length, run2.targets.reduce((a, t) => a + t.steps.length, 0));
});

test('a failing target skips its dependents; --keep-going builds the rest; exit code 1', { timeout: 300_000 }, () => {
  // buildx has no --set for dockerfile-inline, so a second file changes svc-b
  fs.writeFileSync(path.join(dir, 'fail.hcl'), 'target "svc-b" {\n  dockerfile-inline = "FROM py\\nCOPY missing.txt /\\n"\n}\n');
  const r = stratum(['bake', '-f', 'docker-bake.hcl', '-f', 'fail.hcl', '--keep-going', '--progress', 'plain']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error: bake failed: svc-b/);
  const st = Object.fromEntries(lastRun().targets.map((t) => [t.name, t.status]));
  assert.deepEqual(st, { base: 'done', py: 'done', tools: 'done', 'svc-a': 'done', 'svc-b': 'failed', 'svc-c': 'done', lint: 'done', bundle: 'skipped', docs: 'done' });
  assert.match(r.stdout, /svc-b failed: .*missing\.txt/);
});

test('bad input exits 2 with file and line', () => {
  const unknown = stratum(['bake', 'nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown target or group "nope" \(defined: /);
  fs.writeFileSync(path.join(dir, 'bad.hcl'), 'target "x" {\n  context = "./missing-dir"\n}\n');
  const missing = stratum(['bake', '-f', 'bad.hcl', 'x']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /bad\.hcl:1:1: target "x": context directory missing-dir does not exist/);
  const printed = stratum(['bake', '--print', 'lint']);
  assert.equal(printed.code, 0, printed.stderr);
  const view = JSON.parse(printed.stdout) as { group: Record<string, unknown>; target: Record<string, { contexts?: Record<string, string> }> };
  assert.deepEqual(Object.keys(view.target).sort(), ['base', 'lint', 'tools']);
  assert.deepEqual(view.target.lint!.contexts, { tools: 'target:tools' });
});
