/**
 * Instructions -> typed commands. Words stay raw (not expanded): the solver expands them when it dispatches
 * the step, with the stage's ENV and ARG values at that point.
 */
import { SourceError } from '../util/errors.js';
import { closest, didYouMean } from '../util/suggest.js';
import { nameValuePairs, parseDockerfile, parseHeredocWord, parseJsonArgs, splitWhitespace, splitWordsKeepQuotes } from './parser.js';
import { ShellLex } from './shell.js';
import type { Dockerfile, Heredoc, Instruction } from './types.js';

interface Base {
  ins: Instruction;
}

export interface FromCmd extends Base {
  kind: 'from';
  image: string;
  /** Stage name, lower-cased (stage names are case-insensitive). */
  name?: string;
  platform?: string;
}

export interface RunCmd extends Base {
  kind: 'run';
  /** Shell form text (for heredocs, the line after RUN, e.g. `<<EOF bash -xe`). */
  shell?: string;
  exec?: string[];
  heredocs: Heredoc[];
  /** Raw `--mount` values, in order. */
  mounts: string[];
  network?: 'default' | 'none' | 'host';
  security?: 'sandbox' | 'insecure';
}

export interface CopyCmd extends Base {
  kind: 'copy' | 'add';
  /**
   * All sources in order, raw; a heredoc source appears as written (`<<EOF`, `<<-'EOF'`), its body is the
   * next entry of `heredocs` (parseHeredocWord(source) gives its name).
   */
  sources: string[];
  /** The sources that are paths/URLs (heredoc sources left out). */
  paths: string[];
  dest: string;
  from?: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  keepGitDir: boolean;
  checksum?: string;
  /** ADD --unpack; undefined = default behaviour (local archives unpacked, URLs not). */
  unpack?: boolean;
  exclude: string[];
  parents: boolean;
  /** Inline files: each heredoc source becomes a file named `name` under dest. */
  heredocs: Heredoc[];
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface EnvCmd extends Base {
  kind: 'env';
  pairs: KeyValue[];
}
export interface LabelCmd extends Base {
  kind: 'label';
  pairs: KeyValue[];
}
export interface ArgCmd extends Base {
  kind: 'arg';
  pairs: { key: string; value?: string }[];
}
export interface WorkdirCmd extends Base {
  kind: 'workdir';
  path: string;
}
export interface UserCmd extends Base {
  kind: 'user';
  user: string;
}
export interface ShellCmd extends Base {
  kind: 'shell';
  shell?: string;
  exec?: string[];
}
export interface CmdCmd extends Base {
  kind: 'cmd';
  shell?: string;
  exec?: string[];
}
export interface EntrypointCmd extends Base {
  kind: 'entrypoint';
  shell?: string;
  exec?: string[];
}
export interface ExposeCmd extends Base {
  kind: 'expose';
  ports: string[];
}
export interface VolumeCmd extends Base {
  kind: 'volume';
  paths: string[];
}
export interface StopsignalCmd extends Base {
  kind: 'stopsignal';
  signal: string;
}
export interface HealthcheckCmd extends Base {
  kind: 'healthcheck';
  none: boolean;
  /** Docker's form: ['NONE'], ['CMD', ...args] or ['CMD-SHELL', command]. */
  test?: string[];
  /** Durations in nanoseconds (as in the image config); undefined = not given. */
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}
export interface OnbuildCmd extends Base {
  kind: 'onbuild';
  /** The trigger instruction's text, as stored in the image config and re-parsed by a later build. */
  trigger: string;
  /** The trigger, parsed and validated. */
  command: Command;
}
export interface MaintainerCmd extends Base {
  kind: 'maintainer';
  maintainer: string;
  /** Same as `maintainer` (the image config's author). */
  name: string;
}

export type Command =
  | FromCmd
  | RunCmd
  | CopyCmd
  | EnvCmd
  | ArgCmd
  | LabelCmd
  | WorkdirCmd
  | UserCmd
  | ShellCmd
  | CmdCmd
  | EntrypointCmd
  | ExposeCmd
  | VolumeCmd
  | StopsignalCmd
  | HealthcheckCmd
  | OnbuildCmd
  | MaintainerCmd;

type FlagKind = 'string' | 'bool' | 'array';

/** Flags each instruction takes (frontend/support.ts lists them with their status; a test keeps the two equal). */
export const ALLOWED_FLAGS: Record<string, Record<string, FlagKind>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'array', network: 'string', security: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'array' },
  ADD: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    checksum: 'string',
    unpack: 'bool',
    exclude: 'array',
  },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

const KNOWN = new Set([
  'FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'WORKDIR', 'USER', 'SHELL', 'CMD', 'ENTRYPOINT',
  'EXPOSE', 'VOLUME', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER',
]);

interface ParsedFlags {
  str: Map<string, string>;
  bool: Map<string, boolean>;
  arr: Map<string, string[]>;
}

function failer(file: string, ins: Instruction): (msg: string) => never {
  return (msg: string): never => {
    throw new SourceError(file, ins.line, ins.column, msg);
  };
}

function parseFlags(ins: Instruction, fail: (m: string) => never): ParsedFlags {
  const allowed = ALLOWED_FLAGS[ins.keyword] ?? {};
  const out: ParsedFlags = { str: new Map(), bool: new Map(), arr: new Map() };
  const seen = new Set<string>();
  for (const f of ins.flags) {
    const kind = allowed[f.name];
    if (!kind) {
      const names = Object.keys(allowed);
      const near = closest(f.name, names);
      fail(`unknown flag --${f.name} for ${ins.keyword}${near ? ` (did you mean --${near}?)` : ''}` + (names.length ? `; expected one of ${names.map((n) => '--' + n).join(', ')}` : '; it takes no flags'));
    }
    if (kind !== 'array' && seen.has(f.name)) fail(`duplicate flag specified: --${f.name}`);
    seen.add(f.name);
    if (kind === 'bool') {
      const v = f.value === null ? 'true' : f.value.toLowerCase();
      if (v !== 'true' && v !== 'false') fail(`expecting boolean value for flag --${f.name}, not: ${f.value}`);
      out.bool.set(f.name, v === 'true');
    } else {
      if (f.value === null) fail(`missing a value on flag --${f.name}: expected --${f.name}=<value>`);
      const v = f.value as string;
      if (kind === 'array') out.arr.set(f.name, [...(out.arr.get(f.name) ?? []), v]);
      else out.str.set(f.name, v);
    }
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): number | null {
  if (s === '0') return 0;
  const m = /^([+-]?)((?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(s);
  if (!m) return null;
  let total = 0;
  for (const part of (m[2] as string).matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] as string] as number);
  }
  return Math.round(m[1] === '-' ? -total : total);
}

function shellOrExec(ins: Instruction): { shell?: string; exec?: string[] } {
  if (ins.json) return { exec: ins.json };
  return { shell: ins.args };
}

function requireArgs(ins: Instruction, fail: (m: string) => never, what = 'at least one argument'): void {
  if (ins.args === '' && (ins.json === null || ins.json.length === 0)) fail(`${ins.keyword} requires ${what}`);
}

function toCommand(ins: Instruction, file: string, escape: '\\' | '`'): Command {
  const fail = failer(file, ins);
  if (!KNOWN.has(ins.keyword)) {
    fail(`unknown instruction ${JSON.stringify(ins.keyword)}${didYouMean(ins.keyword, KNOWN) || `; expected one of ${[...KNOWN].join(', ')}`}`);
  }
  const flags = parseFlags(ins, fail);
  switch (ins.keyword) {
    case 'FROM': {
      const words = splitWhitespace(ins.args);
      if (!(words.length === 1 || (words.length === 3 && (words[1] as string).toLowerCase() === 'as'))) {
        fail('FROM requires either one argument (FROM image) or three (FROM image AS name)');
      }
      const cmd: FromCmd = { kind: 'from', ins, image: words[0] as string };
      if (words.length === 3) {
        const name = (words[2] as string).toLowerCase();
        if (!/^[a-z][a-z0-9_.-]*$/.test(name)) {
          fail(`invalid name for build stage: ${JSON.stringify(words[2])}; a name must start with a letter and contain only letters, digits, '-', '_' and '.'`);
        }
        cmd.name = name;
      }
      const platform = flags.str.get('platform');
      if (platform !== undefined) cmd.platform = platform;
      return cmd;
    }
    case 'RUN': {
      requireArgs(ins, fail);
      const cmd: RunCmd = { kind: 'run', ins, ...shellOrExec(ins), heredocs: ins.heredocs, mounts: flags.arr.get('mount') ?? [] };
      const network = flags.str.get('network');
      if (network !== undefined) {
        if (network !== 'default' && network !== 'none' && network !== 'host') fail(`unsupported network mode ${JSON.stringify(network)}: expected default, none or host`);
        cmd.network = network as RunCmd['network'];
      }
      const security = flags.str.get('security');
      if (security !== undefined) {
        if (security !== 'sandbox' && security !== 'insecure') fail(`unsupported security mode ${JSON.stringify(security)}: expected sandbox or insecure`);
        cmd.security = security as RunCmd['security'];
      }
      return cmd;
    }
    case 'COPY':
    case 'ADD': {
      const words = ins.json ?? splitWhitespace(ins.args);
      if (words.length < 2) {
        fail(`${ins.keyword} requires at least two arguments (sources and a destination), got ${words.length}`);
      }
      const dest = words[words.length - 1] as string;
      if (ins.json === null && parseHeredocWord(dest)) fail(`${ins.keyword} cannot accept a heredoc as a destination`);
      const sources: string[] = [];
      const paths: string[] = [];
      const heredocs: Heredoc[] = [];
      for (const w of words.slice(0, -1)) {
        const h = ins.json === null ? parseHeredocWord(w) : null;
        if (h) {
          const doc = ins.heredocs[heredocs.length];
          if (!doc) fail(`${ins.keyword}: heredoc ${w} has no body`);
          heredocs.push(doc as Heredoc);
          sources.push(w);
        } else {
          sources.push(w);
          paths.push(w);
        }
      }
      const cmd: CopyCmd = {
        kind: ins.keyword === 'COPY' ? 'copy' : 'add',
        ins,
        sources,
        paths,
        dest,
        link: flags.bool.get('link') ?? false,
        keepGitDir: flags.bool.get('keep-git-dir') ?? false,
        exclude: flags.arr.get('exclude') ?? [],
        parents: flags.bool.get('parents') ?? false,
        heredocs,
      };
      for (const [k, field] of [['from', 'from'], ['chown', 'chown'], ['chmod', 'chmod'], ['checksum', 'checksum']] as const) {
        const v = flags.str.get(k);
        if (v !== undefined) cmd[field] = v;
      }
      const unpack = flags.bool.get('unpack');
      if (unpack !== undefined) cmd.unpack = unpack;
      if (cmd.from !== undefined && !literalWord(cmd.from, escape)) {
        // BuildKit decides a stage's dependencies before any ARG has a value, so it refuses any expansion here.
        fail(`variable expansion is not supported for --from=${cmd.from}: define a new stage with FROM using ARG from global scope as a workaround`);
      }
      return cmd;
    }
    case 'ENV':
    case 'LABEL': {
      requireArgs(ins, fail);
      const pairs = nameValuePairs(ins.keyword, ins.args, escape, fail).map((p) => ({ key: p.key, value: p.value }));
      for (const p of pairs) if (p.key === '') fail(`${ins.keyword} names can not be blank`);
      return ins.keyword === 'ENV' ? { kind: 'env', ins, pairs } : { kind: 'label', ins, pairs };
    }
    case 'ARG': {
      requireArgs(ins, fail);
      const pairs = splitWordsKeepQuotes(ins.args, escape).map((w) => {
        const eq = w.indexOf('=');
        const p: { key: string; value?: string } = eq < 0 ? { key: w } : { key: w.slice(0, eq), value: w.slice(eq + 1) };
        if (p.key === '') fail(`ARG names can not be blank: ${JSON.stringify(w)}`);
        return p;
      });
      return { kind: 'arg', ins, pairs };
    }
    case 'WORKDIR':
      requireArgs(ins, fail, 'exactly one argument');
      return { kind: 'workdir', ins, path: ins.args };
    case 'USER':
      requireArgs(ins, fail, 'exactly one argument');
      return { kind: 'user', ins, user: ins.args };
    case 'STOPSIGNAL':
      requireArgs(ins, fail, 'exactly one argument');
      return { kind: 'stopsignal', ins, signal: ins.args };
    case 'MAINTAINER':
      requireArgs(ins, fail, 'exactly one argument');
      return { kind: 'maintainer', ins, maintainer: ins.args, name: ins.args };
    case 'SHELL':
      if (!ins.json) fail('SHELL requires the arguments to be in JSON form, e.g. SHELL ["/bin/bash", "-c"]');
      if (ins.json?.length === 0) fail('SHELL requires at least one argument');
      return { kind: 'shell', ins, exec: ins.json as string[] };
    case 'CMD':
      return { kind: 'cmd', ins, ...(ins.args === '' ? { exec: [] } : shellOrExec(ins)) };
    case 'ENTRYPOINT':
      return { kind: 'entrypoint', ins, ...(ins.args === '' ? { exec: [] } : shellOrExec(ins)) };
    case 'EXPOSE': {
      requireArgs(ins, fail);
      return { kind: 'expose', ins, ports: splitWhitespace(ins.args) };
    }
    case 'VOLUME': {
      const paths = ins.json ?? splitWhitespace(ins.args);
      if (paths.length === 0) fail('VOLUME requires at least one argument');
      for (const p of paths) if (p.trim() === '') fail('VOLUME specified can not be an empty string');
      return { kind: 'volume', ins, paths };
    }
    case 'HEALTHCHECK':
      return healthcheck(ins, flags, fail);
    case 'ONBUILD': {
      const trig = ins.trigger;
      if (!trig) return fail('ONBUILD requires at least one argument (the trigger instruction)');
      if (trig.keyword === 'ONBUILD') fail("chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
      if (trig.keyword === 'FROM' || trig.keyword === 'MAINTAINER') fail(`${trig.keyword} isn't allowed as an ONBUILD trigger`);
      const command = toCommand(trig, file, escape);
      let trigger = ins.text.replace(/^\s*onbuild\s*/i, '');
      // Keep heredoc bodies with the trigger so that re-parsing it later gives the same instruction.
      for (const h of trig.heredocs) trigger += '\n' + h.content + h.name;
      return { kind: 'onbuild', ins, trigger, command };
    }
  }
  return fail(`unknown instruction: ${ins.keyword}`);
}

/** A word that expands to itself with no variables set (no `$`, quotes or escapes that change it). */
function literalWord(word: string, escape: '\\' | '`'): boolean {
  try {
    return new ShellLex(escape).expandWord(word, {}) === word;
  } catch {
    return false;
  }
}

function healthcheck(ins: Instruction, flags: ParsedFlags, fail: (m: string) => never): HealthcheckCmd {
  const m = /^(\S+)\s*([\s\S]*)$/u.exec(ins.args);
  if (!m) return fail('HEALTHCHECK requires an argument: CMD <command> or NONE');
  const typ = (m[1] as string).toUpperCase();
  const rest = m[2] as string;
  if (typ === 'NONE') {
    if (rest !== '') fail('HEALTHCHECK NONE takes no arguments');
    if (ins.flags.length > 0) fail('HEALTHCHECK NONE takes no options');
    return { kind: 'healthcheck', ins, none: true, test: ['NONE'] };
  }
  if (typ !== 'CMD') fail(`unknown type ${JSON.stringify(m[1])} in HEALTHCHECK: expected CMD or NONE`);
  const j = parseJsonArgs(rest);
  let test: string[];
  if (Array.isArray(j)) test = ['CMD', ...j];
  else test = ['CMD-SHELL', rest];
  if (rest === '' || (Array.isArray(j) && j.length === 0)) fail('missing command after HEALTHCHECK CMD');
  const cmd: HealthcheckCmd = { kind: 'healthcheck', ins, none: false, test };
  const durations = [['interval', 'interval'], ['timeout', 'timeout'], ['start-period', 'startPeriod'], ['start-interval', 'startInterval']] as const;
  for (const [flag, field] of durations) {
    const v = flags.str.get(flag);
    if (v === undefined) continue;
    const ns = parseDuration(v);
    if (ns === null) fail(`invalid duration for --${flag}: ${JSON.stringify(v)}; expected e.g. 30s, 1m30s`);
    else if (ns !== 0 && ns < 1e6) fail(`--${flag} cannot be less than 1ms`);
    else if (ns < 0) fail(`--${flag} cannot be negative`);
    else cmd[field] = ns;
  }
  const retries = flags.str.get('retries');
  if (retries !== undefined) {
    if (!/^[+-]?\d+$/.test(retries)) fail(`invalid value for --retries: ${JSON.stringify(retries)}; expected an integer`);
    const n = Number(retries);
    if (n < 0) fail('--retries cannot be negative');
    cmd.retries = n;
  }
  return cmd;
}

/** Validates every instruction and gives its typed form. */
export function toCommands(df: Dockerfile): Command[] {
  return df.instructions.map((ins) => toCommand(ins, df.file, df.escape));
}

/** Parses an ONBUILD trigger (as stored in an image config) into its command. */
export function parseTrigger(trigger: string, where = 'ONBUILD trigger', escape: '\\' | '`' = '\\'): Command {
  // The escape character of the Dockerfile that defined the trigger still applies to its text.
  const df = parseDockerfile(escape === '`' ? '# escape=`\n' + trigger : trigger, where);
  const cmds = toCommands(df);
  if (cmds.length !== 1) throw new SourceError(where, 1, 1, `expected exactly one instruction in ONBUILD trigger, got ${cmds.length}`);
  const c = cmds[0] as Command;
  if (c.kind === 'onbuild' || c.kind === 'from' || c.kind === 'maintainer') {
    throw new SourceError(where, 1, 1, `${c.ins.keyword} isn't allowed as an ONBUILD trigger`);
  }
  return c;
}

/** How to execute a RUN, following BuildKit's heredoc rules. */
export type RunScript =
  | { type: 'exec'; args: string[] }
  /** Run `script` with the stage's shell (SHELL + [script]). */
  | { type: 'shell'; script: string }
  /** A lone heredoc starting with `#!`: write it to a file and execute that file directly. */
  | { type: 'file'; name: string; content: string };

export function runScript(cmd: RunCmd): RunScript {
  if (cmd.exec) return { type: 'exec', args: cmd.exec };
  const shell = cmd.shell ?? '';
  const first = cmd.heredocs[0];
  if (!first) return { type: 'shell', script: shell };
  if (cmd.heredocs.length === 1 && parseHeredocWord(shell.trim())) {
    if (first.content.startsWith('#!')) return { type: 'file', name: first.name, content: first.content };
    return { type: 'shell', script: first.content };
  }
  let script = shell;
  for (const h of cmd.heredocs) script += '\n' + h.content + h.name;
  return { type: 'shell', script };
}
