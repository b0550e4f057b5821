import type { Command } from 'commander';
import { Session } from '../../solver/session.js';
import { bootstrapDebian } from '../../worker/bootstrap.js';
import { InputError } from '../../util/errors.js';
import { normalizeRef, withStoreLock } from '../../store/index.js';
import { rootOf } from '../root.js';
import { parseSourceDateEpoch } from '../../solver/request.js';

export function register(program: Command): void {
  program
    .command('bootstrap')
    .description('Make a base image from a distribution archive (Debian, with mmdebstrap)')
    .argument('<distro>', 'only "debian" for now')
    .requiredOption('-t, --tag <name>', 'name for the image, e.g. localhost/debian:bookworm')
    .option('--suite <suite>', 'Debian suite', 'bookworm')
    .option('--variant <variant>', 'mmdebstrap variant', 'minbase')
    .option('--include <pkgs>', 'extra packages, comma-separated')
    .option('--mirror <url>', 'Debian mirror (default: the host\'s apt sources)')
    .option('-q, --quiet', 'no mmdebstrap output')
    .addHelpText('after', '\nWith SOURCE_DATE_EPOCH set, the same archive state gives the same image digest.')
    .action(async (distro: string, f: { tag: string; suite: string; variant: string; include?: string; mirror?: string; quiet?: boolean }, command: Command) => {
      if (distro !== 'debian') throw new InputError(`bootstrap: unknown distribution "${distro}" (supported: debian)`);
      // Checked before mmdebstrap spends minutes on an image that could not be named.
      try {
        normalizeRef(f.tag);
      } catch (e) {
        throw new InputError(`--tag: ${(e as Error).message}`);
      }
      const session = await Session.get(rootOf(command));
      // Shared store lock: a prune must not take the new blobs before they are tagged.
      const manifest = await withStoreLock(session.root, 'shared', async () => {
        const made = await bootstrapDebian(session.content, session.tmp, {
          suite: f.suite,
          variant: f.variant,
          include: f.include?.split(',').map((s) => s.trim()).filter(Boolean),
          mirror: f.mirror,
          sourceDateEpoch: parseSourceDateEpoch(process.env.SOURCE_DATE_EPOCH),
          onOutput: f.quiet ? undefined : (c) => process.stderr.write(c),
        });
        await session.images.tag(f.tag, made.manifest);
        return made.manifest;
      });
      process.stdout.write(`${f.tag} ${manifest.digest}\n`);
    });
}
