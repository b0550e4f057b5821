/**
 * Errors users can act on. The CLI prints `message` alone (no stack) and exits with `exitCode`,
 * so scripts can tell bad input (2) from a build that failed (1).
 */
export class StratumError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StratumError';
    this.exitCode = exitCode;
  }
}

/** Bad input: a malformed file, an unknown flag value, a missing context. Exit code 2. */
export class InputError extends StratumError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 2, options);
    this.name = 'InputError';
  }
}

/** Input that points at a file position: rendered as `file:line:column: message`. */
export class SourceError extends InputError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(file: string, line: number, column: number, message: string) {
    super(`${file}:${line}:${column}: ${message}`);
    this.name = 'SourceError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** Something the machine lacks (root, runc, mmdebstrap). Exit code 3. */
export class EnvironmentError extends StratumError {
  constructor(message: string) {
    super(message, 3);
    this.name = 'EnvironmentError';
  }
}
