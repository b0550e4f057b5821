import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBake, planTarget } from '../../../src/bake/index.js';
import { toBuildOptions } from '../../../src/cli/commands/build.js';

// Every attribute --print shows but the engine cannot carry out stops a build with an error naming it.
test('plan: attributes the engine cannot honour are refused by name, never dropped', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-plan-'));
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    fs.writeFileSync(path.join(dir, 'key'), 'k');
    const cases: [string, string][] = [
      ['annotations = ["a=1"]', 'annotations'],
      ['attest = ["type=sbom"]', 'attest'],
      ['ssh = ["default=key"]', 'ssh'],
      ['pull = true', 'pull'],
      ['network = "none"', 'network'],
      ['shm-size = "1g"', 'shm-size'],
      ['ulimits = ["nofile=1:2"]', 'ulimits'],
      ['resources = { memory = "1g" }', 'resources'],
      ['call = "check"', 'call'],
      ['entitlements = ["security.insecure"]', 'entitlements'],
      ['extra-hosts = { db = "10.0.0.1" }', 'extra-hosts'],
      ['platforms = ["linux/amd64", "linux/arm64"]', 'platforms'],
    ];
    const data = cases.map(([body], i) => `target "t${i}" {\n  ${body}\n}\n`).join('') + 'target "ok" {\n  pull = false\n  network = "default"\n  call = "build"\n  description = "fine"\n}\ntarget "outattr" {\n  output = ["type=image,compression=zstd"]\n}\ntarget "inline" {\n  cache-to = ["type=inline"]\n}\ntarget "caches" {\n  cache-from = ["r.example/c:1", "type=local,src=cdir"]\n  cache-to = ["type=registry,ref=r.example/c:1,mode=max"]\n}\n';
    const def = await loadBake([{ name: 'p.hcl', data }], { env: {}, cwd: dir });
    const ctx = { cwd: dir, runId: 'r', runDir: path.join(dir, 'run'), env: {}, needed: new Set<string>() };
    cases.forEach(([, attr], i) => {
      assert.throws(() => planTarget(def, `t${i}`, ctx), new RegExp(`p\\.hcl:\\d+:1: target "t${i}": attribute "${attr}" is not supported by the stratum engine`));
    });
    assert.doesNotThrow(() => planTarget(def, 'ok', ctx), 'defaults spelled out are fine');
    assert.throws(() => planTarget(def, 'outattr', ctx), /p\.hcl:\d+:1: target "outattr": output type=image: "compression" is not supported/);
    // Caches are read as --cache-from/--cache-to are; another type is refused by name.
    assert.throws(() => planTarget(def, 'inline', ctx), /target "inline": cache-to type=inline: cache type must be registry or local, not "inline"/);
    const caches = planTarget(def, 'caches', ctx);
    assert.deepEqual(caches.cacheFrom, [{ type: 'registry', ref: 'r.example/c:1' }, { type: 'local', dir: path.join(dir, 'cdir') }]);
    assert.deepEqual(caches.cacheTo, [{ type: 'registry', ref: 'r.example/c:1', mode: 'max' }]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// One parser behind both front doors: what a bake attribute and the equivalent build flag say is the same request.
test('plan: outputs, contexts, platforms and the epoch mean in bake what they mean to stratum build', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-plan-'));
  const digest = 'sha256:' + 'c'.repeat(64);
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    fs.mkdirSync(path.join(dir, 'layout'));
    const data = `target "t" {\n  tags = ["reg.example:5000/t:1"]\n  output = ["type=registry", "type=oci,dest=o.tar", "type=tar,dest=r.tar"]\n  contexts = { base = "oci-layout://layout@${digest}", img = "docker-image://alpine:3" }\n  platforms = ["linux/amd64"]\n}\n`;
    const def = await loadBake([{ name: 'p.hcl', data }], { env: {}, cwd: dir });
    const fromBake = planTarget(def, 't', { cwd: dir, runId: 'r', runDir: path.join(dir, 'run'), env: { SOURCE_DATE_EPOCH: '7' }, needed: new Set<string>() });
    const prev = { cwd: process.cwd(), epoch: process.env.SOURCE_DATE_EPOCH };
    process.chdir(dir);
    process.env.SOURCE_DATE_EPOCH = '7';
    try {
      const fromCli = toBuildOptions(dir, { progress: 'plain', cache: true, compression: 'gzip', pull: 'missing', tag: ['reg.example:5000/t:1'], output: ['type=registry', 'type=oci,dest=o.tar', 'type=tar,dest=r.tar'], buildContext: [`base=oci-layout://layout@${digest}`, 'img=docker-image://alpine:3'], platform: 'linux/amd64' }, undefined);
      for (const k of ['tags', 'push', 'platform', 'sourceDateEpoch'] as const) assert.deepEqual(fromBake[k], fromCli[k], k);
      assert.deepEqual(fromBake.outputs, fromCli.outputs!.map((o) => ({ ...o, dest: path.resolve(dir, o.dest) })));
      assert.deepEqual(fromBake.contexts?.base, { kind: 'oci-layout', path: path.join(dir, 'layout'), ref: digest });
      assert.deepEqual(fromCli.contexts?.base, { kind: 'oci-layout', path: 'layout', ref: digest });
      assert.deepEqual(fromBake.contexts?.img, fromCli.contexts?.img);
    } finally {
      process.chdir(prev.cwd);
      if (prev.epoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = prev.epoch;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
