#!/usr/bin/env node
/* global require, __dirname, process */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose, see below */
'use strict';
// Runs the bundled CLI (dist/cli/stratum.cjs, made by npm run build) when every file it was built from is
// unchanged on disk, else the TypeScript sources through tsx: a stale build never runs in a checkout. The bundle
// lists its inputs with their mtime and size (dist/cli/inputs.json), so the check is a couple of hundred stats,
// not a walk of src/.
//
// The bundle is compiled with a V8 code cache kept beside it, one per command, written by that command's first
// run: later runs skip parsing and compiling, which was most of what a no-op `stratum build` spent.
// This file is CommonJS (bin/package.json), so Node starts it without setting up its ESM loader.
//
// STRATUM_CLI=dist insists on the bundle (exit 3 when it is missing or stale); STRATUM_CLI=src runs the sources.
const fs = require('node:fs');
const path = require('node:path');

const root = path.dirname(__dirname);
const dist = `${root}/dist/cli`;

/** The bundle's content hash when it can run, else why not. */
function bundleState() {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(`${dist}/inputs.json`, 'utf8'));
  } catch {
    return { problem: 'no bundle (run npm run build)' };
  }
  if (typeof stamp?.hash !== 'string' || typeof stamp.inputs !== 'object' || !fs.existsSync(`${dist}/stratum.cjs`)) {
    return { problem: 'dist/cli is incomplete (run npm run build)' };
  }
  // Installed without its sources, the bundle is all there is.
  if (fs.existsSync(`${root}/src`)) {
    for (const rel of Object.keys(stamp.inputs)) {
      const [mtimeMs, size] = stamp.inputs[rel];
      const st = fs.statSync(`${root}/${rel}`, { throwIfNoEntry: false });
      if (!st || st.mtimeMs !== mtimeMs || st.size !== size) return { problem: `${rel} changed since npm run build` };
    }
  }
  return { hash: stamp.hash };
}

/** The subcommand, as src/cli/main.ts finds it: each gets its own code cache. */
function commandName(argv) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') i++;
    else if (!argv[i].startsWith('-')) return /^[a-z]+$/.test(argv[i]) ? argv[i] : 'other';
  }
  return 'other';
}

/** 32-bit FNV-1a, hex: enough to tell runtimes apart in a file name, without loading node:crypto. */
function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

function runBundle(hash) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const file = `${dist}/stratum.cjs`;
  // Named by the bundle's hash, so a process still running an older bundle never hands its cache to a newer
  // one; and by what V8 checks a cache against besides the source (its version and flags), so runs under another
  // Node or with --cpu-prof keep caches of their own instead of rejecting and rewriting one another's.
  const runtime = `${process.version}${process.execArgv.join(' ')}${process.env.NODE_OPTIONS ?? ''}`;
  const cacheFile = `${dist}/stratum-${hash}-${commandName(process.argv.slice(2))}-${fnv1a(runtime)}.v8cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // esbuild writes it as ASCII, so latin1 reads it exactly, without decoding UTF-8.
  const source = fs.readFileSync(file, 'latin1');
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  // Made at exit, so it holds the functions this run compiled, not just the top level; only after a run that
  // succeeded, which went the whole way (and a mistyped command leaves no cache behind).
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', (code) => {
      if (code === 0) saveCache(script, cacheFile);
    });
  }
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dist);
}

function saveCache(script, cacheFile) {
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, cacheFile);
  } catch {
    // A read-only install runs without a cache.
    fs.rmSync(tmp, { force: true });
  }
}

async function runSources() {
  // tsx's CommonJS entry of this API cannot register its hooks; its ESM one can.
  const { register } = await import('tsx/esm/api');
  register();
  await import(require('node:url').pathToFileURL(`${root}/src/cli/main.ts`).href);
}

const wanted = process.env.STRATUM_CLI;
const state = wanted === 'src' ? { problem: 'STRATUM_CLI=src' } : bundleState();
if (state.problem === undefined) {
  runBundle(state.hash);
} else if (wanted === 'dist') {
  process.stderr.write(`error: STRATUM_CLI=dist, but the bundled CLI cannot run: ${state.problem}\n`);
  process.exitCode = 3;
} else {
  runSources();
}
