import { Command, CommanderError } from 'commander';
import { StratumError } from '../util/errors.js';
import { register as build } from './commands/build.js';
import { register as images } from './commands/images.js';
import { register as bootstrap } from './commands/bootstrap.js';
import { register as bake } from './commands/bake.js';
import { register as report } from './commands/report.js';
import { register as update } from './commands/update.js';
import { register as constraints } from './commands/constraints.js';
import { register as lint } from './commands/lint.js';
import { register as push } from './commands/push.js';
import { register as pull } from './commands/pull.js';
import { register as tag } from './commands/tag.js';
import { register as login } from './commands/login.js';
import { register as logout } from './commands/logout.js';
import { register as pin } from './commands/pin.js';
import { register as du } from './commands/du.js';
import { register as prune } from './commands/prune.js';
import { register as storeCmd } from './commands/store.js';

const program = new Command();
program
  .name('stratum')
  .description('Build, verify and ship OpenStack container images: a daemonless Dockerfile builder, cache and bake orchestrator')
  .version('0.1.0')
  .option('--root <dir>', 'store directory (default: $STRATUM_ROOT or /var/lib/stratum)')
  .showHelpAfterError()
  .exitOverride();

for (const register of [build, bootstrap, images, tag, push, pull, login, logout, pin, bake, report, update, constraints, lint, du, prune, storeCmd]) {
  register(program);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof StratumError) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
