import { rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { importTarball } from '../exporter/index.js';
import type { ContentStore, Descriptor } from '../store/index.js';
import { run, which } from '../util/exec.js';
import { EnvironmentError, InputError } from '../util/errors.js';

export interface BootstrapOptions {
  suite: string;
  variant?: string;
  include?: string[];
  mirror?: string;
  architecture?: string;
  /** Fixes file times, package install times and the image's `created` (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  onOutput?: (chunk: Buffer) => void;
}

const VARIANTS = new Set(['extract', 'custom', 'essential', 'apt', 'required', 'minbase', 'buildd', 'important', 'debootstrap', 'standard']);

/**
 * A Debian base image straight from the archive with mmdebstrap, for machines with no Docker
 * Hub: mmdebstrap writes a rootfs tarball, which becomes a one-layer image.
 */
export async function bootstrapDebian(store: ContentStore, tmpDir: string, o: BootstrapOptions): Promise<{ manifest: Descriptor }> {
  if (!(await which('mmdebstrap'))) throw new EnvironmentError('mmdebstrap is not installed: apt-get install mmdebstrap');
  const variant = o.variant ?? 'minbase';
  if (!VARIANTS.has(variant)) throw new InputError(`unknown mmdebstrap variant "${variant}" (one of ${[...VARIANTS].join(', ')})`);
  if (!/^[a-z0-9.-]+$/.test(o.suite)) throw new InputError(`invalid suite name "${o.suite}"`);
  const tarball = path.join(tmpDir, `bootstrap-${randomBytes(6).toString('hex')}.tar`);
  const args = ['--mode=root', '--format=tar', `--variant=${variant}`, '--aptopt=Acquire::Retries "3"'];
  if (o.include?.length) args.push(`--include=${o.include.join(',')}`);
  if (o.architecture) args.push(`--architectures=${o.architecture}`);
  // Images should not carry apt's downloaded lists; the image's first `apt-get update` fetches them.
  args.push('--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin');
  args.push(o.suite, tarball);
  if (o.mirror) args.push(o.mirror);
  const env = { ...process.env, ...(o.sourceDateEpoch !== undefined ? { SOURCE_DATE_EPOCH: String(o.sourceDateEpoch) } : {}) };
  try {
    await run('mmdebstrap', args, { env, onOutput: o.onOutput });
    const { manifest } = await importTarball(store, tarball, {
      compression: 'gzip',
      sourceDateEpoch: o.sourceDateEpoch,
      architecture: o.architecture ?? 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['bash'] },
      createdBy: `mmdebstrap --variant=${variant} ${o.suite}${o.include?.length ? ` --include=${o.include.join(',')}` : ''}`,
    });
    return { manifest };
  } finally {
    await rm(tarball, { force: true });
  }
}
