/**
 * stratum vs `buildah bud --layers` and BuildKit (buildkitd + buildctl, the seed's own builder) on the same base,
 * machine and Dockerfiles; and layer export against `tar -c | gzip -6`. Writes bench/results/latest.json and prints
 * a table.
 *
 *   npm run bench                      (BENCH_RUNS=3, BENCH_DIR=/var/tmp/stratum-bench)
 *
 * Both builders start every cold run from an empty build cache with the base image already in their storage
 * (buildah: copied in by skopeo, which unpacks it; stratum and BuildKit: imported and unpacked by an untimed
 * one-step build; BuildKit reads it as a named context from the OCI layout, its builds export to its image store).
 * The CLIs are timed as a user runs them; stratum's is built first with `npm run build` and run as
 * `bin/stratum`, the command npm installs (STRATUM_CLI=dist makes sure it runs the bundle, never the TypeScript
 * sources).
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianBaseLayout, ensureDebianBase } from '../test/helpers/base.js';
import { BUILDCTL, BUILDKIT_VERSION, buildkitSkip, startBuildkitd } from '../test/helpers/buildkit.js';
import { build } from '../src/solver/build.js';
import { writeLayer } from '../src/exporter/index.js';
import { ContentStore } from '../src/store/index.js';
import { diskUsage } from '../src/store/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = process.env.BENCH_DIR ?? '/var/tmp/stratum-bench';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BASE = 'localhost/debian:bookworm';
const CLI = path.join(REPO, 'bin/stratum');

// A seed-shaped chain without heredocs (buildah 1.28 cannot parse them).
const DOCKERFILE = `# Bench-Rebuild-Time: 2020-01-01T00:00:00Z
ARG BASE=${BASE}
FROM \${BASE} AS base
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
RUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*
RUN useradd -r -u 42424 -d /var/lib/svc -s /usr/sbin/nologin svc

FROM base AS builder
RUN apt-get update && apt-get install -y --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
COPY requirements.txt /src/requirements.txt
COPY app/ /src/app/
RUN cp -r /src/app /opt/venv/app && /opt/venv/bin/python -m compileall -q /opt/venv/app

FROM base AS runtime
RUN mkdir -p /etc/svc /var/log/svc && chown svc /var/log/svc
COPY --from=builder /opt/venv /opt/venv

FROM runtime AS service
COPY etc/ /etc/svc/
USER svc
CMD ["/opt/venv/bin/python", "-m", "app"]
`;

const CONTEXT: Record<string, string> = {
  Dockerfile: DOCKERFILE,
  'requirements.txt': 'oslo.config\n',
  'app/__init__.py': '',
  'app/__main__.py': 'from app import util\nprint(util.greet())\n',
  'app/util.py': 'def greet():\n    return "hello"\n',
  'etc/svc.conf': '[DEFAULT]\ndebug = false\n',
};

interface Proc {
  code: number;
  out: string;
  ms: number;
}

function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out, ms: performance.now() - t0 }));
  });
}

async function must(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<Proc> {
  const r = await exec(cmd, args, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.out.slice(-3000)}`);
  return r;
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Phase = 'cold' | 'warm' | 'change';
type Times = Record<Phase, number[]>;

async function changeSource(ctx: string, i: number): Promise<void> {
  await writeFile(path.join(ctx, 'app/util.py'), `def greet():\n    return "hello ${i}"\n`);
}

// --- stratum -----------------------------------------------------------------------------------------------

async function stratumBuild(root: string, ctx: string): Promise<{ ms: number; cached: string }> {
  const r = await must(CLI, ['--root', root, 'build', '--progress', 'quiet', '-t', 'localhost/bench/service:latest', ctx], { STRATUM_CLI: 'dist' });
  return { ms: r.ms, cached: /steps \d+ \(\d+ cached\)/.exec(r.out)?.[0] ?? '?' };
}

async function stratumCycle(i: number, times: Times, notes: string[]): Promise<string> {
  const root = path.join(WORK, `stratum-${i}`);
  await rm(root, { recursive: true, force: true });
  await ensureDebianBase(root, BASE);
  // Untimed: unpack the base layer into a snapshot, as skopeo does for buildah's storage.
  const warmup = path.join(WORK, 'warmup-ctx');
  await writeTree(warmup, { Dockerfile: `FROM ${BASE}\nRUN true\n` });
  await stratumBuild(root, warmup);
  const ctx = path.join(WORK, 'ctx-stratum');
  await writeTree(ctx, CONTEXT);
  for (const phase of ['cold', 'warm', 'change'] as const) {
    if (phase === 'change') await changeSource(ctx, i);
    const r = await stratumBuild(root, ctx);
    times[phase].push(r.ms);
    notes.push(`stratum run ${i + 1} ${phase}: ${(r.ms / 1000).toFixed(2)}s, ${r.cached}`);
  }
  return root;
}

// --- buildah -----------------------------------------------------------------------------------------------

function buildahGlobal(i: number): string[] {
  return ['--root', path.join(WORK, `buildah-${i}`, 'root'), '--runroot', path.join(WORK, `buildah-${i}`, 'runroot'), '--storage-driver', 'overlay'];
}

async function buildahReset(i: number): Promise<void> {
  await exec('buildah', [...buildahGlobal(i), 'rm', '--all']);
  await exec('buildah', [...buildahGlobal(i), 'rmi', '--all', '--force']);
  await exec('umount', ['-R', '-l', path.join(WORK, `buildah-${i}`, 'root', 'overlay')]);
  await rm(path.join(WORK, `buildah-${i}`), { recursive: true, force: true });
}

let isolation = 'oci';

async function buildahBuild(i: number, ctx: string): Promise<number> {
  const args = [...buildahGlobal(i), 'bud', '--layers', '--isolation', isolation, '-q', '-t', 'localhost/bench/service:latest', ctx];
  const r = await exec('buildah', args);
  if (r.code !== 0 && isolation === 'oci') {
    isolation = 'chroot';
    return buildahBuild(i, ctx);
  }
  if (r.code !== 0) throw new Error(`buildah bud failed:\n${r.out.slice(-3000)}`);
  return r.ms;
}

async function buildahCycle(i: number, layout: string, times: Times, notes: string[]): Promise<void> {
  await buildahReset(i);
  const g = buildahGlobal(i);
  const store = `containers-storage:[overlay@${g[1]}+${g[3]}]${BASE}`;
  await must('skopeo', ['copy', '-q', `oci:${layout}:${BASE}`, store]);
  const ctx = path.join(WORK, 'ctx-buildah');
  await writeTree(ctx, CONTEXT);
  for (const phase of ['cold', 'warm', 'change'] as const) {
    if (phase === 'change') await changeSource(ctx, i);
    const ms = await buildahBuild(i, ctx);
    times[phase].push(ms);
    notes.push(`buildah run ${i + 1} ${phase}: ${(ms / 1000).toFixed(2)}s (isolation ${isolation})`);
  }
  await buildahReset(i);
}

// --- BuildKit ----------------------------------------------------------------------------------------------

async function buildkitBuild(addr: string, ctx: string, layout: string, baseDigest: string): Promise<number> {
  const r = await must(BUILDCTL, [
    '--addr', addr, 'build', '--progress', 'quiet', '--frontend', 'dockerfile.v0',
    '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`,
    // FROM localhost/debian:bookworm is the bench's base, read from the same OCI layout buildah's comes from.
    '--oci-layout', `base=${layout}`, '--opt', `context:${BASE}=oci-layout://base@${baseDigest}`,
    '--output', 'type=image,name=localhost/bench/service:latest',
  ]);
  return r.ms;
}

/** One cold/warm/change cycle on a fresh buildkitd (its own root, so an empty cache); false when not installed. */
async function buildkitCycle(i: number, layout: string, times: Times, notes: string[]): Promise<boolean> {
  if (buildkitSkip) {
    notes.push(`buildkit skipped: ${buildkitSkip}`);
    return false;
  }
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const baseDigest = index.manifests[0]!.digest;
  const dir = path.join(WORK, `buildkit-${i}`);
  await rm(dir, { recursive: true, force: true });
  const bk = await startBuildkitd(dir);
  try {
    const warmup = path.join(WORK, 'warmup-ctx-buildkit');
    await writeTree(warmup, { Dockerfile: `FROM ${BASE}\nRUN true\n` });
    await buildkitBuild(bk.addr, warmup, layout, baseDigest);
    const ctx = path.join(WORK, 'ctx-buildkit');
    await writeTree(ctx, CONTEXT);
    for (const phase of ['cold', 'warm', 'change'] as const) {
      if (phase === 'change') await changeSource(ctx, i);
      const ms = await buildkitBuild(bk.addr, ctx, layout, baseDigest);
      times[phase].push(ms);
      notes.push(`buildkit run ${i + 1} ${phase}: ${(ms / 1000).toFixed(2)}s`);
    }
  } finally {
    await bk.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return true;
}

// --- layer export ------------------------------------------------------------------------------------------

async function exportTree(layout: string): Promise<{ dir: string; bytes: number }> {
  const dir = path.join(WORK, 'export-tree');
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(await readFile(path.join(layout, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as {
    layers: { digest: string }[];
  };
  const blob = path.join(layout, 'blobs/sha256', manifest.layers[0]!.digest.slice(7));
  await rm(dir, { recursive: true, force: true });
  // The Debian rootfs, twice: real binaries, libraries and text, about 340 MB.
  for (const copy of ['a', 'b']) {
    await mkdir(path.join(dir, copy), { recursive: true });
    await must('tar', ['-xzf', blob, '-C', path.join(dir, copy), '--exclude=./dev/*']);
  }
  const du = await must('du', ['-s', '-b', dir]);
  return { dir, bytes: Number(du.out.split('\t')[0]) };
}

async function tarGzip(dir: string, dest: string): Promise<number> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const tar = spawn('tar', ['-cf', '-', '-C', dir, '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const gz = spawn('gzip', ['-6'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const out = createWriteStream(dest);
    tar.stdout.pipe(gz.stdin);
    gz.stdout.pipe(out);
    out.on('finish', () => (gz.exitCode === 0 || gz.exitCode === null ? resolve() : reject(new Error('gzip failed'))));
    tar.on('error', reject);
    gz.on('error', reject);
  });
  return performance.now() - t0;
}

async function stratumExport(dir: string, storeRoot: string): Promise<number> {
  await rm(storeRoot, { recursive: true, force: true });
  const store = new ContentStore(storeRoot);
  await store.init();
  const t0 = performance.now();
  await writeLayer(dir, store, { compression: 'gzip' });
  return performance.now() - t0;
}

// --- main --------------------------------------------------------------------------------------------------

async function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown';
  const buildah = (await exec('buildah', ['--version'])).out.trim();
  // Node parses the file NODE_EXTRA_CA_CERTS names at every start (bin/stratum defers it): worth knowing beside the warm figure.
  const nodeExtraCaCerts = process.env.NODE_EXTRA_CA_CERTS || null;
  return { nproc: os.availableParallelism(), cpu, memGB: Math.round(os.totalmem() / 2 ** 30), kernel: os.release(), node: process.version, buildah, nodeExtraCaCerts };
}

async function main(): Promise<void> {
  await mkdir(WORK, { recursive: true });
  process.stderr.write('bench: npm run build\n');
  await must('npm', ['--prefix', REPO, 'run', 'build'], { npm_config_loglevel: 'error' });
  const layout = await debianBaseLayout();
  const notes: string[] = [];
  const s: Times = { cold: [], warm: [], change: [] };
  const b: Times = { cold: [], warm: [], change: [] };
  const k: Times = { cold: [], warm: [], change: [] };
  let withBuildkit = true;
  let lastRoot = '';
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(`bench: run ${i + 1}/${RUNS}: stratum\n`);
    lastRoot = await stratumCycle(i, s, notes);
    process.stderr.write(`bench: run ${i + 1}/${RUNS}: buildah\n`);
    await buildahCycle(i, layout, b, notes);
    process.stderr.write(`bench: run ${i + 1}/${RUNS}: buildkit\n`);
    withBuildkit = (await buildkitCycle(i, layout, k, notes)) && withBuildkit;
  }
  // The same no-op rebuild through the library, as bake runs it (no process start).
  const lib: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = await build({ root: lastRoot, context: path.join(WORK, 'ctx-stratum'), tags: ['localhost/bench/service:latest'] });
    lib.push(performance.now() - t0);
    if (r.stepsCached !== r.stepsTotal) notes.push(`library warm run was not fully cached: ${r.stepsCached}/${r.stepsTotal}`);
  }

  process.stderr.write('bench: layer export\n');
  const tree = await exportTree(layout);
  const tg: number[] = [];
  const se: number[] = [];
  await tarGzip(tree.dir, path.join(WORK, 'export.tar.gz')); // warm the page cache for both
  for (let i = 0; i < RUNS; i++) {
    tg.push(await tarGzip(tree.dir, path.join(WORK, 'export.tar.gz')));
    se.push(await stratumExport(tree.dir, path.join(WORK, 'export-store')));
  }
  const gzSize = (await stat(path.join(WORK, 'export.tar.gz'))).size;
  const storeBlobs = await diskUsage([path.join(WORK, 'export-store', 'blobs')]);
  const mbps = (ms: number) => tree.bytes / 1e6 / (ms / 1000);

  const med = (t: Times) => ({ cold: median(t.cold), warm: median(t.warm), change: median(t.change) });
  const sm = med(s);
  const bm = med(b);
  const ratios = { cold: sm.cold / bm.cold, warm: sm.warm / bm.warm, change: sm.change / bm.change, export: mbps(median(se)) / mbps(median(tg)) };
  const km = withBuildkit ? med(k) : undefined;
  const ratiosBuildkit = km ? { cold: sm.cold / km.cold, warm: sm.warm / km.warm, change: sm.change / km.change } : undefined;
  const targets = {
    warmUnder1s: sm.warm < 1000,
    warmAtMost0_1xBuildah: ratios.warm <= 0.1,
    changeAtMost0_5xBuildah: ratios.change <= 0.5,
    coldAtMost1_0xBuildah: ratios.cold <= 1.0,
    exportAtLeast1_0xTarGzip: ratios.export >= 1.0,
  };
  const result = {
    date: new Date().toISOString(),
    command: 'npm run bench',
    runs: RUNS,
    machine: await machine(),
    buildahIsolation: isolation,
    buildkit: km ? `${BUILDKIT_VERSION} (buildkitd, runc worker; buildctl --output type=image)` : null,
    buildMs: { stratum: s, buildah: b, buildkit: km ? k : null, stratumLibraryWarm: lib },
    medianMs: { stratum: sm, buildah: bm, buildkit: km ?? null, stratumLibraryWarm: median(lib) },
    ratios,
    ratiosBuildkit: ratiosBuildkit ?? null,
    export: {
      treeBytes: tree.bytes,
      tarGzipMs: tg,
      stratumMs: se,
      tarGzipMBps: mbps(median(tg)),
      stratumMBps: mbps(median(se)),
      tarGzipBytes: gzSize,
      stratumBlobBytes: storeBlobs.get(path.join(WORK, 'export-store', 'blobs')) ?? 0,
    },
    targets,
    notes,
  };
  await mkdir(path.join(REPO, 'bench/results'), { recursive: true });
  const out = path.join(REPO, 'bench/results/latest.json');
  await writeFile(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
  await cp(`${out}.tmp`, out);
  await rm(`${out}.tmp`, { force: true });

  const sec = (ms: number) => `${(ms / 1000).toFixed(2)}s`;
  const row = (name: string, a: string, c: string, r: string, ok: boolean, bk = '-', rk = '-') =>
    `${name.padEnd(26)}${a.padStart(11)}${c.padStart(11)}${r.padStart(9)}${bk.padStart(11)}${rk.padStart(9)}  ${ok ? 'ok' : 'MISSED'}\n`;
  const bkCols = (p: Phase): [string, string] => (km && ratiosBuildkit ? [sec(km[p]), ratiosBuildkit[p].toFixed(2)] : ['-', '-']);
  let t = `machine: ${result.machine.nproc} cores (${result.machine.cpu}), ${result.machine.memGB} GiB RAM, kernel ${result.machine.kernel}; ${RUNS} runs, medians\n`;
  t += `${'phase'.padEnd(26)}${'stratum'.padStart(11)}${'buildah'.padStart(11)}${'ratio'.padStart(9)}${'buildkit'.padStart(11)}${'ratio'.padStart(9)}  target (vs buildah)\n`;
  t += row('cold build', sec(sm.cold), sec(bm.cold), ratios.cold.toFixed(2), targets.coldAtMost1_0xBuildah, ...bkCols('cold'));
  t += row('warm no-op rebuild', sec(sm.warm), sec(bm.warm), ratios.warm.toFixed(2), targets.warmUnder1s && targets.warmAtMost0_1xBuildah, ...bkCols('warm'));
  t += row('one source file changed', sec(sm.change), sec(bm.change), ratios.change.toFixed(2), targets.changeAtMost0_5xBuildah, ...bkCols('change'));
  t += row('warm no-op (library)', sec(median(lib)), '-', '-', median(lib) < 1000);
  t += `${'layer export MB/s'.padEnd(26)}${result.export.stratumMBps.toFixed(1).padStart(11)}${result.export.tarGzipMBps.toFixed(1).padStart(11)}${ratios.export.toFixed(2).padStart(9)}  ${targets.exportAtLeast1_0xTarGzip ? 'ok' : 'MISSED'}   (vs tar -c | gzip -6, ${(tree.bytes / 1e6).toFixed(0)} MB tree)\n`;
  process.stdout.write(t);
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
