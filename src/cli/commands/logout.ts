import type { Command } from 'commander';
import { dockerConfigPath, normalizeRegistryHost, removeCredentials } from '../../registry/index.js';

export function register(program: Command): void {
  program
    .command('logout')
    .description('Remove the stored credentials of a registry from the docker config')
    .argument('<host>', 'registry host[:port]')
    .addHelpText('after', '\nExit codes: 0 removed, 1 there were no credentials for that registry.')
    .action(async (host: string) => {
      const registry = normalizeRegistryHost(host);
      if (await removeCredentials(registry)) {
        process.stdout.write(`removed credentials for ${registry} from ${dockerConfigPath()}\n`);
      } else {
        process.stderr.write(`not logged in to ${registry}\n`);
        process.exitCode = 1;
      }
    });
}
