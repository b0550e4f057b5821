import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildRuntimeSpec, type ProcessSpec, type SpecMount } from './runc-spec.js';
import { EnvironmentError, StratumError } from '../util/errors.js';
import { CONTAINER_PREFIX } from '../store/index.js';
import { which } from '../util/exec.js';

export interface ExecRequest extends ProcessSpec {
  rootfs: string;
  network: 'host' | 'none';
  mounts: SpecMount[];
  /** RUN --security=insecure (see SpecOptions.privileged). */
  privileged?: boolean;
  /** Where the bundle directory is made (inside the store's tmp). */
  scratchDir: string;
  onOutput?: (chunk: Buffer) => void;
  signal?: AbortSignal;
  /**
   * `inherit`: the container reads and writes this process's own stdin, stdout and stderr (`stratum run`), so
   * nothing is collected for `tail`; stdin is inherited only with `stdin: true`.
   */
  stdio?: 'collect' | 'inherit';
  stdin?: boolean;
}

export interface ExecResult {
  exitCode: number;
  /** The last lines of output, for error messages. */
  tail: string;
}

/** Where runc (run as root, without --root) keeps the state of its containers. */
const RUNC_STATE = '/run/runc';

let checked = false;

/** Fails with a one-line hint when this machine cannot run containers. */
export async function checkExecutor(): Promise<void> {
  if (checked) return;
  if (process.getuid?.() !== 0) {
    throw new EnvironmentError('stratum needs root to run build steps (overlayfs mounts and runc): run it with sudo or as root');
  }
  if (!(await which('runc'))) {
    throw new EnvironmentError('runc is not installed: apt-get install runc');
  }
  checked = true;
}

/** Runs one process in a fresh runc container over `rootfs` and waits for it. */
export async function runContainer(req: ExecRequest): Promise<ExecResult> {
  await checkExecutor();
  const id = `${CONTAINER_PREFIX}${randomBytes(6).toString('hex')}`;
  const bundle = path.join(req.scratchDir, id);
  await mkdir(bundle, { recursive: true });
  const spec = buildRuntimeSpec({
    rootfs: req.rootfs,
    hostname: 'stratum',
    network: req.network,
    process: { args: req.args, env: req.env, cwd: req.cwd, uid: req.uid, gid: req.gid, additionalGids: req.additionalGids },
    extraMounts: req.mounts,
    privileged: req.privileged,
  });
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const lines: string[] = [];
  let partial = '';
  const keep = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const parts = text.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
    req.onOutput?.(chunk);
  };
  try {
    const exitCode = await new Promise<number>((resolve, reject) => {
      const inherit = req.stdio === 'inherit';
      const child = spawn('runc', ['run', '--bundle', bundle, id], {
        stdio: inherit ? [req.stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
      });
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const onAbort = () => {
        spawn('runc', ['kill', id, 'KILL'], { stdio: 'ignore' }).on('error', () => undefined);
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => reject(new StratumError(`cannot start runc: ${e.message}`)));
      child.on('close', (code, sig) => {
        req.signal?.removeEventListener('abort', onAbort);
        resolve(code ?? (sig ? 128 + 9 : 1));
      });
    });
    if (partial) lines.push(partial);
    if (req.signal?.aborted) throw new StratumError(req.stdio === 'inherit' ? 'interrupted' : 'build cancelled', 130);
    return { exitCode, tail: lines.slice(-20).join('\n') };
  } finally {
    // `runc run` removes its container when the process exits; only one it left behind (killed, or runc
    // itself failed half-way) needs a delete, and skipping the extra runc start saves a good part of a short step.
    if (existsSync(path.join(RUNC_STATE, id))) {
      await new Promise<void>((resolve) => {
        const c = spawn('runc', ['delete', '--force', id], { stdio: 'ignore' });
        c.on('close', () => resolve());
        c.on('error', () => resolve());
      });
    }
    await rm(bundle, { recursive: true, force: true });
  }
}
