/**
 * `stratum lint PATH`: every Dockerfile and bake file under a path, each Dockerfile linted with the
 * named contexts that the bake files around it give the targets building it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { loadBake, printView, readBakeFiles } from '../bake/index.js';
import { catalogFiles, isBakeFileName, isDockerfileName } from './files.js';
import { lintBakeFile, lintDockerfile, type Finding, type LintOptions } from './lint.js';

async function bakeFilesFor(root: string, files: string[]): Promise<string[]> {
  const out = new Set(files.filter((f) => isBakeFileName(basename(f))).map((f) => resolve(f)));
  let dir = resolve(root);
  if (!existsSync(dir) || files.length === 1) dir = dirname(dir);
  for (let d = dir; ; d = dirname(d)) {
    for (const n of ['docker-bake.hcl', 'docker-bake.override.hcl']) if (existsSync(join(d, n))) out.add(join(d, n));
    if (dirname(d) === d) break;
  }
  return [...out];
}

const bakeTargets = new Map<string, Promise<{ context?: string; dockerfile?: string; contexts: string[] }[]>>();

/** Every target of a bake file as bake itself resolves it (inheritance, variables, matrices), read once per run. */
function targetsOf(bakeFile: string): Promise<{ context?: string; dockerfile?: string; contexts: string[] }[]> {
  let p = bakeTargets.get(bakeFile);
  if (!p) {
    p = (async () => {
      const def = await loadBake(await readBakeFiles([bakeFile]), { env: process.env, targets: ['*'] });
      const view = printView(def).target as Record<string, { context?: string; dockerfile?: string; contexts?: Record<string, string> }>;
      return Object.values(view).map((t) => ({ context: t.context, dockerfile: t.dockerfile, contexts: Object.keys(t.contexts ?? {}) }));
    })();
    bakeTargets.set(bakeFile, p);
  }
  return p;
}

/** Named contexts that any bake target building `dockerfile` provides. */
async function contextsFor(dockerfile: string, bakeFiles: string[]): Promise<string[]> {
  const target = resolve(dockerfile);
  const names: string[] = [];
  for (const bf of bakeFiles) {
    for (const t of await targetsOf(bf)) {
      const ctx = t.context ?? '.';
      // Bake resolves paths against the working directory by default, or against the bake file's
      // directory when asked to; accept either so lint agrees with both ways of running it.
      for (const base of [process.cwd(), dirname(bf)]) {
        const c = resolve(base, ctx);
        if (resolve(c, t.dockerfile ?? 'Dockerfile') === target) names.push(...t.contexts);
      }
    }
  }
  return [...new Set(names)];
}

/** Lints every Dockerfile and bake file under `root`. */
export async function lintPath(root: string, opts: Omit<LintOptions, 'contexts'> = {}): Promise<Finding[]> {
  const files = await catalogFiles(root);
  const bakes = await bakeFilesFor(root, files);
  const findings: Finding[] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    if (isDockerfileName(basename(f))) findings.push(...(await lintDockerfile(f, text, { ...opts, contexts: await contextsFor(f, bakes) })));
    else findings.push(...lintBakeFile(f, text));
  }
  return findings;
}
