/**
 * The support table (src/frontend/support.ts) against the code it describes, and README's
 * generated table against the support table: a flag, mount option, build option or bake
 * attribute added or removed in one place and not the other fails here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { ALLOWED_FLAGS, parseDockerfile, planStages } from '../../../src/frontend/index.js';
import { parseMount } from '../../../src/frontend/mount.js';
import { BAKE_ATTRIBUTES, BUILD_FLAGS, INSTRUCTION_FLAGS, MOUNT_OPTIONS, supportRows } from '../../../src/frontend/support.js';
import { TARGET_ATTRS } from '../../../src/bake/target.js';
import { loadBake } from '../../../src/bake/index.js';
import { register as registerBuild } from '../../../src/cli/commands/build.js';
import { withSupportTable } from '../../../scripts/support-table.js';
import { REPO_ROOT } from '../../helpers/cli.js';

const sorted = (xs: Iterable<string>) => [...xs].sort();
const supported = (m: Record<string, { status: string }>) => Object.keys(m).filter((k) => m[k]!.status === 'supported');

test('support table: every entry is supported or refused, nothing accepted-and-ignored', () => {
  for (const r of supportRows()) assert.ok(r.status === 'supported' || r.status === 'refused', `${r.kind} ${r.name}: status ${r.status}`);
  for (const r of supportRows()) if (r.status === 'refused') assert.ok(r.note, `${r.kind} ${r.name}: a refusal says why`);
});

test('support table: README shows exactly the generated table (npx tsx scripts/support-table.ts)', () => {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  assert.equal(withSupportTable(readme), readme, 'README.md is out of date with src/frontend/support.ts: run npx tsx scripts/support-table.ts');
});

test('support table: instruction flags are those the parser takes; a refused one the parser still takes is refused by it', () => {
  for (const [ins, flags] of Object.entries(ALLOWED_FLAGS)) {
    assert.ok(INSTRUCTION_FLAGS[ins], `${ins} takes flags but the support table has no ${ins}`);
    for (const f of Object.keys(flags)) assert.ok(INSTRUCTION_FLAGS[ins]![f], `${ins} --${f} is parsed but missing from the support table`);
  }
  for (const [ins, flags] of Object.entries(INSTRUCTION_FLAGS)) {
    for (const f of supported(flags)) assert.ok(ALLOWED_FLAGS[ins]?.[f], `${ins} --${f} is "supported" but the parser does not take it`);
    for (const [f, s] of Object.entries(flags)) {
      if (s.status !== 'refused' || ALLOWED_FLAGS[ins]?.[f]) continue;
      const text = ins === 'FROM' ? `FROM --${f}=x scratch\n` : `FROM scratch\n${ins} --${f}=x a b\n`;
      assert.throws(() => planStages(parseDockerfile(text), { buildArgs: {} }), new RegExp(`--${f}`), `${ins} --${f} is "refused": the error names it`);
    }
  }
});

test('support table: RUN mount options are those the mount parser reads, and each supported one parses', () => {
  // the option names parseMount's switch reads (aliases map to the names BuildKit documents)
  const src = fs.readFileSync(path.join(REPO_ROOT, 'src/frontend/mount.ts'), 'utf8');
  const body = src.slice(src.indexOf('export function parseMount'), src.indexOf('function splitKV'));
  const keys = new Set([...body.matchAll(/case '([a-z-]+)':/g)].map((m) => m[1]!));
  const alias: Record<string, string> = { src: 'source', dst: 'target', destination: 'target', ro: 'readonly', rw: 'readonly', readwrite: 'readonly', type: 'type' };
  const types = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);
  const inTable = new Set(Object.values(MOUNT_OPTIONS).flatMap((o) => Object.keys(o)));
  for (const k of keys) {
    if (types.has(k) || k === 'type') continue;
    assert.ok(inTable.has(alias[k] ?? k), `mount option ${k} is parsed but missing from the support table`);
  }
  assert.deepEqual(sorted(Object.keys(MOUNT_OPTIONS)), sorted(types));
  const sample: Record<string, string> = { target: '/t', source: 'x', from: 'stage', readonly: 'true', id: 'i', sharing: 'locked', mode: '0700', uid: '1', gid: '1', size: '1m', env: 'E', required: 'true' };
  for (const [type, opts] of Object.entries(MOUNT_OPTIONS)) {
    for (const o of supported(opts)) {
      const value = `type=${type},${o}=${sample[o] ?? 'x'}${o === 'target' ? '' : ',target=/t'}`;
      assert.doesNotThrow(() => parseMount(value, { file: 'Dockerfile', line: 1 }), `--mount=${value} is "supported"`);
    }
  }
});

test('support table: build flags are the build command\'s options', () => {
  const program = new Command();
  registerBuild(program);
  const build = program.commands.find((c) => c.name() === 'build')!;
  // commander names --no-cache-filter's option "no-cache-filter" and --no-cache's "no-cache"
  const flags = build.options.map((o) => o.long!.replace(/^--/, ''));
  for (const f of flags) assert.ok(BUILD_FLAGS[f], `build --${f} exists but is missing from the support table`);
  for (const f of supported(BUILD_FLAGS)) assert.ok(flags.includes(f), `build --${f} is "supported" but the command has no such option`);
  for (const [f, s] of Object.entries(BUILD_FLAGS)) if (s.status === 'refused') assert.ok(!flags.includes(f), `build --${f} is "refused" but the command takes it (say how it refuses, or mark it supported)`);
});

test('support table: bake attributes are those bake reads; refused ones stop the build naming them', async () => {
  assert.deepEqual(sorted(Object.keys(BAKE_ATTRIBUTES).filter((a) => a !== 'policy')), sorted(Object.keys(TARGET_ATTRS)));
  const plan = fs.readFileSync(path.join(REPO_ROOT, 'src/bake/plan.ts'), 'utf8');
  for (const [a, s] of Object.entries(BAKE_ATTRIBUTES)) if (s.status === 'refused' && a !== 'policy') assert.ok(plan.includes(`refuse('${a}'`), `bake attribute ${a} is "refused" but src/bake/plan.ts does not refuse it`);
  await assert.rejects(loadBake([{ name: 'b.hcl', data: 'target "a" {\n  policy = []\n}\n' }], { env: {} }), /policy/);
});
