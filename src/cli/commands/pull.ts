import type { Command } from 'commander';
import { withStoreLock } from '../../store/index.js';
import { collect, createRegistryClient, formatPlatform, parsePlatform, pullAndTag, type RegistryEvent, type RegistryFlags } from '../../registry/index.js';
import { Session } from '../../solver/session.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  program
    .command('pull')
    .description('Pull an image from a registry into the local store')
    .argument('<ref>', 'image reference: host[:port]/repo[:tag][@sha256:...]')
    .option('--platform <os/arch>', 'platform to pick from a multi-platform image', 'linux/amd64')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable; also STRATUM_INSECURE_REGISTRIES)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) for registries (repeatable; also certs.d/<host>/*.crt)', collect)
    .option('-q, --quiet', 'print only the manifest digest')
    .addHelpText(
      'after',
      `
Layers are fetched in parallel, verified against their digests while streaming, and skipped when the
store already has them. Credentials come from ~/.docker/config.json (see \`stratum login\`).
Exit codes: 0 pulled, 1 the registry refused or failed, 2 bad input.`,
    )
    .action(async (ref: string, flags: RegistryFlags & { platform: string; quiet?: boolean }, command: Command) => {
      const platform = parsePlatform(flags.platform);
      const session = await Session.get(rootOf(command));
      const log = (e: RegistryEvent) => {
        if (e.kind === 'blob-downloaded') process.stderr.write(`${e.digest.slice(0, 19)}: downloaded (${e.size} bytes)\n`);
        else if (e.kind === 'blob-cached') process.stderr.write(`${e.digest.slice(0, 19)}: already in the store\n`);
        else if (e.kind === 'retry') process.stderr.write(`retrying ${e.operation} in ${e.delayMs} ms: ${e.reason}\n`);
      };
      const client = createRegistryClient(session.root, flags, flags.quiet ? {} : { onEvent: log });
      try {
        // Shared store lock: a prune must not take the blobs between their download and the tag.
        const r = await withStoreLock(session.root, 'shared', () => pullAndTag(client, ref, session.content, session.images, { platform }));
        if (flags.quiet) process.stdout.write(`${r.manifest.digest}\n`);
        else {
          const from = r.index ? ` (${formatPlatform(platform)} from index ${r.index.digest})` : '';
          process.stdout.write(`pulled ${ref}: ${r.manifest.digest}${from}\n`);
        }
      } finally {
        client.close();
      }
    });
}
