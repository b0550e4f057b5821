import type { Command } from 'commander';
import { InputError } from '../../util/errors.js';
import { dockerConfigPath, normalizeRegistryHost, removeCredentials } from '../../registry/index.js';

export function register(program: Command): void {
  program
    .command('logout')
    .description('Remove the stored credentials of a registry from the docker config')
    .argument('<host>', 'registry host[:port]')
    .addHelpText('after', '\nExit codes: 0 removed, 1 there were no credentials for that registry.')
    .action(async (host: string) => {
      if (host.trim() === '') throw new InputError('logout: empty registry host');
      const registry = normalizeRegistryHost(host);
      if (await removeCredentials(registry)) {
        process.stdout.write(`removed credentials for ${registry} from ${dockerConfigPath()}\n`);
      } else {
        process.stderr.write(`error: not logged in to ${registry}\n`);
        process.exitCode = 1;
      }
    });
}
