/**
 * Dockerfile frontend: text -> instructions (BuildKit-compatible lexing), typed commands, shell-word
 * expansion, RUN --mount parsing and the stage plan. Words in commands are raw; the solver expands them.
 */
export * from './types.js';
export { parseDockerfile, parseHeredocWord, heredocsInLine } from './parser.js';
export { dumpBuildkit, goQuote } from './dump.js';
export { ShellLex, ShellExpansionError, expandHeredocBody, type ShellLexOptions } from './shell.js';
export * from './commands.js';
export { argValue } from './args.js';
export { REBUILD_TIME_RE, rebuildTimeOf } from './rebuild-time.js';
export {
  parseMount,
  mountFrom,
  parseChmod,
  applyChmod,
  parseChown,
  parseSize,
  type MountSpec,
  type ChmodSpec,
  type ChmodClause,
  type ChownSpec,
} from './mount.js';
export * from './plan.js';
