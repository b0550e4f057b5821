/**
 * What `stratum build` reads and writes around the engine, as `docker buildx build` does: stdin (`-f -`), outputs
 * to stdout (`-o -`), secrets from the environment, ssh agents, the metadata file and the iidfile.
 */
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseSecret, parseSsh, secretSource } from '../../solver/request.js';
import type { BuildResult, OutputSpec } from '../../solver/types.js';
import { InputError } from '../../util/errors.js';
import { readAll } from '../../util/stream.js';

export async function readStdin(): Promise<string> {
  return (await readAll(process.stdin)).toString('utf8');
}

/** Scratch files of one build (stdout outputs, secret values), private to root and removed at the end. */
export class Scratch {
  private dir?: string;
  file(name: string, content?: string): string {
    this.dir ??= mkdtempSync(path.join(os.tmpdir(), 'stratum-build-'));
    const f = path.join(this.dir, name);
    if (content !== undefined) writeFileSync(f, content, { mode: 0o600 });
    return f;
  }
  cleanup(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** --secret list → id → file; a value from the environment is written to a scratch file the RUN mounts. */
export function secretFiles(specs: string[] | undefined, scratch: Scratch | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, spec] of (specs ?? []).entries()) {
    const s = parseSecret(spec);
    const src = secretSource(s, env);
    if (!src) continue;
    if ('file' in src) out[s.id] = src.file;
    else if (scratch) out[s.id] = scratch.file(`secret-${n}`, src.value);
  }
  return out;
}

/** --ssh list → id → agent socket; the socket must exist, as buildx checks before the build. */
export function sshAgents(specs: string[] | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  if (!specs?.length) return undefined;
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const [id, sock] = parseSsh(spec, env);
    let st;
    try {
      st = statSync(sock);
    } catch {
      throw new InputError(`--ssh ${spec}: ${sock} does not exist`);
    }
    if (!st.isSocket()) throw new InputError(`--ssh ${spec}: ${sock} is not an agent socket (key files are not supported)`);
    out[id] = sock;
  }
  return out;
}

/** Outputs whose dest is `-` are written to a scratch file, then copied to stdout once the build is done. */
export function stdoutOutputs(outputs: OutputSpec[], scratch: Scratch): { outputs: OutputSpec[]; toStdout?: string } {
  const dashed = outputs.filter((o) => o.dest === '-');
  if (dashed.length > 1) throw new InputError('--output: only one output can go to stdout');
  if (!dashed.length) return { outputs };
  if (process.stdout.isTTY) throw new InputError('--output: refusing to write a tar to a terminal; redirect stdout');
  const file = scratch.file('stdout.tar');
  return { outputs: outputs.map((o) => (o.dest === '-' ? { ...o, dest: file } : o)), toStdout: file };
}

export async function copyToStdout(file: string): Promise<void> {
  await pipeline(createReadStream(file), process.stdout, { end: false });
}

/** --metadata-file: the keys buildx writes that a local build knows (no builder, so no buildx.build.ref). */
export async function writeMetadata(file: string, result: BuildResult): Promise<void> {
  const manifest = result.manifest ?? { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: result.manifestDigest, size: undefined };
  const meta: Record<string, unknown> = {
    'containerimage.config.digest': result.configDigest,
    'containerimage.descriptor': { mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size },
    'containerimage.digest': result.manifestDigest,
  };
  if (result.tags.length) meta['image.name'] = result.tags.join(',');
  await writeFile(file, JSON.stringify(meta, null, 2) + '\n');
}

/** --iidfile: the image ID as docker means it, the config digest (buildx writes it without a newline). */
export async function writeIidFile(file: string, result: BuildResult): Promise<void> {
  await writeFile(file, result.configDigest);
}
