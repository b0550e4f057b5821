/** Runs the registry commands the way src/cli/main.ts does, for tests that need real exit codes and stdio. */
import { Command, CommanderError } from 'commander';
import { register as login } from '../../../src/cli/commands/login.js';
import { register as logout } from '../../../src/cli/commands/logout.js';
import { register as pin } from '../../../src/cli/commands/pin.js';
import { register as pull } from '../../../src/cli/commands/pull.js';
import { register as push } from '../../../src/cli/commands/push.js';
import { register as tag } from '../../../src/cli/commands/tag.js';
import { StratumError } from '../../../src/util/errors.js';

const program = new Command().name('stratum').option('--root <dir>', 'store directory').exitOverride();
for (const r of [push, pull, tag, login, logout, pin]) r(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else if (e instanceof StratumError) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exitCode = e.exitCode;
  } else {
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  }
}
