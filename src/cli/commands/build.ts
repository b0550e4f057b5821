import type { Command } from 'commander';
import { localEngine } from '../../solver/engine.js';
import { verifyStep } from '../../verify/step.js';
import type { BuildOptions, Compression, ProgressEvent } from '../../solver/types.js';
import { InputError } from '../../util/errors.js';
import { normalizeRef } from '../../store/index.js';
import { collect } from '../options.js';
import { isIP } from 'node:net';
import { keyValues, parseCacheSpec, parseAddHost, parseAnnotation, parseBuildContext, parseEntitlement, parseOutput, parsePlatforms, parseSourceDateEpoch } from '../../solver/request.js';
import { copyToStdout, readStdin, Scratch, secretFiles, sshAgents, stdoutOutputs, writeIidFile, writeMetadata } from './build-io.js';
import { buildProgress, formatSize, PROGRESS_MODES, type ProgressMode } from '../progress.js';
import { rootOf } from '../root.js';
import { interruptSignal } from '../signals.js';

interface BuildFlags {
  file?: string;
  tag?: string[];
  buildArg?: string[];
  label?: string[];
  target?: string;
  buildContext?: string[];
  platform?: string;
  output?: string[];
  progress: ProgressMode;
  cache: boolean;
  /** `--no-cache-filter` (commander names a `--no-` option by what it negates; `true` when not given). */
  cacheFilter?: string[] | boolean;
  dryRun?: boolean;
  secret?: string[];
  compression: string;
  push?: boolean;
  /** `--pull` alone is true (buildx: always pull); `--pull=missing|never|always` is a policy. */
  pull?: string | boolean;
  ssh?: string[];
  addHost?: string[];
  annotation?: string[];
  allow?: string[];
  metadataFile?: string;
  iidfile?: string;
  insecureRegistry?: string[];
  caCert?: string[];
  builder?: string;
  builderTlsCa?: string;
  builderTlsCert?: string;
  builderTlsKey?: string;
  quiet?: boolean;
  verify?: boolean;
  load?: boolean;
  cacheFrom?: string[];
  cacheTo?: string[];
}

export function register(program: Command): void {
  program
    .command('build')
    .description('Build an image from a Dockerfile (no daemon: RUN steps run in runc on overlayfs)')
    .argument('[context]', 'build context: a directory, a git URL (URL.git#ref:subdir, git://, git@host:) or an http(s) URL of a tar(.gz) or Dockerfile', '.')
    .option('-f, --file <path>', 'Dockerfile (default: CONTEXT/Dockerfile; - reads it from stdin)')
    .option('-t, --tag <name>', 'name and tag for the image (repeatable)', collect)
    .option('--build-arg <key=value>', 'set a build-time variable (repeatable)', collect)
    .option('--label <key=value>', 'set an image label (repeatable)', collect)
    .option('--target <stage>', 'build this stage and the stages it needs')
    .option('--build-context <name=source>', 'extra named context: DIR, oci-layout://DIR[:TAG], docker-image://REF (repeatable)', collect)
    .option('--platform <os/arch>', 'target platform (only this machine\'s platform can run RUN steps)')
    .option('-o, --output <spec>', 'type=oci,dest=FILE[,tar=false] | type=docker,dest=FILE | type=local,dest=DIR | type=tar,dest=FILE | type=image|registry[,name=REF][,push=true] | DIR (repeatable)', collect)
    .option('--progress <mode>', 'auto (live view on a terminal, else plain), tty, plain, json (rawjson) or quiet (only the digest)', 'auto')
    .option('--no-cache', 'do not use the build cache')
    .option('--cache-from <spec>', 'take in a cache: type=registry,ref=REF | type=local,src=DIR | REF (repeatable; a missing one is a warning)', collect)
    .option('--cache-to <spec>', 'write the build cache: type=registry,ref=REF[,mode=min|max] | type=local,dest=DIR[,mode=min|max] (repeatable)', collect)
    .option('--no-cache-filter <stage>', 'do not use the cache for this stage (repeatable)', (v: string, prev: unknown) => [...(Array.isArray(prev) ? (prev as string[]) : []), v])
    .option('--secret <id=ID[,src=FILE|,env=VAR]>', 'secret for RUN --mount=type=secret; id=ID alone reads $ID, else the file ID (repeatable)', collect)
    .option('--compression <kind>', 'layer compression: gzip, zstd or none', 'gzip')
    .option('--push', 'push the tags to their registries after the build')
    .option('--pull [policy]', 'always pull FROM images that name a registry, even when stored (as buildx); --pull=missing (the default: only when not stored) or --pull=never')
    .option('--ssh <default|ID[=SOCKET]>', 'ssh agent for RUN --mount=type=ssh (repeatable; default is $SSH_AUTH_SOCK)', collect)
    .option('--add-host <host:ip>', 'add an /etc/hosts entry every RUN sees (repeatable)', collect)
    .option('--annotation <[manifest:]KEY=VALUE>', 'add an annotation to the image manifest (repeatable)', collect)
    .option('--allow <entitlement>', 'grant network.host or security.insecure to RUN steps that ask (repeatable)', collect)
    .option('--metadata-file <file>', 'write the build result (digests, names) as JSON to this file, as buildx')
    .option('--iidfile <file>', 'write the image ID (config digest) to this file')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) for registries (repeatable)', collect)
    .option('--builder <buildkit://ADDR>', 'build on a BuildKit node (buildctl) instead of this machine: buildkit://unix:///PATH or buildkit://tcp://HOST:PORT; the image is pushed to its tags')
    .option('--builder-tls-ca <file>', 'with --builder: CA certificate of a tcp:// node')
    .option('--builder-tls-cert <file>', 'with --builder: client certificate for a tcp:// node')
    .option('--builder-tls-key <file>', 'with --builder: client key for a tcp:// node')
    .option('--dry-run', 'print the resolved plan as JSON and run nothing')
    .option('--verify', 'run `stratum verify` on the image before it is tagged, written or pushed; fail the build on findings')
    .option('--load', 'accepted as buildx has it: every image built lands in the local store anyway')
    .option('-q, --quiet', 'print only the image digest')
    .addHelpText(
      'after',
      `
Environment: SOURCE_DATE_EPOCH clamps layer timestamps and fixes the image's creation time,
so two builds of the same input give the same digest. STRATUM_ROOT sets the store (default /var/lib/stratum).
Exit codes: 0 built, 1 the build failed, 2 bad input, 3 the machine lacks root, runc or another tool.`,
    )
    .action(async (context: string, flags: BuildFlags, command: Command) => {
      // `--pull DIR`: commander took the context as the optional value; buildx's --pull takes none.
      if (typeof flags.pull === 'string' && !PULL_POLICIES.includes(flags.pull) && command.args.length === 0) {
        context = flags.pull;
        flags = { ...flags, pull: true };
      }
      if (context === '-') throw new InputError('build context "-" (stdin) is not supported: give a directory or URL, and -f - for a Dockerfile on stdin');
      const scratch = new Scratch();
      try {
        await buildCommand(context, flags, command, scratch);
      } finally {
        scratch.cleanup();
      }
    });
}

const PULL_POLICIES = ['always', 'missing', 'never'];

async function buildCommand(context: string, flags: BuildFlags, command: Command, scratch: Scratch): Promise<void> {
  const base = toBuildOptions(context, flags, rootOf(command));
  const { outputs, toStdout } = stdoutOutputs(base.outputs ?? [], scratch);
  const opts: BuildOptions = {
    ...base,
    outputs,
    ...(flags.file === '-' ? { dockerfileInline: await readStdin() } : {}),
    secrets: secretFiles(flags.secret, scratch),
  };
  let engine = localEngine;
  if (flags.builder !== undefined) {
    if (flags.verify) throw new InputError('--verify is not supported with --builder (the image is never in the local store)');
    engine = (await import('../../solver/buildkit.js')).buildkitEngine({ builder: flags.builder, tls: { ca: flags.builderTlsCa, cert: flags.builderTlsCert, key: flags.builderTlsKey } });
  } else if (flags.builderTlsCa || flags.builderTlsCert || flags.builderTlsKey) throw new InputError('--builder-tls-* need --builder');
  if (flags.dryRun) {
    process.stdout.write(JSON.stringify(await engine.dryRun(opts), null, 2) + '\n');
    return;
  }
  const quiet = flags.quiet || flags.progress === 'quiet';
  const view = buildProgress(quiet ? 'quiet' : flags.progress);
  let result;
  const pushed: string[] = [];
  try {
    const onProgress = (e: ProgressEvent) => {
      if (e.kind === 'push') pushed.push(`${e.ref}@${e.digest}`);
      view.onEvent(e);
    };
    result = await engine.build({ ...opts, ...(flags.verify ? { afterExport: [verifyStep()] } : {}), onProgress, signal: interruptSignal() });
  } catch (e) {
    view.close(false);
    throw e;
  }
  view.close();
  if (flags.metadataFile) await writeMetadata(flags.metadataFile, result);
  if (flags.iidfile) await writeIidFile(flags.iidfile, result);
  // stdout carries the tar alone; what would have gone there goes to stderr.
  if (toStdout) await copyToStdout(toStdout);
  const out = toStdout ? process.stderr : process.stdout;
  if (quiet) {
    out.write(`${result.manifestDigest}\n`);
    return;
  }
  out.write(`\nimage ${result.manifestDigest}\n`);
  for (const t of result.tags) out.write(`tagged ${t}\n`);
  for (const p of pushed) out.write(`pushed ${p}\n`);
  out.write(`steps ${result.stepsTotal} (${result.stepsCached} cached) in ${(result.durationMs / 1000).toFixed(1)}s\n`);
  out.write(`layers ${result.layers.length}, size ${formatSize(result.size)}\n`);
  for (const l of result.layers) out.write(`  ${l.digest.slice(7, 19)}  ${formatSize(l.size).padStart(8)}  ${l.createdBy.split('\n')[0]!.slice(0, 90)}\n`);
}

export function toBuildOptions(context: string, f: BuildFlags, root: string | undefined): BuildOptions {
  if (!PROGRESS_MODES.includes(f.progress)) throw new InputError(`--progress ${f.progress}: expected one of ${PROGRESS_MODES.join(', ')}`);
  const pull = f.pull === undefined || f.pull === 'missing' ? true : f.pull === true || f.pull === 'always' ? 'always' : f.pull === 'never' ? false : undefined;
  if (pull === undefined) throw new InputError(`--pull=${String(f.pull)}: expected --pull (always), --pull=missing or --pull=never`);
  if (!['gzip', 'zstd', 'none'].includes(f.compression)) throw new InputError(`--compression must be gzip, zstd or none`);
  // An empty value is a mistake, not "unset": say so instead of building with the default.
  const given: [string, string | undefined][] = [['--file', f.file], ['--platform', f.platform], ...(f.output ?? []).map((o): [string, string] => ['--output', o])];
  for (const [flag, v] of given) if (v === '') throw new InputError(`${flag}: empty value`);
  const outputs = (f.output ?? []).map((o) => parseOutput(o));
  const tags = [...(f.tag ?? []), ...outputs.flatMap((o) => o.tags)];
  // Checked now, not when the image is tagged after the whole build.
  for (const t of tags) {
    try {
      normalizeRef(t);
    } catch (e) {
      throw new InputError(`--tag: ${(e as Error).message}`);
    }
  }
  const push = !!f.push || outputs.some((o) => o.push);
  return {
    root,
    context,
    dockerfile: f.file,
    tags,
    buildArgs: keyValues(f.buildArg, '--build-arg'),
    labels: keyValues(f.label, '--label'),
    target: f.target,
    contexts: Object.fromEntries((f.buildContext ?? []).map(parseBuildContext)),
    platform: f.platform ? parsePlatforms(f.platform) : undefined,
    outputs: outputs.flatMap((o) => (o.output ? [o.output] : [])),
    noCache: f.cache === false,
    noCacheFilter: Array.isArray(f.cacheFilter) ? f.cacheFilter : undefined,
    compression: f.compression as Compression,
    sourceDateEpoch: parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH),
    secrets: secretFiles(f.secret, undefined),
    push,
    pull,
    ssh: sshAgents(f.ssh),
    extraHosts: f.addHost?.map((h) => parseAddHost(h, (ip) => isIP(ip) !== 0)),
    annotations: f.annotation ? Object.fromEntries(f.annotation.map(parseAnnotation)) : undefined,
    entitlements: f.allow?.map(parseEntitlement),
    registry: { insecureRegistry: f.insecureRegistry, caCert: f.caCert },
    cacheFrom: f.cacheFrom?.map((c) => parseCacheSpec(c, 'from')),
    cacheTo: f.cacheTo?.map((c) => parseCacheSpec(c, 'to')),
  };
}
