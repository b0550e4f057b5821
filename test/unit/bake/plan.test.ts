import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBake, planTarget } from '../../../src/bake/index.js';

// Every attribute --print shows but the engine cannot carry out stops a build with an error naming it.
test('plan: attributes the engine cannot honour are refused by name, never dropped', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-plan-'));
  try {
    fs.writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    fs.writeFileSync(path.join(dir, 'key'), 'k');
    const cases: [string, string][] = [
      ['annotations = ["a=1"]', 'annotations'],
      ['attest = ["type=sbom"]', 'attest'],
      ['cache-from = ["r/c"]', 'cache-from'],
      ['cache-to = ["type=inline"]', 'cache-to'],
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
    const data = cases.map(([body], i) => `target "t${i}" {\n  ${body}\n}\n`).join('') + 'target "ok" {\n  pull = false\n  network = "default"\n  call = "build"\n  description = "fine"\n}\ntarget "outattr" {\n  output = ["type=image,compression=zstd"]\n}\n';
    const def = await loadBake([{ name: 'p.hcl', data }], { env: {}, cwd: dir });
    const ctx = { cwd: dir, runId: 'r', runDir: path.join(dir, 'run'), env: {}, needed: new Set<string>() };
    cases.forEach(([, attr], i) => {
      assert.throws(() => planTarget(def, `t${i}`, ctx), new RegExp(`p\\.hcl:\\d+:1: target "t${i}": attribute "${attr}" is not supported by the stratum engine`));
    });
    assert.doesNotThrow(() => planTarget(def, 'ok', ctx), 'defaults spelled out are fine');
    assert.throws(() => planTarget(def, 'outattr', ctx), /output type=image: attribute "compression" is not supported/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
