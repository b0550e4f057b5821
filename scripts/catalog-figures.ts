/**
 * The real catalog's figures, measured here: for each service, the multi-stage image against a single-stage
 * build of the same service (its Dockerfile's `build` stage: the venv builder with everything it compiled, as one
 * image would be without the pattern), their package counts, and the cold build time of each image.
 *
 *   node --import tsx scripts/catalog-figures.ts [--root DIR] [--keep] [SERVICE...]    (as root)
 *
 * The store starts empty (a cold build, pip cache included) unless --keep; the Debian base is bootstrapped into
 * it. Sources come from mirrors of the 2025.2 releases, Python packages from PyPI (as the catalog's CI test).
 * Prints a Markdown table (the one in images/README.md) and writes it with the raw figures to ROOT/figures.json.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/util/exec.js';
import { humanSize } from '../src/util/size.js';
import { gitDaemon } from '../test/helpers/git.js';
import { makeMirror } from '../test/integration/catalog/openstack-world.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STRATUM = [process.execPath, '--import', 'tsx', path.join(REPO, 'src/cli/main.ts')];

interface Figures {
  service: string;
  multi: { size: number; packages: number; buildMs: number };
  single: { size: number; packages: number };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let root = '/var/tmp/stratum-catalog-figures';
  let keep = false;
  const services: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--root') root = path.resolve(args[++i] ?? '');
    else if (args[i] === '--keep') keep = true;
    else if (args[i]!.startsWith('-')) throw new Error(`unknown option ${args[i]} (--root DIR, --keep)`);
    else services.push(args[i]!);
  }
  if (services.length === 0) services.push('keystone', 'placement', 'python-openstackclient');
  if (!keep) await fsp.rm(root, { recursive: true, force: true });
  const stratum = (a: string[], env: NodeJS.ProcessEnv = {}) => run(STRATUM[0]!, [...STRATUM.slice(1), '--root', root, ...a], { cwd: REPO, env: { ...process.env, ...env }, check: false, timeout: 4 * 3600_000 });
  const must = async (a: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = await stratum(a, env);
    if (r.code !== 0) throw new Error(`stratum ${a.slice(0, 3).join(' ')} failed:\n${(r.stderr || r.stdout).slice(-3000)}`);
    return r.stdout;
  };

  const bootstrapStart = Date.now();
  await must(['bootstrap', 'debian', '--suite', 'bookworm', '-q', '-t', 'localhost/debian:bookworm']);
  const bootstrapMs = Date.now() - bootstrapStart;
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-figures-'));
  const mirror = await makeMirror(path.join(work, 'git'));
  const daemon = await gitDaemon(mirror.base);
  try {
    const env = { DISTRO: 'debian', BASE_IMAGE: 'localhost/debian:bookworm', OPENSTACK_GIT_BASE: daemon.url, CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt' };
    const meta = path.join(work, 'meta.json');
    const bakeStart = Date.now();
    await must(['bake', '-f', 'images/docker-bake.hcl', '--progress', 'plain', '-j', '2', '--metadata-file', meta, ...mirror.sets, ...services], env);
    const bakeMs = Date.now() - bakeStart;
    const built = JSON.parse(await fsp.readFile(meta, 'utf8')) as Record<string, { 'stratum.durationMs'?: number; 'image.name'?: string }>;
    // The single-stage twin: the build stage of the same Dockerfile, which holds the builder and all it made.
    const singles = services.flatMap((s) => ['--set', `${s}.target=build`, '--set', `${s}.tags=localhost/figures/${s}:single`]);
    await must(['bake', '-f', 'images/docker-bake.hcl', '--progress', 'plain', '-j', '2', ...mirror.sets, ...singles, ...services], env);

    const images = JSON.parse(await must(['images', '--json'])) as { name: string; size: number }[];
    const sizeOf = (name: string) => images.find((i) => i.name === name)?.size ?? NaN;
    const packages = async (name: string) => Number((await must(['run', '--rm', '--entrypoint', 'sh', name, '-c', 'dpkg-query -W -f "." | wc -c'])).trim());
    const figures: Figures[] = [];
    for (const s of services) {
      const multiName = built[s]?.['image.name']?.split(',')[0] ?? '';
      const singleName = `localhost/figures/${s}:single`;
      figures.push({
        service: s,
        multi: { size: sizeOf(multiName), packages: await packages(multiName), buildMs: built[s]?.['stratum.durationMs'] ?? NaN },
        single: { size: sizeOf(singleName), packages: await packages(singleName) },
      });
    }
    const bases = Object.entries(built)
      .filter(([t]) => !services.includes(t))
      .map(([t, m]) => `${t} ${((m['stratum.durationMs'] ?? 0) / 1000).toFixed(0)} s`);
    const rows = [
      '| image | multi-stage | single-stage | smaller by | packages (multi / single) | cold build |',
      '|---|---:|---:|---:|---:|---:|',
      ...figures.map((f) => `| ${f.service} | ${humanSize(f.multi.size)} | ${humanSize(f.single.size)} | ${Math.round((100 * (f.single.size - f.multi.size)) / f.single.size)} % | ${f.multi.packages} / ${f.single.packages} | ${(f.multi.buildMs / 1000).toFixed(0)} s |`),
    ];
    const text = [
      ...rows,
      '',
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB; sizes are compressed (what a pull transfers).`,
      `Cold: bootstrap ${(bootstrapMs / 1000).toFixed(0)} s, then one bake of ${services.join(', ')} in ${(bakeMs / 1000).toFixed(0)} s (bases: ${bases.join(', ')}).`,
    ].join('\n');
    process.stdout.write(text + '\n');
    await fsp.writeFile(path.join(root, 'figures.json'), JSON.stringify({ figures, bootstrapMs, bakeMs, text }, null, 2) + '\n');
  } finally {
    daemon.stop();
    await fsp.rm(work, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
});
