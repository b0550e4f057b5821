import { chown, chmod, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { formatPlatform, hostPlatform, parseMount, runScript, type Command, type MountSpec } from '../frontend/index.js';
import { InputError, StratumError } from '../util/errors.js';
import { runContainer } from '../worker/executor.js';
import type { SpecMount } from '../worker/runc-spec.js';
import { STANDARD_MOUNT_POINTS } from '../worker/runc-spec.js';
import { resolveUser } from '../worker/users.js';
import { collectSources, hashSources, materializeSource, type SourceRoot } from '../worker/sources.js';
import { resolveInContext, resolveInRoot } from '../worker/securejoin.js';
import { mountOverlay, mountReadonlyOverlay, unmount } from '../worker/overlay.js';
import { cacheKey } from './cache.js';
import { expansionEnv, fromState, stagePlatform, type BuildContext, type StageScope } from './context.js';
import { shellOf, historyText } from './metadata.js';
import { advance, DEFAULT_PATH, type StageState } from './state.js';
import { lowerDirs, missingMountPoints, removeMountStubs, withWritableRootfs, writeTempFile } from '../worker/rootfs.js';
import { lookupCache, recordCache } from './lookup.js';
import { CacheMounts } from './cachemounts.js';
import { prepareSecret, prepareSsh } from './runmounts.js';

type RunCmd = Extract<Command, { kind: 'run' }>;

/** The argv a RUN executes; a heredoc script with a shebang is mounted and run as a file. */
export function runArgv(cmd: RunCmd, state: StageState): { argv: string[]; script?: { content: string } } {
  const r = runScript(cmd);
  if (r.type === 'exec') return { argv: r.args };
  if (r.type === 'file') return { argv: [SCRIPT_PATH], script: { content: r.content } };
  return { argv: [...shellOf(state), r.script] };
}

const SCRIPT_PATH = '/dev/.stratum-script';

export async function runStep(ctx: BuildContext, scope: StageScope, state: StageState, cmd: RunCmd, n: number) {
  // Only a RUN executes the platform's binaries: a stage for another platform fails here, not the whole build.
  const platform = stagePlatform(ctx, scope.stage);
  const host = hostPlatform();
  if (platform.os !== host.os || platform.architecture !== host.architecture) {
    throw new InputError(
      `${ctx.df.file}:${cmd.ins.line}: RUN cannot run for ${formatPlatform(platform)} on this ${formatPlatform(host)} machine (no emulation); ` +
        'build the stage FROM --platform=$BUILDPLATFORM, or for this platform',
    );
  }
  const env = expansionEnv(scope, state);
  let sshIndex = 0;
  const mountSpecs: MountSpec[] = cmd.mounts.map((raw) => {
    const m = parseMount(ctx.lex.expandWord(raw, env), { file: ctx.df.file, line: cmd.ins.line }, sshIndex);
    if (m.type === 'ssh') sshIndex++;
    return m;
  });
  const network = cmd.network ?? 'default';
  if (!['default', 'none', 'host'].includes(network)) {
    throw new InputError(`${ctx.df.file}:${cmd.ins.line}: --network must be default, none or host, not ${network}`);
  }
  const security = cmd.security ?? 'sandbox';
  checkEntitlements(ctx, cmd.ins.line, network, security);
  const { argv, script } = runArgv(cmd, state);
  const processEnv = runEnv(scope, state);
  // As BuildKit's ExecOp: the first ssh mount's socket is SSH_AUTH_SOCK unless the image sets it.
  const firstSsh = mountSpecs.find((m) => m.type === 'ssh');
  if (firstSsh && !processEnv.some((kv) => kv.startsWith('SSH_AUTH_SOCK='))) processEnv.push(`SSH_AUTH_SOCK=${firstSsh.target}`);
  const cfg = state.config.config ?? {};
  const at = `${ctx.df.file}:${cmd.ins.line}: RUN --mount`;
  const mountKeys = await Promise.all(mountSpecs.map((m) => mountKey(ctx, m, at)));
  const key = cacheKey(
    state.key,
    'run',
    JSON.stringify(argv),
    JSON.stringify(processEnv),
    cfg.User ?? '',
    cfg.WorkingDir ?? '/',
    network,
    JSON.stringify(mountKeys),
    // Sandbox (the default) adds nothing, so keys from before --security was honoured stay valid.
    ...(security === 'insecure' ? ['insecure'] : []),
    // --add-host entries are part of what the step ran with, as in BuildKit's exec meta; none keeps old keys.
    ...(ctx.opts.extraHosts?.length ? [JSON.stringify(ctx.opts.extraHosts)] : []),
  );
  const createdBy = historyText(`RUN ${cmd.ins.text.replace(/^RUN\s+/i, '')}`);
  const hit = await lookupCache(ctx, scope, key);
  if (hit) return { state: advance(state, key, hit.snapshot, createdBy), cached: true };

  const scratch = ctx.session.layout.bundles;
  await mkdir(scratch, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  let result: { exitCode: number; tail: string } | undefined;
  const outcome = await withWritableRootfs(ctx.session.snapshots, state.chain, async (merged, upper) => {
    try {
      const user = await resolveUser(merged, cfg.User ?? 'root');
      const prepared: SpecMount[] = [];
      const secretEnv: string[] = [];
      for (const m of mountSpecs) {
        const where = `${ctx.df.file}:${cmd.ins.line}: RUN --mount=type=${m.type}${m.target ? `,target=${m.target}` : ''}`;
        if (m.type === 'secret') {
          const s = await prepareSecret(ctx, m, where, cleanups);
          if (s.mount) prepared.push(s.mount);
          if (s.env) secretEnv.push(s.env);
        } else if (m.type === 'ssh') {
          const s = await prepareSsh(ctx, m, where, cleanups);
          if (s) prepared.push(s);
        } else prepared.push(await prepareMount(ctx, m, cmd.ins.line, cleanups));
      }
      const extra: SpecMount[] = [
        { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
        { destination: '/etc/hosts', type: 'bind', source: await hostsFile(ctx, cleanups), options: ['rbind', 'ro'] },
        ...prepared,
      ];
      if (script) {
        const file = await writeTempFile(ctx.session.snapshots, script.content, 0o755);
        cleanups.push(() => rm(path.dirname(file), { recursive: true, force: true }));
        extra.push({ destination: SCRIPT_PATH, type: 'bind', source: file, options: ['rbind', 'ro'] });
      }
      const stubs = await missingMountPoints(merged, [...STANDARD_MOUNT_POINTS, ...extra.map((m) => m.destination)]);
      const cwd = cfg.WorkingDir || '/';
      result = await runContainer({
        rootfs: merged,
        args: argv,
        // Proxy build args and secrets reach the process but neither the cache key nor the image.
        env: withOverrides(processEnv, [...proxyEnv(ctx), ...secretEnv]),
        privileged: security === 'insecure',
        cwd,
        uid: user.uid,
        gid: user.gid,
        additionalGids: user.additionalGids,
        network: network === 'none' ? 'none' : 'host',
        mounts: extra,
        scratchDir: scratch,
        onOutput: (c) => ctx.emit({ kind: 'step-log', stage: scope.name, step: n, data: c.toString('utf8'), time: Date.now() }),
        signal: ctx.signal,
      });
      await removeMountStubs(upper, stubs);
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }
    if (result && result.exitCode !== 0) {
      throw new StratumError(
        `${ctx.df.file}:${cmd.ins.line}: RUN ${cmd.ins.text.replace(/^RUN\s+/i, '').slice(0, 200)}\n` +
          `process exited with code ${result.exitCode}; last output:\n${result.tail}`,
      );
    }
  });
  await recordCache(ctx, key, outcome.snapshot, createdBy);
  return { state: advance(state, key, outcome.snapshot, createdBy), cached: false };
}

/** The host's /etc/hosts, plus the --add-host entries when there are any. */
async function hostsFile(ctx: BuildContext, cleanups: (() => Promise<void>)[]): Promise<string> {
  const extra = ctx.opts.extraHosts ?? [];
  if (!extra.length) return '/etc/hosts';
  const base = await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1\tlocalhost\n');
  const text = `${base.replace(/\n?$/, '\n')}${extra.map((h) => `${h.ip}\t${h.host}\n`).join('')}`;
  const file = await writeTempFile(ctx.session.snapshots, text, 0o644);
  cleanups.push(() => rm(path.dirname(file), { recursive: true, force: true }));
  return file;
}

/** `--network=host` and `--security=insecure` need the entitlement granted (`--allow`), as in buildx. */
function checkEntitlements(ctx: BuildContext, line: number, network: string, security: string): void {
  const granted = ctx.opts.entitlements ?? [];
  for (const [asked, flag, ent] of [
    [network === 'host', '--network=host', 'network.host'],
    [security === 'insecure', '--security=insecure', 'security.insecure'],
  ] as const) {
    if (asked && !granted.includes(ent)) throw new InputError(`${ctx.df.file}:${line}: RUN ${flag}: entitlement ${ent} is not allowed (grant it with --allow ${ent})`);
  }
}

/** BuildKit's predefined proxy args: given with --build-arg (either case), they reach RUN without an ARG line. */
export const PROXY_ARGS = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'];

/** As BuildKit's proxy env: each set proxy in both cases, the lower-case arg winning over the upper-case one. */
function proxyEnv(ctx: BuildContext): string[] {
  const args = ctx.opts.buildArgs ?? {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(args, k) && args[k] !== '';
  return PROXY_ARGS.flatMap((name) => {
    const lower = name.toLowerCase();
    const v = has(lower) ? args[lower] : has(name) ? args[name] : undefined;
    return v === undefined ? [] : [`${name}=${v}`, `${lower}=${v}`];
  });
}

/** `env` with each NAME=value of `extra` replacing an entry of that name or added at the end. */
function withOverrides(env: string[], extra: string[]): string[] {
  const out = [...env];
  for (const kv of extra) {
    const name = kv.slice(0, kv.indexOf('=') + 1);
    const i = out.findIndex((e) => e.startsWith(name));
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

/** The environment of a RUN: the image ENV plus the stage's declared build args. */
function runEnv(scope: StageScope, state: StageState): string[] {
  const env = [...(state.config.config?.Env ?? [])];
  const names = new Set(env.map((kv) => kv.slice(0, kv.indexOf('='))));
  if (!names.has('PATH')) env.unshift(`PATH=${DEFAULT_PATH}`);
  for (const [k, v] of scope.args) {
    if (v !== undefined && !names.has(k)) env.push(`${k}=${v}`);
  }
  return env;
}

/** What a mount contributes to the step's key: its settings and, for binds, the content it shows. */
async function mountKey(ctx: BuildContext, m: MountSpec, where: string): Promise<string> {
  const settings = JSON.stringify(m);
  if (m.type !== 'bind') return settings;
  if (m.from) {
    const from = await fromState(ctx, m.from, `${where} from=${m.from}`);
    if (from.kind === 'state') return `${settings}:${from.state.key}`;
    const items = await collectSources(from.source, [m.source ?? '/'], `${where} from=${m.from}`);
    return `${settings}:${await hashSources(items, { withOwners: false })}`;
  }
  const items = await collectSources(ctx.contextSource, [m.source ?? '/'], where);
  return `${settings}:${await hashSources(items, { withOwners: false })}`;
}

/**
 * The host path a bind mount of a context shows. With .dockerignore rules it is a tree of its own holding only
 * what they let through (a `.env` the rules exclude must not be readable by RUN), as COPY sees it; without
 * rules, the context directory itself.
 */
async function contextView(ctx: BuildContext, src: SourceRoot, rel: string, where: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  if (!src.ignored) return resolveInContext(src.root, rel, where);
  const items = await collectSources(src, [rel], where);
  if (items.length !== 1) throw new InputError(`${where}: source=${rel} matches ${items.length} paths; a bind mount shows one`);
  const dir = ctx.session.staging('bindMount');
  await mkdir(dir);
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return materializeSource(items[0]!, dir);
}

const cacheMountsByDir = new Map<string, CacheMounts>();

function cacheMountsFor(dir: string): CacheMounts {
  let cm = cacheMountsByDir.get(dir);
  if (!cm) {
    cm = new CacheMounts(dir);
    cacheMountsByDir.set(dir, cm);
  }
  return cm;
}

async function prepareMount(
  ctx: BuildContext,
  m: MountSpec,
  line: number,
  cleanups: (() => Promise<void>)[],
): Promise<SpecMount> {
  const where = `${ctx.df.file}:${line}: RUN --mount=type=${m.type},target=${m.target}`;
  switch (m.type) {
    case 'tmpfs':
      return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.size ? [`size=${m.size}`] : [])] };
    case 'cache': {
      if (m.from) throw new InputError(`${where}: cache mounts seeded from another stage are not supported yet`);
      const cm = cacheMountsFor(ctx.session.cacheMounts);
      const lease = await cm.acquire(m.id ?? m.target, m.sharing ?? 'shared');
      const source = lease.dir;
      cleanups.push(lease.release);
      if (await cm.isFresh(source)) {
        await chown(source, m.uid ?? 0, m.gid ?? 0);
        await chmod(source, m.mode ?? 0o755);
      }
      return { destination: m.target, type: 'bind', source, options: ['rbind', 'rw'] };
    }
    case 'bind': {
      let source: string;
      if (m.from) {
        const from = await fromState(ctx, m.from, `${where},from=${m.from}`);
        if (from.kind === 'dir') source = await contextView(ctx, from.source, m.source ?? '/', where, cleanups);
        else {
          const dir = ctx.session.staging('bindMount');
          await mountReadonlyOverlay(lowerDirs(ctx.session.snapshots, from.state.chain), dir, ctx.session.snapshots.emptyDir);
          cleanups.push(async () => {
            await unmount(dir);
            await rm(dir, { recursive: true, force: true });
          });
          source = await resolveInRoot(dir, m.source ?? '/');
        }
      } else {
        source = await contextView(ctx, ctx.contextSource, m.source ?? '/', where, cleanups);
      }
      if (m.readonly) return { destination: m.target, type: 'bind', source, options: ['rbind', 'ro'] };
      // A writable bind must not change its source: writes go to a throwaway upper dir, as BuildKit discards them.
      const scratchDir = ctx.session.staging('writableBind');
      const merged = path.join(scratchDir, 'merged');
      await mkdir(path.join(scratchDir, 'upper'), { recursive: true });
      await mountOverlay([source], path.join(scratchDir, 'upper'), path.join(scratchDir, 'work'), merged, ctx.session.snapshots.emptyDir);
      cleanups.push(async () => {
        await unmount(merged);
        await rm(scratchDir, { recursive: true, force: true });
      });
      return { destination: m.target, type: 'bind', source: merged, options: ['rbind', 'rw'] };
    }
    default:
      throw new InputError(`${where}: mount type ${m.type} is not supported`);
  }
}

