import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseDockerfile, planStages, ShellExpansionError, ShellLex, toCommands } from '../../../src/frontend/index.js';
import { dryRun } from '../../../src/solver/dryrun.js';
import { checkImageConfig, checkIndex, checkManifest } from '../../../src/store/validate.js';
import { StratumError } from '../../../src/util/errors.js';
import { generateDockerfile, rng } from '../../helpers/fuzz.js';

/*
 * Seeded mutation fuzzing of what users and images hand the engine: Dockerfile text (parser, commands, stage
 * plan, word expansion) and image documents (config, manifest, index readers). Any error other than the ones
 * meant for users — a TypeError, a RangeError, a stack overflow — fails the test with the input that caused it.
 * The seed is fixed so a failure reproduces; FUZZ_SEED and FUZZ_MS explore further.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const BUDGET_MS = Number(process.env.FUZZ_MS ?? 6000);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const SPECIAL = ['"', "'", '\\', '$', '{', '}', '${', ':-', ':?', ':+', '${A:?', '${Z?', '#', '%%', '//', '\n', '<<EOF\n', '<<-"EOF"\n', 'EOF\n', '#', '=', '`', ' ', '\t', '[', ']', '--mount=', '--from=', 'ARG ', 'FROM ', ' AS ', '\0', 'é', '\u{1F600}'];

function mutate(text: string, r: () => number): string {
  let s = text;
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * (s.length + 1));
    const op = Math.floor(r() * 6);
    if (op === 0) s = s.slice(0, at) + SPECIAL[Math.floor(r() * SPECIAL.length)] + s.slice(at);
    else if (op === 1) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 8));
    else if (op === 2) s = s.slice(0, at);
    else if (op === 3) {
      const lines = s.split('\n');
      const i = Math.floor(r() * lines.length);
      lines.splice(Math.floor(r() * lines.length), 0, lines[i] ?? '');
      s = lines.join('\n');
    } else if (op === 4) s = s.slice(0, at) + String.fromCharCode(32 + Math.floor(r() * 95)) + s.slice(at);
    else s = s.slice(0, at) + s.slice(at).toUpperCase();
  }
  return s;
}

function seedDockerfiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'Dockerfile') out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  for (const d of ['images', 'examples']) walk(path.join(repoRoot, d));
  out.push(
    'ARG A=1\nFROM scratch AS base\nARG B=${A:-x}\nENV C="$B" D=\'lit\'\nLABEL "k"="v" x=${C%1}\nCOPY --from=base --chmod=644 a b/\n',
    'FROM alpine\nRUN --mount=type=cache,target=/c,id=${X} <<EOF bash\necho ${Y//a/b}\nEOF\nWORKDIR ${D:+/d}\nUSER ${U:?no}\n',
  );
  return out;
}

function isUserError(e: unknown): boolean {
  return e instanceof StratumError || e instanceof ShellExpansionError;
}

test('fuzz: mutated Dockerfiles give user errors or plans, never a crash', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-fuzz-'));
  const r = rng(SEED);
  const seeds = seedDockerfiles();
  const lex = new ShellLex('\\');
  const env = { A: 'a', B: 'x'.repeat(64), C: '' };
  const deadline = Date.now() + BUDGET_MS;
  let runs = 0;
  while (Date.now() < deadline) {
    const input = runs % 2 ? generateDockerfile(r) : mutate(seeds[Math.floor(r() * seeds.length)]!, r);
    runs++;
    try {
      const df = parseDockerfile(input, 'Dockerfile');
      const commands = toCommands(df);
      planStages(df, { buildArgs: { A: 'z' } });
      // What --dry-run does with it: every ARG and ENV resolved, every instruction expanded.
      await dryRun({ root, context: root, dockerfileInline: input, buildArgs: { A: 'z' } });
      for (const c of commands) {
        for (const word of c.ins.args.split(/\s+/)) {
          try {
            lex.expandWord(word, env);
          } catch (e) {
            if (!(e instanceof ShellExpansionError)) throw e;
          }
        }
      }
    } catch (e) {
      // Past the lexer, an expansion error must have become a user error naming the line.
      if (!(e instanceof StratumError)) assert.fail(`input ${JSON.stringify(input)} crashed: ${(e as Error).stack}`);
    }
  }
  fs.rmSync(root, { recursive: true, force: true });
  t.diagnostic(`${runs} mutated Dockerfiles, seed ${SEED}`);
  assert.ok(runs > 200, `only ${runs} inputs in ${BUDGET_MS} ms`);
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function randomValue(r: () => number, depth = 0): Json {
  const k = Math.floor(r() * (depth > 2 ? 5 : 7));
  if (k === 0) return null;
  if (k === 1) return r() < 0.5;
  if (k === 2) return Math.floor(r() * 2 ** 40) * (r() < 0.2 ? -1 : 1);
  if (k === 3) return ['', 'sha256:' + 'a'.repeat(64), 'layers', 'linux', 'x'][Math.floor(r() * 5)]!;
  if (k === 4) return 1.5;
  if (k === 5) return Array.from({ length: Math.floor(r() * 3) }, () => randomValue(r, depth + 1));
  return Object.fromEntries(Array.from({ length: Math.floor(r() * 3) }, (_, i) => [`k${i}`, randomValue(r, depth + 1)]));
}

/** Replaces or deletes one value somewhere in the document. */
function mutateJson(doc: Json, r: () => number): Json {
  if (doc === null || typeof doc !== 'object' || r() < 0.25) return randomValue(r);
  const copy: Json = Array.isArray(doc) ? [...doc] : { ...doc };
  const keys = Object.keys(copy);
  if (keys.length === 0) return randomValue(r);
  const key = keys[Math.floor(r() * keys.length)]!;
  const rec = copy as Record<string, Json>;
  if (r() < 0.2 && !Array.isArray(copy)) delete rec[key];
  else rec[key] = mutateJson(rec[key]!, r);
  return copy;
}

test('fuzz: mutated image configs, manifests and indexes are accepted whole or refused with a user error', () => {
  const r = rng(SEED + 1);
  const digest = 'sha256:' + 'b'.repeat(64);
  const desc = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 10 };
  const docs: [Json, (d: unknown, w: string) => unknown][] = [
    [{ architecture: 'amd64', os: 'linux', config: { Env: ['A=1'], Cmd: ['sh'], User: 'u', Labels: { a: 'b' }, OnBuild: null }, rootfs: { type: 'layers', diff_ids: [digest] }, history: [{ created_by: 'x' }] }, checkImageConfig],
    [{ schemaVersion: 2, config: desc, layers: [desc, desc] }, checkManifest],
    [{ schemaVersion: 2, manifests: [{ ...desc, platform: { os: 'linux', architecture: 'amd64' } }] }, checkIndex],
  ];
  const deadline = Date.now() + BUDGET_MS / 2;
  let runs = 0;
  while (Date.now() < deadline) {
    const [doc, check] = docs[runs % docs.length]!;
    const input = mutateJson(mutateJson(doc, r), r);
    runs++;
    let accepted: unknown;
    try {
      accepted = check(input, 'fuzzed');
    } catch (e) {
      if (!isUserError(e)) assert.fail(`${JSON.stringify(input)} crashed the reader: ${(e as Error).stack}`);
      continue;
    }
    // What is accepted must hold up where the engine reads it.
    const a = accepted as { config?: { Env?: string[] | null; Labels?: Record<string, string> }; rootfs?: { diff_ids: string[] }; layers?: { digest: string }[]; manifests?: { digest: string }[] };
    const used: unknown[] = [];
    for (const kv of a.config?.Env ?? []) used.push(kv.indexOf('='));
    for (const [k, v] of Object.entries(a.config?.Labels ?? {})) used.push(`${k}=${v.length}`);
    for (const d of a.rootfs?.diff_ids ?? []) used.push(d.slice(7));
    for (const l of a.layers ?? a.manifests ?? []) used.push(l.digest.slice(7));
  }
  assert.ok(runs > 200, `only ${runs} documents`);
});
