import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import { runContainer, checkExecutor } from '../worker/executor.js';
import type { SpecMount } from '../worker/runc-spec.js';
import { resolveUser } from '../worker/users.js';
import { storeLock } from '../store/index.js';
import { resolveImage, stateFromManifest } from './images.js';
import { Session } from './session.js';
import { DEFAULT_PATH } from './state.js';
import { HOST_PLATFORM } from './build.js';
import { withScratchRootfs } from '../worker/rootfs.js';

export interface RunImageOptions {
  root?: string;
  image: string;
  /** Replaces the image's CMD (what follows the image on the command line). */
  command?: string[];
  /** Replaces the image's ENTRYPOINT ([] clears it). */
  entrypoint?: string[];
  /** KEY=VALUE, added to (and overriding) the image's ENV. */
  env?: string[];
  /** HOST:CONTAINER[:ro|rw] */
  volumes?: string[];
  user?: string;
  workdir?: string;
  network?: 'host' | 'none';
  /** Pass this process's stdin to the command. */
  stdin?: boolean;
  signal?: AbortSignal;
}

/** The argv a container of this image runs, as `docker run` composes it from ENTRYPOINT, CMD and the command line. */
export function containerArgv(config: { Entrypoint?: string[] | null; Cmd?: string[] | null }, command?: string[], entrypoint?: string[]): string[] {
  const ep = entrypoint ?? config.Entrypoint ?? [];
  const cmd = command && command.length > 0 ? command : entrypoint !== undefined ? [] : (config.Cmd ?? []);
  return [...ep, ...cmd];
}

/** `-v HOST:CONTAINER[:ro|rw]` as a bind mount; the host path must exist (nothing is made on the host). */
export function parseVolume(spec: string): SpecMount {
  const parts = spec.split(':');
  const [host, target, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !host || !target || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    throw new InputError(`-v ${spec}: expected HOST:CONTAINER[:ro|rw]`);
  }
  if (!path.isAbsolute(target)) throw new InputError(`-v ${spec}: the container path must be absolute`);
  return { destination: target, type: 'bind', source: path.resolve(host), options: ['rbind', mode ?? 'rw'] };
}

/**
 * Runs a command in an image of the local store, the way `docker run --rm --network host` would: the image's
 * user, environment, working directory and entrypoint, on a throwaway writable layer over its snapshots. Returns
 * the command's exit code. The store is held shared meanwhile, so a prune cannot take the snapshots away.
 */
export async function runImage(o: RunImageOptions): Promise<number> {
  await checkExecutor();
  const session = await Session.get(o.root);
  const release = await storeLock(session.root, 'shared');
  try {
    const desc = await resolveImage(session, o.image);
    const state = await stateFromManifest(session, desc, HOST_PLATFORM);
    const cfg = state.config.config ?? {};
    const argv = containerArgv(cfg, o.command, o.entrypoint);
    if (argv.length === 0) throw new InputError(`${o.image} has no ENTRYPOINT or CMD: name a command to run`);
    const volumes = (o.volumes ?? []).map(parseVolume);
    for (const v of volumes) {
      if (!(await stat(v.source).catch(() => undefined))) throw new InputError(`-v: ${v.source} does not exist on this machine`);
    }
    const env = mergeEnv(cfg.Env ?? [], o.env ?? []);
    return await withScratchRootfs(session.snapshots, state.chain, async (rootfs) => {
      const user = await resolveUser(rootfs, o.user ?? cfg.User ?? 'root');
      const scratchDir = session.layout.bundles;
      await mkdir(scratchDir, { recursive: true });
      const r = await runContainer({
        rootfs,
        args: argv,
        env,
        cwd: o.workdir ?? (cfg.WorkingDir || '/'),
        uid: user.uid,
        gid: user.gid,
        additionalGids: user.additionalGids,
        network: o.network ?? 'host',
        mounts: [
          { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
          { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
          ...volumes,
        ],
        scratchDir,
        stdio: 'inherit',
        stdin: o.stdin ?? false,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return r.exitCode;
    });
  } finally {
    await release();
  }
}

/** The image's ENV with `KEY=VALUE` (or `KEY`, taken from this process's environment) laid over it. */
function mergeEnv(image: string[], extra: string[]): string[] {
  const out = new Map<string, string>();
  for (const kv of image) {
    const i = kv.indexOf('=');
    if (i > 0) out.set(kv.slice(0, i), kv.slice(i + 1));
  }
  if (!out.has('PATH')) out.set('PATH', DEFAULT_PATH);
  for (const kv of extra) {
    const i = kv.indexOf('=');
    if (i === 0) throw new InputError(`-e ${kv}: no variable name`);
    if (i < 0) {
      const v = process.env[kv];
      if (v !== undefined) out.set(kv, v);
    } else out.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return [...out].map(([k, v]) => `${k}=${v}`);
}
