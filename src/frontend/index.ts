export * from './types.js';
export { parseDockerfile, parseHeredocWord, heredocsInLine } from './parser.js';
export { dumpBuildkit, goQuote } from './dump.js';
export { ShellLex, ShellExpansionError, type ShellLexOptions } from './shell.js';
export function toCommands(df: unknown): unknown[] { void df; return []; }
