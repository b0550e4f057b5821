/**
 * The bake definition: files → evaluated blocks → the resolved targets to build, and the JSON
 * `--print` shows (shaped and escaped as buildx prints it).
 */
import os from 'node:os';
import { InputError, SourceError } from '../util/errors.js';
import { checkTarget } from './checks.js';
import { filesFromEnv, readBakeFiles } from './files.js';
import { evaluateBodies } from './load.js';
import { parseOverrides } from './overrides.js';
import { listTargets, listVariables, parseList } from './list.js';
import { finalContext, rebaseContextPaths } from './paths.js';
import { definedNames, errorAt, readTargets, targetDeps } from './resolve.js';
import { parseFile } from './syntax.js';
import { toDef } from './target.js';
import type { BakeDefinition, BakeFile, GroupDef, TargetDef } from './types.js';

export interface LoadOptions {
  /** Environment for variable overrides, `--set k.args.X` and SOURCE_DATE_EPOCH (default process.env). */
  env?: Record<string, string | undefined>;
  /** `--var NAME=VALUE`: wins over the environment. */
  vars?: Record<string, string>;
  /** Names to resolve (targets, groups, globs); default: every target the files define. */
  targets?: string[];
  /** `--set` overrides, in order. */
  overrides?: string[];
  /** Resolves secret and output paths in the checks (default process.cwd()). */
  cwd?: string;
  /** Paths in a file are relative to its directory (BUILDX_BAKE_FILE_RELATIVE_PATHS). */
  relativePaths?: boolean;
  /** Value of BAKE_CMD_CONTEXT (buildx: `cwd://`). */
  cmdContext?: string;
}

/** buildx's names for Node's architectures (BAKE_LOCAL_PLATFORM). */
export function localPlatform(): string {
  const arch = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm/v7', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[process.arch] ?? process.arch;
  return `${os.platform() === 'win32' ? 'windows' : os.platform()}/${arch}`;
}

/** Go's strconv.ParseBool for environment switches; unset or unparsable is false. */
export function envFlag(v: string | undefined): boolean {
  return v !== undefined && ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v.trim());
}

/** Loads and resolves bake files. Throws InputError/SourceError (exit 2) for bad input. */
export async function loadBake(files: BakeFile[], opts: LoadOptions = {}): Promise<BakeDefinition> {
  const env = opts.env ?? process.env;
  const envLookup = !envFlag(env.BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP);
  const vars = opts.vars ?? {};
  const bodies = [];
  for (const f of files) bodies.push(await parseFile(f));
  const cfg = evaluateBodies(bodies, {
    lookupVar: (n) => (Object.prototype.hasOwnProperty.call(vars, n) ? vars[n] : envLookup ? env[n] : undefined),
    builtins: { BAKE_CMD_CONTEXT: opts.cmdContext ?? 'cwd://', BAKE_LOCAL_PLATFORM: localPlatform() },
  });
  if (opts.relativePaths) rebaseContextPaths(cfg);
  const all = opts.targets === undefined;
  const names = opts.targets ?? cfg.targets.map((t) => t.name);
  const overrides = parseOverrides(opts.overrides ?? [], cfg.targets.map((t) => t.name), env, envLookup);
  const r = readTargets(cfg, names.length || !all ? names : [], { overrides, env });
  const def: BakeDefinition = { groups: {}, targets: {}, sources: {}, requested: all ? [] : r.requested, linked: [] };
  for (const [name, g] of r.groups) def.groups[name] = { ...(g.description ? { description: g.description } : {}), targets: [...g.targets] };
  for (const [name, t] of r.targets) {
    try {
      checkTarget(t, opts.cwd ?? process.cwd(), env);
    } catch (e) {
      if (e instanceof InputError && !(e instanceof SourceError)) throw errorAt(cfg, name, e.message);
      throw e;
    }
    t.context = finalContext(t.context!);
    def.targets[name] = toDef(t);
    if (t.linked) def.linked.push(name);
  }
  for (const name of definedNames(cfg)) if (cfg.sources[name]) def.sources[name] = cfg.sources[name]!;
  return def;
}

/** Escapes what buildx escapes when it prints: `${` and `%{` in values it would interpolate again. */
const escape = (s: string) => s.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
const escapeMap = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, escape(v)]));

function sorted<T>(m: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(m)
      .sort()
      .map((k) => [k, m[k]!]),
  );
}

/** buildx prints maps (and the attributes of each entry) with sorted keys. */
function printTarget(t: TargetDef): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(t)) {
    if (k === 'annotations') o[k] = (v as string[]).map(escape);
    else if (k === 'dockerfile-inline') o[k] = escape(v as string);
    else if (k === 'args' || k === 'labels' || k === 'extra-hosts') o[k] = sorted(escapeMap(v as Record<string, string>));
    else if (k === 'contexts') o[k] = sorted(v as Record<string, string>);
    else if (['attest', 'cache-from', 'cache-to', 'output'].includes(k)) o[k] = (v as Record<string, unknown>[]).map(sorted);
    else o[k] = v;
  }
  return o;
}

/** The JSON `docker buildx bake --print` shows. */
export function printView(def: BakeDefinition): { group?: Record<string, GroupDef>; target: Record<string, Record<string, unknown>> } {
  const target: Record<string, Record<string, unknown>> = {};
  for (const name of Object.keys(def.targets).sort()) target[name] = printTarget(def.targets[name]!);
  return Object.keys(def.groups).length ? { group: sorted(def.groups), target } : { target };
}

export interface Selection {
  /** The names asked for. */
  requested: string[];
  /** Every target to build: the requested ones and what they use as `target:` contexts. */
  targets: string[];
}

/** What to build from a resolved definition: `names` (default: what it was resolved for) with their dependencies. */
export function select(def: BakeDefinition, names: string[] = []): Selection {
  const requested = names.length ? names : def.requested.length ? def.requested : Object.keys(def.targets).filter((t) => !def.linked.includes(t));
  const targets: string[] = [];
  const visit = (n: string, seen: Set<string>) => {
    const g = def.groups[n];
    if (g && !seen.has(n)) {
      seen.add(n);
      for (const t of g.targets) visit(t, seen);
      return;
    }
    if (!def.targets[n]) {
      const known = Object.keys(def.targets).sort();
      throw new InputError(`unknown target or group "${n}"${known.length ? ` (resolved: ${known.join(', ')})` : ''}`);
    }
    if (!targets.includes(n)) targets.push(n);
  };
  for (const n of requested) visit(n, new Set());
  for (let i = 0; i < targets.length; i++) {
    for (const dep of targetDeps(def.targets[targets[i]!]!)) {
      if (!def.targets[dep]) throw new InputError(`target "${targets[i]}": context refers to unknown target "${dep}"`);
      if (!targets.includes(dep)) targets.push(dep);
    }
  }
  return { requested, targets };
}

export interface CliInput {
  files: string[];
  targets: string[];
  sets: string[];
  vars: string[];
  push?: boolean;
  load?: boolean;
  noCache?: boolean;
  /**
   * --push and --load become `*.push=true`/`*.load=true` overrides for --print, as in buildx. A
   * build takes --push from the scheduler instead, which pushes tagged targets and keeps untagged
   * intermediates local (buildx would refuse to push an image without a name).
   */
  print?: boolean;
  env: Record<string, string | undefined>;
  cwd: string;
  stdin?: AsyncIterable<unknown>;
}

/** The files, `--var` values and BUILDX_BAKE_FILE_RELATIVE_PATHS of a bake command line. */
async function cliInputs(inp: CliInput): Promise<{ files: BakeFile[]; vars: Record<string, string>; relativePaths: boolean }> {
  for (const t of inp.targets) if (/^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(t)) throw new InputError(`remote bake definitions are not supported by stratum: ${t}`);
  const names = inp.files.length ? inp.files : await filesFromEnv(inp.env, inp.cwd);
  const files = await readBakeFiles(names, inp.cwd, inp.stdin);
  const vars: Record<string, string> = {};
  for (const v of inp.vars) {
    if (v === '') continue;
    const eq = v.indexOf('=');
    if (eq < 0) throw new InputError(`--var ${v}: invalid variable, expected key=value`);
    if (eq === 0) throw new InputError(`--var ${v}: invalid variable, key is empty`);
    vars[v.slice(0, eq)] = v.slice(eq + 1);
  }
  const rel = inp.env.BUILDX_BAKE_FILE_RELATIVE_PATHS?.trim();
  if (rel && !['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(rel)) throw new InputError(`failed to parse BUILDX_BAKE_FILE_RELATIVE_PATHS value ${JSON.stringify(rel)}`);
  return { files, vars, relativePaths: envFlag(rel) };
}

/** `bake [TARGETS] -f ... --set ... --var ...` → the resolved definition, as buildx reads its flags. */
export async function definitionFromCli(inp: CliInput): Promise<BakeDefinition> {
  const { files, vars, relativePaths } = await cliInputs(inp);
  const overrides = [...inp.sets];
  if (inp.push && inp.print) overrides.push('*.push=true');
  if (inp.load && inp.print) overrides.push('*.load=true');
  if (inp.noCache) overrides.push('*.no-cache=true');
  return loadBake(files, {
    env: inp.env,
    vars,
    targets: inp.targets.length ? inp.targets : ['default'],
    overrides,
    cwd: inp.cwd,
    relativePaths,
  });
}

/** `bake --list SPEC`: the files evaluated (with --var and the environment), targets not resolved; as buildx prints it. */
export async function listFromCli(inp: CliInput, list: string): Promise<string> {
  const spec = parseList(list);
  const { files, vars } = await cliInputs(inp);
  const env = inp.env;
  const envLookup = !envFlag(env.BUILDX_BAKE_DISABLE_VARS_ENV_LOOKUP);
  const bodies = [];
  for (const f of files) bodies.push(await parseFile(f));
  const cfg = evaluateBodies(bodies, {
    lookupVar: (n) => (Object.prototype.hasOwnProperty.call(vars, n) ? vars[n] : envLookup ? env[n] : undefined),
    builtins: { BAKE_CMD_CONTEXT: 'cwd://', BAKE_LOCAL_PLATFORM: localPlatform() },
  });
  return spec.type === 'targets' ? listTargets(cfg, spec.format) : listVariables(cfg, spec.format);
}
