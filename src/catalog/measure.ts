/**
 * Measures built images from OCI layout directories: size, layers, installed Debian packages,
 * build tools present, and whether a command runs as a given user (through the engine's runc
 * executor). This is what turns the seed's claims ("smaller", "no build tools") into numbers.
 */
import { mkdir, readFile, readdir, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { applyLayer } from '../exporter/index.js';
import { runContainer } from '../worker/executor.js';
import { resolveUser } from '../worker/users.js';
import { InputError } from '../util/errors.js';
import { isBuildTool } from './lint.js';

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string };
}

export interface LayoutImage {
  manifestDigest: string;
  /** Compressed bytes a pull transfers: manifest + config + layers. */
  size: number;
  layers: { digest: string; size: number; mediaType: string }[];
  config: { config?: { User?: string; Env?: string[]; WorkingDir?: string }; history?: { created_by?: string }[] };
}

function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return join(layout, 'blobs', alg!, hex!);
}

async function readJson<T>(path: string): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (e) {
    throw new InputError(`${path}: cannot read OCI JSON (${(e as Error).message})`);
  }
}

/** Reads the (first linux) image of an OCI layout directory. */
export async function readLayoutImage(layout: string): Promise<LayoutImage> {
  let desc = (await readJson<{ manifests: Descriptor[] }>(join(layout, 'index.json'))).manifests[0];
  if (!desc) throw new InputError(`${layout}: index.json lists no manifest`);
  while (/index/.test(desc.mediaType)) {
    const idx: { manifests: Descriptor[] } = await readJson<{ manifests: Descriptor[] }>(blobPath(layout, desc.digest));
    const next: Descriptor | undefined = idx.manifests.find((m: Descriptor) => !m.platform || m.platform.os === 'linux') ?? idx.manifests[0];
    if (!next) throw new InputError(`${layout}: empty image index ${desc.digest}`);
    desc = next;
  }
  const manifest = await readJson<{ config: Descriptor; layers: Descriptor[] }>(blobPath(layout, desc.digest));
  const config = await readJson<LayoutImage['config']>(blobPath(layout, manifest.config.digest));
  const size = desc.size + manifest.config.size + manifest.layers.reduce((a, l) => a + l.size, 0);
  return { manifestDigest: desc.digest, size, layers: manifest.layers.map(({ digest, size, mediaType }) => ({ digest, size, mediaType })), config };
}

/** Applies every layer of the layout's image onto `dest` (whiteouts delete). */
export async function unpackLayout(layout: string, dest: string): Promise<LayoutImage> {
  const img = await readLayoutImage(layout);
  await mkdir(dest, { recursive: true });
  for (const l of img.layers) await applyLayer({ path: blobPath(layout, l.digest), mediaType: l.mediaType }, dest, { format: 'flat' });
  return img;
}

/** Packages dpkg records as installed (what `dpkg -l` shows with status ii). */
export async function installedPackages(rootfs: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(rootfs, 'var/lib/dpkg/status'), 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
    const status = /^Status:\s*(.+)$/m.exec(stanza)?.[1];
    if (name && status?.trim() === 'install ok installed') out.push(name);
  }
  return out.sort();
}

/** Bytes of regular files under `dir` (hard links counted once). */
export async function treeSize(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await lstat(p);
        const key = `${st.dev}:${st.ino}`;
        if (st.nlink > 1 && seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      }
    }
  };
  await walk(dir);
  return total;
}

export interface RunInImageResult {
  exitCode: number;
  output: string;
  uid: number;
}

/** Runs `args` in an unpacked image as `user` (name or uid), with no network, via runc. */
export async function runInRootfs(rootfs: string, user: string, args: string[], scratchDir: string, env: string[] = []): Promise<RunInImageResult> {
  const u = await resolveUser(rootfs, user);
  const chunks: Buffer[] = [];
  const res = await runContainer({
    rootfs,
    args,
    env: ['PATH=/var/lib/openstack/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `HOME=${u.home}`, ...env],
    cwd: '/',
    uid: u.uid,
    gid: u.gid,
    additionalGids: u.additionalGids,
    network: 'none',
    mounts: [],
    scratchDir,
    onOutput: (c) => chunks.push(c),
  });
  return { exitCode: res.exitCode, output: Buffer.concat(chunks).toString('utf8'), uid: u.uid };
}

export interface ImageReport {
  name: string;
  size: number;
  unpacked: number;
  layers: number;
  packages: string[];
  buildTools: string[];
}

export async function reportImage(name: string, layout: string, rootfs: string): Promise<ImageReport> {
  const img = await unpackLayout(layout, rootfs);
  const packages = await installedPackages(rootfs);
  return { name, size: img.size, unpacked: await treeSize(rootfs), layers: img.layers.length, packages, buildTools: packages.filter(isBuildTool) };
}

export { humanSize } from '../util/size.js';

/** Renders rows as an aligned text table (first row = header). */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
