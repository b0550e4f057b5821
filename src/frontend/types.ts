/** Syntax tree of a Dockerfile: instructions as written, before any variable expansion. */

export interface Flag {
  /** Name without the leading `--`, e.g. `from` for `--from=build`. */
  name: string;
  /** `null` when the flag had no `=` (`--link`). */
  value: string | null;
}

export interface Heredoc {
  /** The delimiter word without quotes (`EOF` for `<<'EOF'`). */
  name: string;
  /** Body lines, each followed by '\n'; for `<<-` leading tabs are already stripped. */
  content: string;
  /** False when any part of the delimiter was quoted: the body must not be expanded. */
  expand: boolean;
  /** True for `<<-`. */
  chomp: boolean;
  /** File descriptor prefix (`3<<EOF`), 0 when absent. */
  fd: number;
}

export interface Instruction {
  /** Upper case keyword: 'RUN', 'COPY', ... */
  keyword: string;
  flags: Flag[];
  /** Argument text after the flags, continuation lines joined (without the newline), heredoc bodies excluded. */
  args: string;
  /** Exec (JSON) form, for the instructions that accept it, when `args` is a JSON array of strings. */
  json: string[] | null;
  heredocs: Heredoc[];
  /** 1-based position of the keyword; endLine is the last line consumed (heredoc terminators included). */
  line: number;
  column: number;
  endLine: number;
  /** The source text of the instruction, continuation lines and heredoc bodies included, as written. */
  original: string;
  /** The logical line as BuildKit sees it: continuation lines joined, comments and empty lines dropped. */
  text: string;
  /** For ONBUILD: the trigger instruction, parsed. */
  trigger?: Instruction;
}

export interface Dockerfile {
  file: string;
  escape: '\\' | '`';
  /** Value of the `# syntax=` parser directive. */
  syntax?: string;
  /** Value of the `# check=` parser directive. */
  check?: string;
  instructions: Instruction[];
  comments: { line: number; text: string }[];
}
