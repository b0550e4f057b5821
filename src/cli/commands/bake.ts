import os from 'node:os';
import { Command, Option } from 'commander';
import { createProgress, definitionFromCli, listFromCli, printView, runBake, summaryTable, writeMetadata, type BuildFn, type ProgressMode } from '../../bake/index.js';
import { InputError, StratumError } from '../../util/errors.js';
import { rootOf } from '../root.js';

interface BakeCliOptions {
  file: string[];
  set: string[];
  var: string[];
  print?: boolean;
  list?: string;
  push?: boolean;
  load?: boolean;
  /** commander turns --no-cache into cache=false */
  cache?: boolean;
  /** --no-skip: skip=false */
  skip?: boolean;
  progress: ProgressMode;
  jobs?: string;
  keepGoing?: boolean;
  metadataFile?: string;
  verify?: boolean;
  insecureRegistry?: string[];
  caCert?: string[];
  builder?: string;
  builderRegistry?: string;
  builderTlsCa?: string;
  builderTlsCert?: string;
  builderTlsKey?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

// The local engine, loaded when the first target builds (--print never needs it).
const engine: BuildFn = async (o) => (await import('../../solver/engine.js')).localEngine.build(o);

export function register(program: Command): void {
  program
    .command('bake')
    .description('Build the targets of a docker-bake file (HCL or JSON) in dependency order, in parallel')
    .argument('[targets...]', 'targets or groups to build (default: the "default" group or target)')
    .option('-f, --file <file>', 'bake file (repeatable; "-" reads stdin); default: $BUILDX_BAKE_FILE, else docker-bake.json, docker-bake.hcl, docker-bake.override.{json,hcl}', collect, [])
    .option('--set <target.key=value>', 'override a target attribute, e.g. "*.args.VERSION=2", "app.tags=x:1", "*.platform=linux/amd64" (repeatable; a glob matches target names)', collect, [])
    .option('--var <name=value>', 'set a variable (wins over the environment; repeatable)', collect, [])
    .option('--print', 'print the resolved definition as JSON (as docker buildx bake --print) and exit')
    .option('--list <type>', 'list the targets (and groups) or the variables of the bake files and exit: "targets", "variables", or "type=targets,format=json"')
    .option('--push', 'push the tags of every tagged target once built (with --print: as --set "*.push=true")')
    .option('--load', 'images always go to the local image store (with --print: as --set "*.load=true")')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry, for pushes and FROM pulls (repeatable; also STRATUM_INSECURE_REGISTRIES)', collect, [])
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) for registries (repeatable; also certs.d/<host>/*.crt)', collect, [])
    .option('--no-cache', 'shorthand for --set "*.no-cache=true": do not use the build cache')
    .option('--no-skip', 'with --push: build every target, also those whose image of the same inputs the registry already has')
    .addOption(new Option('--progress <mode>', 'progress output (quiet: only each built target and its digest, no table; rawjson: as json)').choices(['auto', 'plain', 'tty', 'json', 'rawjson', 'quiet']).default('auto'))
    .option('-j, --jobs <n>', `targets built at the same time (default: number of cores, ${os.availableParallelism()})`)
    .option('--keep-going', 'after a failure, still build every target that does not depend on it')
    .option('--metadata-file <file>', 'write build result metadata (JSON, buildx-like) to this file')
    .option('--verify', 'run `stratum verify` on each target\'s image before it is tagged, written or pushed; a target with findings fails')
    .option('--builder <buildkit://ADDR,...>', 'build the targets on BuildKit nodes (buildctl): buildkit://unix:///PATH or buildkit://tcp://HOST:PORT, comma-separated; ?platform=OS/ARCH ties a node to a platform')
    .option('--builder-registry <reg/prefix>', 'with --builder: where images no pushed tag of theirs names go, so dependents can use them (REGISTRY[/PREFIX])')
    .option('--builder-tls-ca <file>', 'with --builder: CA certificate of tcp:// nodes')
    .option('--builder-tls-cert <file>', 'with --builder: client certificate for tcp:// nodes')
    .option('--builder-tls-key <file>', 'with --builder: client key for tcp:// nodes')
    .addHelpText(
      'after',
      `
Bake files are read as docker buildx bake v0.38.2 reads them; --print shows what it shows.
Targets depend on each other through contexts: contexts = { base = "target:base" } builds "base"
first and gives its image to the dependent as the named context "base". Variables take their
values from --var and the environment (TAG=dev stratum bake). A failing target skips its dependents;
without --keep-going nothing new starts after a failure.
Each target's full log is kept under ROOT/bake/<run-id>/logs/ (ROOT: --root, $STRATUM_ROOT or /var/lib/stratum); "stratum report" renders
the last run as an HTML page.
With --builder buildkit://ADDR[,...] each target builds on the least busy BuildKit node (through buildctl;
$STRATUM_BUILDCTL names it); images go to registries, and a dependency reaches its dependents pinned
by digest: its tags with --push, else under --builder-registry. See "Scaling out" in the README.
With --push, a target whose tag already names an image of the same inputs (its annotation
dev.stratum.inputs.digest) is not built but reported up to date; its other tags are pointed at that image.
Exit codes: 0 all built, 1 a target failed, 2 bad bake file or arguments.`,
    )
    .action(async (targets: string[], opts: BakeCliOptions, command: Command) => {
      if (opts.list !== undefined) {
        if (opts.print) throw new InputError('--print and --list are mutually exclusive');
        process.stdout.write(await listFromCli({ files: opts.file, targets, sets: opts.set, vars: opts.var, env: process.env, cwd: process.cwd() }, opts.list));
        return;
      }
      if (opts.skip === false && !opts.push) throw new InputError('--no-skip needs --push (only bake --push skips what is already built)');
      const def = await definitionFromCli({ files: opts.file, targets, sets: opts.set, vars: opts.var, push: opts.push, load: opts.load, noCache: opts.cache === false, print: opts.print, env: process.env, cwd: process.cwd() });
      if (opts.print) {
        process.stdout.write(JSON.stringify(printView(def), null, 2) + '\n');
        return;
      }
      let jobs: number | undefined;
      if (opts.jobs !== undefined) {
        jobs = Number(opts.jobs);
        if (!Number.isInteger(jobs) || jobs < 1) throw new InputError(`--jobs ${opts.jobs}: expected a positive integer`);
      }
      let build = engine;
      if (opts.builder !== undefined) {
        if (opts.verify) throw new InputError('--verify is not supported with --builder (the image is never in the local store)');
        const { buildkitEngine } = await import('../../solver/buildkit.js');
        // the work runs on the nodes, not on this machine's cores
        if (jobs === undefined) jobs = Math.max(os.availableParallelism(), 2 * opts.builder.split(',').length);
        build = buildkitEngine({ builder: opts.builder, registry: opts.builderRegistry, tls: { ca: opts.builderTlsCa, cert: opts.builderTlsCert, key: opts.builderTlsKey } }).build;
      } else if (opts.builderRegistry || opts.builderTlsCa || opts.builderTlsCert || opts.builderTlsKey) throw new InputError('--builder-registry and --builder-tls-* need --builder');
      const view = createProgress(opts.progress);
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      let run;
      try {
        const afterExport = opts.verify ? [(await import('../../verify/step.js')).verifyStep()] : undefined;
        run = await runBake(def, { root: rootOf(command), build, ...(afterExport ? { afterExport } : {}), jobs, keepGoing: opts.keepGoing, noCache: opts.cache === false, push: opts.push, rebuild: opts.skip === false, imagesFromRegistry: opts.builder !== undefined, registry: { insecureRegistry: opts.insecureRegistry, caCert: opts.caCert }, onEvent: (e) => view.onEvent(e), signal: ac.signal });
      } finally {
        view.close();
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
      if (opts.metadataFile) writeMetadata(run, opts.metadataFile);
      if (opts.progress === 'quiet') {
        // What scripts read: one line per built (or already pushed) target, its name and its image digest.
        for (const t of run.targets) {
          const digest = t.result?.manifestDigest ?? t.upToDate?.digest;
          if (digest) process.stdout.write(`${t.name} ${digest}\n`);
        }
      } else if (opts.progress === 'json' || opts.progress === 'rawjson') process.stderr.write(summaryTable(run));
      else process.stdout.write(summaryTable(run));
      if (!run.ok) {
        const failed = run.targets.filter((t) => t.status === 'failed').map((t) => t.name);
        throw new StratumError(`bake failed: ${failed.length ? failed.join(', ') : 'cancelled'}`);
      }
    });
}
