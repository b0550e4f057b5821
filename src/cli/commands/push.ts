import type { Command } from 'commander';
import { collect, createRegistryClient, formatReference, namesLocalStore, parseReference, type RegistryEvent, type RegistryFlags } from '../../registry/index.js';
import { Session } from '../../solver/session.js';
import { normalizeRef } from '../../store/index.js';
import { InputError } from '../../util/errors.js';
import { rootOf } from '../root.js';

export function register(program: Command): void {
  program
    .command('push')
    .description('Push an image from the local store to a registry')
    .argument('<name>', 'local image name[:tag] (or name@sha256:...)')
    .argument('[dest]', 'destination reference host[:port]/repo[:tag] (default: the name itself)')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable; also STRATUM_INSECURE_REGISTRIES)', collect)
    .option('--ca-cert <file>', 'trust this CA certificate (PEM) for registries (repeatable; also certs.d/<host>/*.crt)', collect)
    .option('--chunk-size <bytes>', 'upload chunk size', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1024) throw new InputError(`--chunk-size ${v}: want a whole number of bytes >= 1024`);
      return n;
    })
    .option('-q, --quiet', 'print only the pushed digest')
    .addHelpText(
      'after',
      `
Blobs the registry already has are not sent (HEAD first); blobs seen in another repository of the same
registry are mounted; the rest go up in chunks that resume after a dropped connection. The manifest
goes last, so the tag never points at missing blobs; a multi-platform image goes up as its index.
The destination names a registry as docker reads it, except that "localhost/" without a port is the
local store's own prefix (stratum images): push localhost/app:1 localhost:5000/app:1 sends it to a registry.
Exit codes: 0 pushed, 1 the registry refused or failed, 2 bad input.`,
    )
    .action(async (name: string, dest: string | undefined, flags: RegistryFlags & { chunkSize?: number; quiet?: boolean }, command: Command) => {
      const target = parseReference(dest ?? name);
      if (!target.tag && !target.digest) {
        const local = normalizeRef(name);
        target.tag = local.tag ?? 'latest';
      }
      // Said before anything is opened: there is nothing to connect to, so nothing to wait for.
      if (namesLocalStore(target)) {
        throw new InputError(
          `cannot push ${dest ?? name}: it names no registry ("localhost/" without a port is the local store's own prefix); name the registry with its port, e.g. stratum push ${name} localhost:5000/${target.repository}${target.tag ? `:${target.tag}` : ''}`,
        );
      }
      const session = await Session.get(rootOf(command));
      const desc = await session.images.resolve(name);
      if (!desc) throw new InputError(`image "${name}" is not in the local store (see \`stratum images\`)`);
      const log = (e: RegistryEvent) => {
        if (e.kind === 'blob-exists') process.stderr.write(`${e.digest.slice(0, 19)}: already in the registry\n`);
        else if (e.kind === 'blob-mounted') process.stderr.write(`${e.digest.slice(0, 19)}: mounted from ${e.from}\n`);
        else if (e.kind === 'blob-uploaded') process.stderr.write(`${e.digest.slice(0, 19)}: uploaded (${e.size} bytes)\n`);
        else if (e.kind === 'upload-resumed') process.stderr.write(`${e.digest.slice(0, 19)}: resuming at byte ${e.offset}\n`);
        else if (e.kind === 'retry') process.stderr.write(`retrying ${e.operation} in ${e.delayMs} ms: ${e.reason}\n`);
      };
      const client = createRegistryClient(session.root, flags, {
        ...(flags.chunkSize ? { chunkSize: flags.chunkSize } : {}),
        ...(flags.quiet ? {} : { onEvent: log }),
      });
      try {
        const r = await client.push(session.content, desc, target);
        if (flags.quiet) process.stdout.write(`${r.digest}\n`);
        else {
          process.stdout.write(
            `pushed ${formatReference({ ...target, digest: r.digest })} (${r.uploaded} uploaded, ${r.mounted} mounted, ${r.skipped} already there)\n`,
          );
        }
      } finally {
        client.close();
      }
    });
}
