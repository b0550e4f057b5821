/**
 * RUN mounts that carry something from the client into one step and leave nothing behind: secrets (as a file, an
 * environment variable, or both) and SSH agent sockets.
 */
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { MountSpec } from '../frontend/index.js';
import { InputError } from '../util/errors.js';
import type { SpecMount } from '../worker/runc-spec.js';
import type { BuildContext } from './context.js';

type Cleanups = (() => Promise<void>)[];

/** What a secret mount adds to the step: a file mount, an environment variable, or (optional and absent) nothing. */
export async function prepareSecret(
  ctx: BuildContext,
  m: MountSpec,
  where: string,
  cleanups: Cleanups,
): Promise<{ mount?: SpecMount; env?: string }> {
  const id = m.id as string;
  const file = ctx.opts.secrets?.[id];
  if (file === undefined) {
    // As BuildKit: an optional secret that was not given mounts nothing and sets no variable.
    if (m.required) throw new InputError(`${where}: secret ${id}: not found (give it with --secret id=${id},src=FILE)`);
    return {};
  }
  let value: Buffer;
  try {
    value = await readFile(path.resolve(file));
  } catch (e) {
    throw new InputError(`${where}: cannot read secret ${id} from ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out: { mount?: SpecMount; env?: string } = {};
  if (m.env !== undefined) out.env = `${m.env}=${value.toString('utf8')}`;
  if (m.target !== '') {
    // A copy of our own, so the mode and owner the mount asks for never touch the user's file.
    const dir = ctx.session.staging('bindMount');
    await mkdir(dir, { mode: 0o700 });
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const copy = path.join(dir, 'secret');
    await writeFile(copy, value, { mode: 0o600 });
    await chown(copy, m.uid ?? 0, m.gid ?? 0);
    await chmod(copy, m.mode ?? 0o400);
    out.mount = { destination: m.target, type: 'bind', source: copy, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
  }
  return out;
}

/**
 * An SSH agent socket for the step: a socket of our own, with the mount's owner and mode, that forwards each
 * connection to the agent the client named (`--ssh id=SOCKET`), as BuildKit forwards it over its session.
 */
export async function prepareSsh(ctx: BuildContext, m: MountSpec, where: string, cleanups: Cleanups): Promise<SpecMount | undefined> {
  const id = m.id ?? 'default';
  const agent = ctx.opts.ssh?.[id];
  if (agent === undefined) {
    if (m.required) throw new InputError(`${where}: no SSH key ${JSON.stringify(id)} forwarded from the client (give it with --ssh ${id}=SOCKET)`);
    return undefined;
  }
  const dir = ctx.session.staging('bindMount');
  await mkdir(dir, { mode: 0o700 });
  const sock = path.join(dir, 'agent.sock');
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(agent);
    open.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => resolve());
  });
  cleanups.push(async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  await chown(sock, m.uid ?? 0, m.gid ?? 0);
  await chmod(sock, m.mode ?? 0o600);
  return { destination: m.target, type: 'bind', source: sock, options: ['rbind'] };
}
