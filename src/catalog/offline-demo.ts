/**
 * The offline catalog's report: every image's size and layers, each service against its
 * single-stage twin, and the checks the seed's claims imply (the service's console script runs
 * as the service user; no compiler or -dev package ships; multi-stage is smaller).
 *
 *   node --import tsx src/catalog/offline-demo.ts OUT_DIR
 *
 *   node --import tsx src/catalog/offline-demo.ts OUT_DIR --json report.json   (also writes the figures)
 *
 * OUT_DIR holds one OCI layout directory per bake target (examples/offline/demo.sh writes them).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InputError } from '../util/errors.js';
import { writeFileAtomic } from './files.js';
import { humanSize, reportImage, runInRootfs, table, type ImageReport } from './measure.js';

export interface OfflineService {
  name: string;
  /** The command that proves the service works, and what it must print. */
  args: string[];
  expect: RegExp;
}

export const OFFLINE_IMAGES = ['python-base', 'venv-builder', 'python-runtime', 'fastsum', 'hello-svc', 'fastsum-single', 'hello-svc-single'];

export const OFFLINE_SERVICES: OfflineService[] = [
  // The C extension computes the sum; "fastsum:" comes from the fixture's patch.
  { name: 'fastsum', args: ['fastsum', '1', '2', '39'], expect: /^fastsum: 42$/m },
  { name: 'hello-svc', args: ['hello-svc'], expect: /^hello from hello-svc \(patched\) \(user=hello-svc uid=42424\)$/m },
];

export interface ServiceCheck {
  service: string;
  multi: ImageReport;
  single: ImageReport;
  runOutput: string;
  runExit: number;
  runUid: number;
  problems: string[];
}

export interface OfflineReport {
  images: ImageReport[];
  services: ServiceCheck[];
  text: string;
  ok: boolean;
}

export async function offlineReport(outDir: string, opts: { services?: OfflineService[]; images?: string[] } = {}): Promise<OfflineReport> {
  const names = opts.images ?? OFFLINE_IMAGES;
  const services = opts.services ?? OFFLINE_SERVICES;
  for (const n of names) if (!existsSync(join(outDir, n, 'index.json'))) throw new InputError(`${join(outDir, n)}: not an OCI layout (build it first: examples/offline/demo.sh)`);
  const scratch = await mkdtemp(join(tmpdir(), 'stratum-offline-report-'));
  try {
    const images: ImageReport[] = [];
    for (const n of names) images.push(await reportImage(n, join(outDir, n), join(scratch, 'rootfs', n)));
    const byName = new Map(images.map((i) => [i.name, i]));
    const checks: ServiceCheck[] = [];
    for (const s of services) {
      const multi = byName.get(s.name);
      const single = byName.get(`${s.name}-single`);
      if (!multi || !single) throw new InputError(`service ${s.name} needs images ${s.name} and ${s.name}-single`);
      const run = await runInRootfs(join(scratch, 'rootfs', s.name), s.name, s.args, join(scratch, 'bundles'));
      const problems: string[] = [];
      if (run.exitCode !== 0) problems.push(`${s.args.join(' ')} exited ${run.exitCode}: ${run.output.trim()}`);
      else if (!s.expect.test(run.output)) problems.push(`${s.args.join(' ')} printed ${JSON.stringify(run.output.trim())}, expected ${s.expect}`);
      if (run.uid !== 42424) problems.push(`user ${s.name} has uid ${run.uid}, expected 42424`);
      if (multi.buildTools.length) problems.push(`build tools in the runtime image: ${multi.buildTools.join(' ')}`);
      if (multi.size >= single.size) problems.push(`multi-stage ${humanSize(multi.size)} is not smaller than single-stage ${humanSize(single.size)}`);
      checks.push({ service: s.name, multi, single, runOutput: run.output.trim(), runExit: run.exitCode, runUid: run.uid, problems });
    }
    const imageRows = [['image', 'size (compressed)', 'unpacked', 'layers', 'packages', 'build tools']];
    for (const i of images) imageRows.push([i.name, humanSize(i.size), humanSize(i.unpacked), String(i.layers), String(i.packages.length), String(i.buildTools.length)]);
    const svcRows = [['service', 'multi-stage', 'single-stage', 'saved', 'packages (multi / single)', 'build tools (multi / single)', 'runs as']];
    for (const c of checks) {
      const saved = c.single.size > 0 ? `${Math.round((100 * (c.single.size - c.multi.size)) / c.single.size)}%` : '-';
      svcRows.push([
        c.service,
        humanSize(c.multi.size),
        humanSize(c.single.size),
        saved,
        `${c.multi.packages.length} / ${c.single.packages.length}`,
        `${c.multi.buildTools.length} / ${c.single.buildTools.length}`,
        c.runExit === 0 ? `uid ${c.runUid}` : 'FAILED',
      ]);
    }
    const lines = [table(imageRows), '', table(svcRows), ''];
    for (const c of checks) {
      lines.push(`${c.service}: ${c.runOutput}`);
      for (const p of c.problems) lines.push(`  PROBLEM: ${p}`);
    }
    const ok = checks.every((c) => c.problems.length === 0);
    lines.push('', ok ? 'all checks passed: each service runs as its user, ships no build tools, and is smaller than its single-stage twin' : 'CHECKS FAILED');
    return { images, services: checks, text: lines.join('\n'), ok };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = process.argv[2];
  const jsonAt = process.argv.indexOf('--json');
  const jsonFile = jsonAt > 0 ? process.argv[jsonAt + 1] : undefined;
  if (!out || out.startsWith('-') || (jsonAt > 0 && !jsonFile)) {
    process.stderr.write('usage: offline-demo.ts OUT_DIR [--json FILE]\n');
    process.exit(2);
  }
  offlineReport(out).then(
    async (r) => {
      process.stdout.write(r.text + '\n');
      if (jsonFile) await writeFileAtomic(jsonFile, JSON.stringify({ ok: r.ok, images: r.images, services: r.services }, null, 2) + '\n');
      process.exit(r.ok ? 0 : 1);
    },
    (e: Error & { exitCode?: number }) => {
      process.stderr.write(`${e.message}\n`);
      process.exit(e.exitCode ?? 1);
    },
  );
}
