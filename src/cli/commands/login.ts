import type { Command } from 'commander';
import { collect, createRegistryClient, dockerConfigPath, normalizeRegistryHost, saveCredentials, type RegistryFlags } from '../../registry/index.js';
import { InputError } from '../../util/errors.js';
import { ask } from '../prompt.js';
import { readAll } from '../../util/stream.js';


/** The user name and password from the flags, standard input, or (on a terminal) asked for, as docker login does. */
async function credentialsFrom(flags: { username?: string; password?: string; passwordStdin?: boolean }): Promise<{ username: string; password: string }> {
  if (flags.password !== undefined && flags.passwordStdin) throw new InputError('login: --password and --password-stdin exclude each other');
  let username = flags.username;
  let password = flags.password;
  if (password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  if (flags.passwordStdin) {
    // Standard input holds the password: there is nowhere to ask for the user name.
    if (!username) throw new InputError('login: --password-stdin needs --username');
    password = (await readAll(process.stdin)).toString('utf8').replace(/\r?\n$/, '');
    if (!password) throw new InputError('login: empty password on standard input');
  }
  if (!username || password === undefined) {
    if (!process.stdin.isTTY) {
      const missing = !username ? 'user name given (--username)' : 'password given (pipe it with --password-stdin)';
      throw new InputError(`login: no ${missing}, and standard input is not a terminal to ask on`);
    }
    const questions = [...(username ? [] : [{ text: 'Username: ', echo: true }]), ...(password === undefined ? [{ text: 'Password: ', echo: false }] : [])];
    const answers = await ask(questions);
    if (!username) username = answers.shift()!.trim();
    if (password === undefined) password = answers.shift()!;
    if (!username) throw new InputError('login: empty user name');
  }
  if (!password) throw new InputError('login: empty password');
  return { username, password };
}

export function register(program: Command): void {
  program
    .command('login')
    .description('Log in to a registry: check the credentials, then store them in the docker config')
    .argument('<host>', 'registry host[:port]')
    .option('-u, --username <name>', 'user name (asked for on a terminal when not given)')
    .option('-p, --password <password>', 'password or token (insecure: it shows in the process list and shell history; prefer --password-stdin)')
    .option('--password-stdin', 'read the password (or token) from standard input')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) (repeatable)', collect)
    .option('--no-verify', 'store the credentials without asking the registry first')
    .addHelpText(
      'after',
      `
Credentials go to $DOCKER_CONFIG/config.json (default ~/.docker/config.json) under "auths", as docker
writes them (mode 0600, replaced atomically), so docker, skopeo and buildah share them.
Without --password or --password-stdin, the user name and password are asked for on the terminal
(the password is not shown); without a terminal that is an error.
Example: printf '%s' "$TOKEN" | stratum login -u ci --password-stdin registry.example.com
Exit codes: 0 saved, 1 the registry refused the credentials, 2 bad input.`,
    )
    .action(async (host: string, flags: RegistryFlags & { username?: string; password?: string; passwordStdin?: boolean; verify: boolean }) => {
      const { username, password } = await credentialsFrom(flags);
      const registry = normalizeRegistryHost(host);
      const creds = { username, password };
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
