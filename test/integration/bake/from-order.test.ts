/**
 * bake's order inferred from FROM, with the real engine (FROM scratch, no base image needed): a
 * target built FROM a tag another target of the bake produces waits for it and is built on the
 * image it just built, also when that image changed since the last bake; a cycle fails before
 * anything builds, naming the targets.
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
variable "TAG" { default = "1" }
group "default" { targets = ["app", "base"] }
target "base" {
  dockerfile-inline = "FROM scratch\\nCOPY base.txt /base.txt\\n"
  tags = ["localhost/from-order/base:\${TAG}"]
}
target "app" {
  args = { BASE = "localhost/from-order/base:\${TAG}" }
  dockerfile-inline = "ARG BASE=missing\\nFROM $\${BASE}\\nCOPY app.txt /app.txt\\n"
  output = ["type=local,dest=out"]
}
`;

let dir: string;
let root: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-from-'));
  root = path.join(dir, 'root');
  fs.writeFileSync(path.join(dir, 'base.txt'), 'base 1\n');
  fs.writeFileSync(path.join(dir, 'app.txt'), 'app\n');
  fs.writeFileSync(path.join(dir, 'docker-bake.hcl'), BAKE);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function stratum(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, '--root', root, ...args], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lastRun = (): BakeRun => {
  const id = fs.readFileSync(path.join(root, 'bake', 'last'), 'utf8').trim();
  return JSON.parse(fs.readFileSync(path.join(root, 'bake', id, 'run.json'), 'utf8')) as BakeRun;
};

test('bake: FROM a tag of another target waits for it and uses the image it just built', { timeout: 300_000 }, () => {
  for (const content of ['base 1\n', 'base 2\n']) {
    fs.writeFileSync(path.join(dir, 'base.txt'), content);
    fs.rmSync(path.join(dir, 'out'), { recursive: true, force: true });
    // -j 2: without the edge, app would start at once and fail (its base is not in the store yet) or take the old one
    const r = stratum(['bake', '-j', '2', '--progress', 'plain']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const by = new Map(lastRun().targets.map((t) => [t.name, t]));
    assert.deepEqual(by.get('app')!.deps, ['base']);
    assert.ok(by.get('base')!.end! <= by.get('app')!.start!, 'app started before base finished');
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'base.txt'), 'utf8'), content);
    assert.equal(fs.readFileSync(path.join(dir, 'out', 'app.txt'), 'utf8'), 'app\n');
  }
});

test('bake: a cycle through FROM images fails before any build, naming the targets', { timeout: 120_000 }, () => {
  fs.writeFileSync(
    path.join(dir, 'cycle.hcl'),
    `target "a" {
  dockerfile-inline = "FROM localhost/from-order/b:1\\n"
  tags = ["localhost/from-order/a:1"]
}
target "b" {
  dockerfile-inline = "FROM localhost/from-order/a:1\\n"
  tags = ["localhost/from-order/b:1"]
}
`,
  );
  const r = stratum(['bake', '-f', 'cycle.hcl', 'a', 'b']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /^[^\n]*cycle\.hcl:1[^\n]*dependency cycle through contexts and FROM images: a \(FROM localhost\/from-order\/b:1\) -> b \(FROM localhost\/from-order\/a:1\) -> a$/);
});
