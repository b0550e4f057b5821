import type { Command } from 'commander';
import { localEngine } from '../../solver/engine.js';
import { verifyStep } from '../../verify/step.js';
import type { BuildOptions, Compression, ProgressEvent } from '../../solver/types.js';
import { InputError } from '../../util/errors.js';
import { collect } from '../options.js';
import { keyValues, parseBuildContext, parseOutput, parsePlatforms, parseSecret, parseSourceDateEpoch } from '../../solver/request.js';
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
  noCacheFilter?: string[];
  dryRun?: boolean;
  secret?: string[];
  compression: string;
  push?: boolean;
  pull: string;
  insecureRegistry?: string[];
  caCert?: string[];
  quiet?: boolean;
  verify?: boolean;
  load?: boolean;
}

export function register(program: Command): void {
  program
    .command('build')
    .description('Build an image from a Dockerfile (no daemon: RUN steps run in runc on overlayfs)')
    .argument('[context]', 'build context directory', '.')
    .option('-f, --file <path>', 'Dockerfile (default: CONTEXT/Dockerfile)')
    .option('-t, --tag <name>', 'name and tag for the image (repeatable)', collect)
    .option('--build-arg <key=value>', 'set a build-time variable (repeatable)', collect)
    .option('--label <key=value>', 'set an image label (repeatable)', collect)
    .option('--target <stage>', 'build this stage and the stages it needs')
    .option('--build-context <name=source>', 'extra named context: DIR, oci-layout://DIR[:TAG], docker-image://REF (repeatable)', collect)
    .option('--platform <os/arch>', 'target platform (only this machine\'s platform can run RUN steps)')
    .option('-o, --output <spec>', 'type=oci,dest=FILE[,tar=false] | type=docker,dest=FILE | type=local,dest=DIR | type=tar,dest=FILE | type=image|registry[,name=REF][,push=true] | DIR (repeatable)', collect)
    .option('--progress <mode>', 'auto (live view on a terminal, else plain), tty, plain, json (rawjson) or quiet (only the digest)', 'auto')
    .option('--no-cache', 'do not use the build cache')
    .option('--no-cache-filter <stage>', 'do not use the cache for this stage (repeatable)', collect)
    .option('--secret <id=ID,src=FILE>', 'secret for RUN --mount=type=secret (repeatable)', collect)
    .option('--compression <kind>', 'layer compression: gzip, zstd or none', 'gzip')
    .option('--push', 'push the tags to their registries after the build')
    .option('--pull <policy>', 'pull FROM images that name a registry when missing locally: missing or never', 'missing')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) for registries (repeatable)', collect)
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
      const opts = toBuildOptions(context, flags, rootOf(command));
      if (flags.dryRun) {
        process.stdout.write(JSON.stringify(await localEngine.dryRun(opts), null, 2) + '\n');
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
        result = await localEngine.build({ ...opts, ...(flags.verify ? { afterExport: [verifyStep()] } : {}), onProgress, signal: interruptSignal() });
      } catch (e) {
        view.close(false);
        throw e;
      }
      view.close();
      if (quiet) {
        process.stdout.write(`${result.manifestDigest}\n`);
        return;
      }
      const out = process.stdout;
      out.write(`\nimage ${result.manifestDigest}\n`);
      for (const t of result.tags) out.write(`tagged ${t}\n`);
      for (const p of pushed) out.write(`pushed ${p}\n`);
      out.write(`steps ${result.stepsTotal} (${result.stepsCached} cached) in ${(result.durationMs / 1000).toFixed(1)}s\n`);
      out.write(`layers ${result.layers.length}, size ${formatSize(result.size)}\n`);
      for (const l of result.layers) out.write(`  ${l.digest.slice(7, 19)}  ${formatSize(l.size).padStart(8)}  ${l.createdBy.split('\n')[0]!.slice(0, 90)}\n`);
    });
}

export function toBuildOptions(context: string, f: BuildFlags, root: string | undefined): BuildOptions {
  if (!PROGRESS_MODES.includes(f.progress)) throw new InputError(`--progress ${f.progress}: expected one of ${PROGRESS_MODES.join(', ')}`);
  if (!['missing', 'never'].includes(f.pull)) throw new InputError(`--pull must be missing or never`);
  if (!['gzip', 'zstd', 'none'].includes(f.compression)) throw new InputError(`--compression must be gzip, zstd or none`);
  const outputs = (f.output ?? []).map((o) => parseOutput(o));
  const tags = [...(f.tag ?? []), ...outputs.flatMap((o) => o.tags)];
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
    noCacheFilter: f.noCacheFilter,
    compression: f.compression as Compression,
    sourceDateEpoch: parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH),
    secrets: Object.fromEntries((f.secret ?? []).map(parseSecret)),
    push,
    pull: f.pull !== 'never',
    registry: { insecureRegistry: f.insecureRegistry, caCert: f.caCert },
  };
}
