import type { Command } from 'commander';
import { collect, createRegistryClient, dockerConfigPath, normalizeRegistryHost, saveCredentials, type RegistryFlags } from '../../registry/index.js';
import { InputError } from '../../util/errors.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  program
    .command('login')
    .description('Log in to a registry: check the credentials, then store them in the docker config')
    .argument('<host>', 'registry host[:port]')
    .option('-u, --username <name>', 'user name')
    .option('--password-stdin', 'read the password (or token) from standard input')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) (repeatable)', collect)
    .option('--no-verify', 'store the credentials without asking the registry first')
    .addHelpText(
      'after',
      `
Credentials go to $DOCKER_CONFIG/config.json (default ~/.docker/config.json) under "auths", as docker
writes them (mode 0600, replaced atomically), so docker, skopeo and buildah share them.
Example: printf '%s' "$TOKEN" | stratum login -u ci --password-stdin registry.example.com
Exit codes: 0 saved, 1 the registry refused the credentials, 2 bad input.`,
    )
    .action(async (host: string, flags: RegistryFlags & { username?: string; passwordStdin?: boolean; verify: boolean }) => {
      if (!flags.username) throw new InputError('login: --username is required');
      if (!flags.passwordStdin) throw new InputError('login: give the password on standard input with --password-stdin');
      const password = (await readStdin()).replace(/\r?\n$/, '');
      if (!password) throw new InputError('login: empty password on standard input');
      const registry = normalizeRegistryHost(host);
      const creds = { username: flags.username, password };
      if (flags.verify) {
        const client = createRegistryClient(undefined, flags, { credentials: { [registry]: creds } });
        try {
          await client.ping(registry, creds);
        } finally {
          client.close();
        }
      }
      await saveCredentials(registry, creds);
      process.stdout.write(`login succeeded: ${registry} (credentials in ${dockerConfigPath()})\n`);
    });
}
