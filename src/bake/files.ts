/** Which bake files are read: -f (`-` is stdin, `cwd://` is taken off), BUILDX_BAKE_FILE, or the defaults. */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import { readAll } from '../util/stream.js';
import type { BakeFile } from './types.js';

/** buildx's default lookup order (compose files aside: stratum reads bake files only). */
export const DEFAULT_BAKE_FILES = ['docker-bake.json', 'docker-bake.hcl', 'docker-bake.override.json', 'docker-bake.override.hcl'];

/** The compose files buildx also reads by default; stratum does not, so it will not guess without them. */
const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

/** The files BUILDX_BAKE_FILE names (separated by BUILDX_BAKE_PATH_SEPARATOR, default `:`). */
export async function filesFromEnv(env: Record<string, string | undefined>, cwd: string): Promise<string[]> {
  const v = env.BUILDX_BAKE_FILE;
  if (v === undefined) return [];
  const sep = env.BUILDX_BAKE_PATH_SEPARATOR || ':';
  const out: string[] = [];
  for (const raw of v.split(sep)) {
    const f = raw.trim();
    if (!f) continue;
    if (f !== '-') {
      await fs.stat(path.resolve(cwd, f)).catch(() => {
        throw new InputError(`BUILDX_BAKE_FILE: cannot read bake file ${f}: no such file`);
      });
    }
    out.push(f);
  }
  return out;
}

/** Reads the files named by -f (`-` is stdin), or the default ones present in `cwd`. */
export async function readBakeFiles(names: string[], cwd = process.cwd(), stdin: AsyncIterable<unknown> = process.stdin): Promise<BakeFile[]> {
  if (names.length === 0) {
    const compose = COMPOSE_FILES.find((n) => fsSync.existsSync(path.join(cwd, n)));
    if (compose) throw new InputError(`${compose} is here, and docker buildx bake would read it too; stratum reads bake files only: name them with -f`);
    const found: BakeFile[] = [];
    for (const n of DEFAULT_BAKE_FILES) {
      const data = await fs.readFile(path.join(cwd, n), 'utf8').catch(() => undefined);
      if (data !== undefined) found.push({ name: n, data });
    }
    if (!found.length) throw new InputError(`no bake file found in ${cwd} (looked for ${DEFAULT_BAKE_FILES.join(', ')}); use -f FILE`);
    return found;
  }
  const out: BakeFile[] = [];
  for (const given of names) {
    const n = given.startsWith('cwd://') ? given.slice('cwd://'.length) : given;
    if (n === '-') {
      out.push({ name: '-', data: (await readAll(stdin)).toString('utf8') });
      continue;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(n)) throw new InputError(`bake file ${n}: remote bake files are not supported by stratum`);
    const data = await fs.readFile(path.resolve(cwd, n), 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new InputError(`cannot read bake file ${n}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    });
    out.push({ name: n, data });
  }
  return out;
}
