import type { Command } from 'commander';
import { runImage } from '../../solver/run-image.js';
import { StratumError } from '../../util/errors.js';
import { collect } from '../options.js';
import { describeError } from '../errors.js';
import { rootOf } from '../root.js';
import { interruptSignal } from '../signals.js';

interface RunFlags {
  env?: string[];
  volume?: string[];
  user?: string;
  workdir?: string;
  entrypoint?: string;
  network: string;
  interactive?: boolean;
  rm?: boolean;
}

/** What `stratum run` exits with when it could not run the command at all (as `docker run` does). */
const CANNOT_RUN = 125;

export function register(program: Command): void {
  program
    .command('run')
    .description('Run a command in an image from the local store (runc, host network; nothing is kept)')
    .argument('<image>', 'image name[:tag] in the local store (see `stratum images`)')
    .argument('[command...]', "command and arguments (default: the image's CMD), after its ENTRYPOINT")
    .option('-e, --env <KEY=VALUE>', 'set an environment variable; KEY alone passes this shell\'s value (repeatable)', collect)
    .option('-v, --volume <HOST:CONTAINER[:ro]>', 'bind-mount a host path (repeatable)', collect)
    .option('-u, --user <user[:group]>', "run as this user (default: the image's USER)")
    .option('-w, --workdir <dir>', "working directory (default: the image's WORKDIR)")
    .option('--entrypoint <program>', "replace the image's ENTRYPOINT ('' clears it)")
    .option('--network <mode>', 'host (the default) or none (loopback only)', 'host')
    .option('-i, --interactive', 'pass stdin to the command')
    .option('--rm', 'remove the container when it exits (always so: stratum keeps no containers)')
    .option('--root <dir>', 'store directory (default: $STRATUM_ROOT or /var/lib/stratum)')
    .passThroughOptions()
    .addHelpText(
      'after',
      `
The command runs as root or the image's USER on a throwaway writable layer over the image, with the image's
ENV (plus -e), the host's network, /etc/resolv.conf and /etc/hosts. Options go before the image name.

Example: stratum run --rm localhost/keystone:dev keystone-manage --version

Exit codes: the command's own; ${CANNOT_RUN} when stratum could not run it (unknown image, no runc); 2 for a
malformed command line;
130 when interrupted.`,
    )
    .action(async (image: string, cmd: string[], flags: RunFlags, command: Command) => {
      if (flags.network !== 'host' && flags.network !== 'none') throw new StratumError(`--network must be host or none, not ${flags.network}`, CANNOT_RUN);
      let code: number;
      try {
        code = await runImage({
          root: rootOf(command),
          image,
          command: cmd,
          ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint === '' ? [] : [flags.entrypoint] } : {}),
          env: flags.env ?? [],
          volumes: flags.volume ?? [],
          ...(flags.user !== undefined ? { user: flags.user } : {}),
          ...(flags.workdir !== undefined ? { workdir: flags.workdir } : {}),
          network: flags.network,
          stdin: flags.interactive ?? false,
          signal: interruptSignal(),
        });
      } catch (e) {
        const d = describeError(e);
        throw new StratumError(d.message, d.exitCode === 130 ? 130 : CANNOT_RUN);
      }
      process.exitCode = code;
    });
}
