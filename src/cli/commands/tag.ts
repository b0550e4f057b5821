import type { Command } from 'commander';
import { Session } from '../../solver/session.js';
import { normalizeRef } from '../../store/index.js';
import { InputError } from '../../util/errors.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  program
    .command('tag')
    .description('Give a local image another name (e.g. the registry reference to push it to)')
    .argument('<source>', 'existing local image name[:tag] or name@sha256:...')
    .argument('<target>', 'new name[:tag]')
    .addHelpText('after', '\nExample: stratum tag keystone:dev registry.example.com:5000/openstack/keystone:2024.1\nExit codes: 0 tagged, 2 unknown source or bad name.')
    .action(async (source: string, target: string, _flags: unknown, command: Command) => {
      const session = await Session.get(rootOf(command));
      const t = normalizeRef(target);
      if (t.digest) throw new InputError(`tag target "${target}" must not contain a digest`);
      const desc = await session.images.resolve(source);
      if (!desc) throw new InputError(`image "${source}" is not in the local store (see \`stratum images\`)`);
      await session.images.tag(target, desc);
      process.stdout.write(`${t.full} -> ${desc.digest}\n`);
    });
}
