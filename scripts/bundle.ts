/**
 * Bundles the CLI into dist/cli/stratum.cjs (`npm run build` runs this after tsc); bin/stratum.js runs it when it is
 * fresh.
 *
 * Why: a fresh `stratum build` process spent most of its time in Node's ESM loader, resolving, reading and compiling
 * about a hundred files one by one. One CommonJS file is read at once, and bin/stratum.js compiles it with a V8 code
 * cache (no ESM loader, hardly any compiling). Commands are still initialised lazily inside the bundle (esbuild keeps
 * a dynamically imported module's top level in a function run on first import), so a build runs no bake,
 * registry or catalog code.
 *
 * dist/cli/inputs.json lists what went into the bundle with mtimes and sizes (our sources, and each dependency's
 * package.json); the launcher stats just those, so a stale bundle never runs in a checkout, without walking src/.
 * It also names the bundle by its content hash, which keys the code caches.
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// `node --import tsx scripts/bundle.ts [OUT_DIR]`: elsewhere than dist/cli only for tests.
const OUT = process.argv[2] ? path.resolve(process.argv[2]) : path.join(ROOT, 'dist', 'cli');

/**
 * Builtins a no-op build never calls, required on first use instead of when the bundle starts: child_process
 * alone (which commander requires too) pulls in net, dgram and the socket machinery; zlib is only for layers. The stand-in module has one
 * getter per export of the real one, so `import { spawn } from 'node:child_process'` still works as written.
 */
const LAZY_BUILTINS = ['child_process', 'zlib'];

const lazyBuiltins: Plugin = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    b.onResolve({ filter }, (a) => {
      const name = a.path.replace(/^node:/, '');
      // The stand-in's own require goes to the real module.
      return a.namespace === 'lazy-builtin' ? { path: `node:${name}`, external: true } : { path: name, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => {
      const id = JSON.stringify(`node:${a.path}`);
      const names = Object.keys(createRequire(import.meta.url)(`node:${a.path}`) as object);
      const getters = names.map((n) => `${JSON.stringify(n)}: { enumerable: true, get: () => load()[${JSON.stringify(n)}] }`);
      return { loader: 'js', contents: `let real;\nconst load = () => (real ??= require(${id}));\nmodule.exports = Object.defineProperties({}, {\n${getters.join(',\n')}\n});\n` };
    });
  },
};

/** Recorded per input: [mtimeMs, size]. */
type Inputs = Record<string, [number, number]>;

// A file written while esbuild reads it may have been bundled in its old form with its new mtime recorded. The
// kernel stamps mtimes with a coarse clock, so "changed since we started" gets a margin.
const CLOCK_SLACK_MS = 50;

async function bundleOnce(outdir: string): Promise<{ inputs: Inputs; changed: string[] }> {
  const started = Date.now();
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ['src/cli/main.ts'],
    outfile: path.join(outdir, 'stratum.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // hcl2json loads its wasm from beside its own files: it is required from node_modules, only when bake runs.
    external: ['@cdktf/hcl2json'],
    // Smaller source to read and hash; names stay, so stack traces still say where.
    minifyWhitespace: true,
    minifySyntax: true,
    // Plain ASCII (non-ASCII escaped), so the launcher can read it as latin1 without decoding UTF-8.
    charset: 'ascii',
    sourcemap: 'external',
    plugins: [lazyBuiltins],
    metafile: true,
    logLevel: 'warning',
  });
  return statInputs(result.metafile, started);
}

/**
 * Our sources file by file; a dependency by its package.json, which npm rewrites whenever it installs the package
 * (a few stats instead of one per file of commander, minimatch, yaml...).
 */
function recordedPath(input: string): string {
  const rel = path.relative(ROOT, path.resolve(ROOT, input));
  const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(rel);
  return m ? `${m[1]}/package.json` : rel;
}

async function statInputs(meta: Metafile, started: number): Promise<{ inputs: Inputs; changed: string[] }> {
  const inputs: Inputs = {};
  const changed: string[] = [];
  // Stand-ins from a plugin's namespace (lazy-builtin:child_process) are no files.
  const files = Object.keys(meta.inputs).filter((i) => !/^[a-z-]+:/.test(i));
  for (const rel of [...new Set(files.map(recordedPath))].sort()) {
    const st = await stat(path.join(ROOT, rel));
    inputs[rel] = [st.mtimeMs, st.size];
    if (st.mtimeMs > started - CLOCK_SLACK_MS) changed.push(rel);
  }
  return { inputs, changed };
}

/** Bundles into `tmp` until no input changed while esbuild read it (three tries). */
async function bundleSettled(tmp: string): Promise<Inputs> {
  for (let attempt = 1; ; attempt++) {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const { inputs, changed } = await bundleOnce(tmp);
    if (changed.length === 0) return inputs;
    if (attempt === 3) {
      // Recorded as stale: the launcher then runs the sources until the next build.
      for (const f of changed) inputs[f] = [-1, -1];
      process.stderr.write(`bundle: ${changed.join(', ')} kept changing while bundling; bin/stratum.js will run the sources\n`);
      return inputs;
    }
    await new Promise((res) => setTimeout(res, 2 * CLOCK_SLACK_MS));
  }
}

async function main(): Promise<void> {
  const tmp = `${OUT}.tmp-${process.pid}`;
  const inputs = await bundleSettled(tmp);
  const hash = createHash('sha256')
    .update(await readFile(path.join(tmp, 'stratum.cjs')))
    .digest('hex')
    .slice(0, 16);
  // Written last: a bundle without its list of inputs is never run.
  await writeFile(path.join(tmp, 'inputs.json'), JSON.stringify({ hash, inputs }) + '\n');
  const old = `${OUT}.old-${process.pid}`;
  await rename(OUT, old).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rename(tmp, OUT);
  await rm(old, { recursive: true, force: true });
  process.stderr.write(`bundle: ${path.relative(ROOT, OUT)}/stratum.cjs (${Object.keys(inputs).length} inputs recorded for the freshness check)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bundle failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
