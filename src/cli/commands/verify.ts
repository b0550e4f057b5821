import type { Command } from 'commander';
import { CHECKS, formatReport, verifyImage, type VerifyReport } from '../../verify/index.js';
import { StratumError } from '../../util/errors.js';
import { collect } from '../options.js';
import { rootOf } from '../root.js';
import { interruptSignal } from '../signals.js';

export function register(program: Command): void {
  program
    .command('verify')
    .description('Check built images: shared libraries, console scripts, user, build tools')
    .argument('<images...>', 'image names in the local store')
    .option('--allow <check>', `waive a check (repeatable or comma-separated): ${CHECKS.join(', ')}`, collect)
    .option('--import-timeout <seconds>', 'how long the console-script import check may take per venv', '300')
    .option('--json', 'print the reports as JSON')
    .addHelpText(
      'after',
      `
Checks, each on the image itself (unpacked, its commands run in it through runc with no network):
  shared-libraries  every ELF file's DT_NEEDED libraries are found where the image's loader looks
                    (RPATH, LD_LIBRARY_PATH, RUNPATH, /etc/ld.so.conf, the multiarch directories)
  python-imports    every console script of every virtualenv imports its module and finds its function
  non-root          an image with a service user (uid 1000-65533) does not run as root
  build-tools       no compilers, -dev packages, git or make (dpkg's database, or the binaries)
An image can waive checks with the label dev.stratum.verify.allow="non-root,build-tools".

Exit codes: 0 every image passed, 1 findings (each listed), 2 bad input, 3 the machine lacks runc or binutils.`,
    )
    .action(async (images: string[], flags: { allow?: string[]; importTimeout: string; json?: boolean }, command: Command) => {
      const timeout = Number(flags.importTimeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new StratumError(`--import-timeout must be a number of seconds, not ${flags.importTimeout}`, 2);
      const signal = interruptSignal();
      const reports: VerifyReport[] = [];
      for (const image of images) {
        const r = await verifyImage({ root: rootOf(command), image, allow: flags.allow ?? [], importTimeout: timeout, signal });
        reports.push(r);
        if (!flags.json) process.stdout.write(formatReport(r));
      }
      if (flags.json) process.stdout.write(JSON.stringify(reports, null, 2) + '\n');
      const failed = reports.filter((r) => r.findings.length > 0);
      if (failed.length) throw new StratumError(`verify: ${failed.map((r) => r.image).join(', ')} failed`, 1);
    });
}
