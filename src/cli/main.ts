import { Command, CommanderError } from 'commander';
import { describeError } from './errors.js';
type Module = { register: (program: Command) => void };

// Each command's module is loaded only when that command runs (or for --help of all), so a
// no-op `stratum build` does not pay for loading the bake, registry and catalog code.
const COMMANDS: Record<string, () => Promise<Module>> = {
  build: () => import('./commands/build.js'),
  bootstrap: () => import('./commands/bootstrap.js'),
  images: () => import('./commands/images.js'),
  rmi: () => import('./commands/images.js'),
  tag: () => import('./commands/tag.js'),
  run: () => import('./commands/run.js'),
  verify: () => import('./commands/verify.js'),
  push: () => import('./commands/push.js'),
  pull: () => import('./commands/pull.js'),
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  pin: () => import('./commands/pin.js'),
  bake: () => import('./commands/bake.js'),
  report: () => import('./commands/report.js'),
  update: () => import('./commands/update.js'),
  constraints: () => import('./commands/constraints.js'),
  lint: () => import('./commands/lint.js'),
  du: () => import('./commands/du.js'),
  prune: () => import('./commands/prune.js'),
  store: () => import('./commands/store.js'),
};

/** The subcommand named on the command line, skipping global options and their values. */
function requestedCommand(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--root') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

// `stratum ... | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command();
program
  .name('stratum')
  .description('Build, verify and ship OpenStack container images: a daemonless Dockerfile builder, cache and bake orchestrator')
  .version('0.1.0')
  .option('--root <dir>', 'store directory (default: $STRATUM_ROOT or /var/lib/stratum)')
  .exitOverride();

/**
 * After a usage mistake (an unknown option, a missing value) each command prints the error, its usage line and
 * where the options are: the whole help would push the one line that matters off the screen.
 */
function usageAfterErrors(cmd: Command): void {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  cmd.showHelpAfterError(`Usage: ${cmd.createHelp().commandUsage(cmd)}\n(run '${names.join(' ')} --help' for the options)`);
  for (const sub of cmd.commands) usageAfterErrors(sub);
}

// No top-level await: the bundled CLI is CommonJS (bin/stratum.js loads it with a V8 code cache).
async function main(): Promise<void> {
  try {
    const wanted = requestedCommand(process.argv.slice(2));
    // `run IMAGE CMD...` hands everything after the image to the command, as `docker run` does; that needs the
    // program's own options to stop at the subcommand, which other commands do not want (`build . --root X`).
    // (Also when every command is loaded, for --help: `run` declares pass-through options, which need it.)
    if (wanted === 'run' || !wanted || !COMMANDS[wanted]) program.enablePositionalOptions();
    const loaders = wanted && COMMANDS[wanted] ? [COMMANDS[wanted]] : [...new Set(Object.values(COMMANDS))];
    const loaded = new Set<Module>();
    for (const load of loaders) {
      const mod = await load();
      if (!loaded.has(mod)) mod.register(program);
      loaded.add(mod);
    }
    usageAfterErrors(program);
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
    } else {
      const { message, exitCode } = describeError(e);
      process.stderr.write(`error: ${message}\n`);
      process.exitCode = exitCode;
    }
  }
}

void main();
