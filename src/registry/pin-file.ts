/** `stratum pin` on a file: YAML vars files, Dockerfiles and bake files, told apart by name. */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import { pinYaml, type DigestResolver, type PinResult } from './pin.js';
import { pinBake, pinDockerfile } from './pin-text.js';

/** How a file's references are found: by its name, as Docker and bake name their files. */
export function pinKind(file: string): 'dockerfile' | 'bake' | 'yaml' {
  const base = path.basename(file);
  if (base === 'Dockerfile' || base.startsWith('Dockerfile.') || /\.dockerfile$/i.test(base) || base.endsWith('.Dockerfile')) return 'dockerfile';
  if (base.endsWith('.hcl')) return 'bake';
  return 'yaml';
}

/** Pins a file in place (atomically), or with `check` only reports what would change. */
export async function pinFile(file: string, resolve: DigestResolver, opts: { check?: boolean } = {}): Promise<PinResult> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const kind = pinKind(file);
  const res = await (kind === 'dockerfile' ? pinDockerfile : kind === 'bake' ? pinBake : pinYaml)(text, file, resolve);
  if (!opts.check && res.text !== text) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
    const st = await fs.stat(file);
    await fs.writeFile(tmp, res.text, { mode: st.mode & 0o7777 });
    await fs.rename(tmp, file);
  }
  return res;
}
