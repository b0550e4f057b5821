import { StratumError } from '../util/errors.js';

/** Words for the system errors a user can meet (a full disk, a read-only store), instead of Node's codes. */
const SYSTEM_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'input/output error',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ENOMEM: 'out of memory',
};

const NO_SPACE = /no space left on device|disk quota exceeded/i;

function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let c: unknown = e; c && out.length < 10; c = (c as { cause?: unknown }).cause) out.push(c);
  return out;
}

/**
 * What the CLI prints for an error, and the exit code: a user-facing error as it is; a system error (a full disk,
 * a permission) in one line naming the file and exit 1 — the machine, not the input; anything else is a bug in
 * stratum, said so in one line (the stack with STRATUM_DEBUG=1).
 */
export function describeError(e: unknown, env = process.env): { message: string; exitCode: number } {
  const chain = causes(e);
  const sys = chain.find((c): c is NodeJS.ErrnoException => typeof (c as NodeJS.ErrnoException)?.code === 'string' && typeof (c as NodeJS.ErrnoException).syscall === 'string');
  // A full disk is the same failure whichever layer met it (a write, a child's stderr): say it the same way.
  const noSpace = sys?.code === 'ENOSPC' || sys?.code === 'EDQUOT' || (e instanceof Error && NO_SPACE.test(e.message));
  if (noSpace) {
    const where = sys?.path ? ` (writing ${sys.path})` : '';
    return { message: `${sys?.code === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device'}${where}: free some space (stratum prune, stratum du) and run it again`, exitCode: 1 };
  }
  if (e instanceof StratumError) return { message: e.message, exitCode: e.exitCode };
  if (sys) {
    const what = SYSTEM_ERRORS[sys.code!] ?? (sys.message ?? String(sys)).split('\n')[0];
    const where = sys.path ? `: ${sys.path}${(sys as { dest?: string }).dest ? ` -> ${(sys as { dest?: string }).dest}` : ''}` : '';
    return { message: `${what}${where} (${sys.syscall})`, exitCode: 1 };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  const first = (err.message || err.name).split('\n')[0];
  if (env.STRATUM_DEBUG) return { message: `internal error: ${err.stack ?? first}`, exitCode: 1 };
  return { message: `internal error: ${first} (a bug in stratum: run with STRATUM_DEBUG=1 for the stack trace, and report it)`, exitCode: 1 };
}
