import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildGraph, loadBake, planTarget } from '../../../src/bake/index.js';
import { fromEdges } from '../../../src/bake/infer.js';
import { SourceError } from '../../../src/util/errors.js';

async function load(hcl: string, files: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-infer-'));
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  const def = await loadBake([{ name: 'docker-bake.hcl', data: hcl }], { cwd: dir, env: {} });
  return { def, dir };
}

test('FROM a tag another target produces (after ARG expansion, tag defaults to latest) makes it a dependency', async () => {
  const { def, dir } = await load(
    `
target "base" {
  context = "base"
  tags = ["localhost/infer/base", "reg.example/base:2"]
}
target "app" {
  context = "app"
  args = { BASE = "localhost/infer/base:latest" }
}
target "tool" {
  dockerfile-inline = "FROM scratch AS s\\nCOPY --from=reg.example/base:2 /f /f\\n"
}
target "other" {
  dockerfile-inline = "FROM reg.example/base:3\\n"
}`,
    { 'base/Dockerfile': 'FROM scratch\n', 'app/Dockerfile': 'ARG BASE=nothing\nFROM ${BASE} AS build\nFROM build\n' },
  );
  try {
    const targets = Object.keys(def.targets);
    const edges = fromEdges(def, targets, dir);
    assert.deepEqual(edges, { app: [{ dep: 'base', ref: 'localhost/infer/base:latest' }], tool: [{ dep: 'base', ref: 'reg.example/base:2' }] });
    const g = buildGraph(def, targets, edges);
    assert.deepEqual(g.deps.app, ['base']);
    assert.ok(g.order.indexOf('base') < g.order.indexOf('app'));
    // the dependent gets the image the dependency built, as a named context under the name it uses
    const opts = planTarget(def, 'app', { cwd: dir, runId: 'r1', runDir: dir, env: {}, needed: new Set(['base']), fromDeps: edges });
    assert.deepEqual(opts.contexts, { 'localhost/infer/base:latest': { kind: 'docker-image', ref: 'localhost/infer/base' } });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('FROM inference: a context the target names itself wins; FROM its own tag is no edge', async () => {
  const { def, dir } = await load(`
target "base" {
  dockerfile-inline = "FROM localhost/infer/base:1\\n"
  tags = ["localhost/infer/base:1"]
}
target "app" {
  dockerfile-inline = "FROM localhost/infer/base:1\\n"
  contexts = { "localhost/infer/base:1" = "docker-image://localhost/other:1" }
}`);
  try {
    assert.deepEqual(fromEdges(def, Object.keys(def.targets), dir), {});
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('FROM inference: a cycle is an error naming the targets and the images', async () => {
  const { def, dir } = await load(`
target "a" {
  dockerfile-inline = "FROM localhost/infer/b:1\\n"
  tags = ["localhost/infer/a:1"]
}
target "b" {
  contexts = { x = "target:a" }
  dockerfile-inline = "FROM x\\n"
  tags = ["localhost/infer/b:1"]
}`);
  try {
    const targets = Object.keys(def.targets);
    assert.throws(
      () => buildGraph(def, targets, fromEdges(def, targets, dir)),
      (e: Error) => e instanceof SourceError && /dependency cycle through contexts and FROM images: a \(FROM localhost\/infer\/b:1\) -> b -> a$/.test(e.message) && !e.message.includes('\n'),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
