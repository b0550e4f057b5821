import { spawn, type SpawnOptions } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { StratumError } from './errors.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions extends SpawnOptions {
  /** Written to the child's stdin, then closed. */
  input?: string | Buffer;
  /** Reject unless the exit code is 0 (default true). */
  check?: boolean;
  /** Called with each chunk of combined output, for live progress. */
  onOutput?: (chunk: Buffer) => void;
}

/** Runs a program (never through a shell) and collects its output. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const { input, check = true, onOutput, ...spawnOpts } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => {
      out.push(c);
      onOutput?.(c);
    });
    child.stderr!.on('data', (c: Buffer) => {
      err.push(c);
      onOutput?.(c);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new StratumError(`${cmd}: command not found`, 3));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      const res = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (check && res.code !== 0) {
        const tail = (res.stderr || res.stdout).trim().split('\n').slice(-15).join('\n');
        reject(new StratumError(`${cmd} ${args.join(' ')} exited with ${res.code}${signal ? ` (${signal})` : ''}\n${tail}`));
      } else resolve(res);
    });
    if (input !== undefined) child.stdin!.end(input);
    else child.stdin!.end();
  });
}

/** True when `cmd` is an executable file in one of the PATH directories. */
export async function which(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      await access(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * A child's stdout, held from now on: when a child exits, Node discards whatever of its stdout nobody is reading
 * yet, and a small layer can be compressed before the store gets round to reading it.
 */
export function keepOutput(out: Readable): Readable {
  return out.pipe(new PassThrough({ highWaterMark: 1 << 20 }));
}
