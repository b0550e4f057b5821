/**
 * buildkitd for tests: the pinned version scripts/prereqs.sh builds from its Go module, rootful, runc worker,
 * on a unix socket in a directory the test owns. Several can run at once (separate roots and sockets).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../src/util/exec.js';
import { REPO_ROOT } from './cli.js';

export const BUILDKIT_VERSION = /^BUILDKIT_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(REPO_ROOT, 'scripts/prereqs.sh'), 'utf8'))![1]!;
export const BUILDKIT_DIR = process.env.STRATUM_BUILDKIT_DIR ?? path.join(process.env.STRATUM_TOOLS ?? '/var/tmp/stratum-tools', `buildkit-${BUILDKIT_VERSION}`);
export const BUILDKITD = path.join(BUILDKIT_DIR, 'buildkitd');
export const BUILDCTL = path.join(BUILDKIT_DIR, 'buildctl');
/** A reason to skip a suite (node:test `skip`), or false when both binaries are there. */
export const buildkitSkip: string | false =
  fs.existsSync(BUILDKITD) && fs.existsSync(BUILDCTL) ? false : `BuildKit ${BUILDKIT_VERSION} is not installed in ${BUILDKIT_DIR} (scripts/prereqs.sh builds it; STRATUM_BUILDKIT_DIR names another directory)`;

export interface Buildkitd {
  /** unix:///DIR/buildkitd.sock, or tcp://127.0.0.1:PORT */
  addr: string;
  root: string;
  /** What the daemon printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/** A TCP listener with mutual TLS: the daemon's certificate, and the one clients must show (self-signed PEM files). */
export interface BuildkitTls {
  port: number;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

/**
 * Starts buildkitd with its state under `dir` and waits until it answers. `registries` are marked plain HTTP
 * (buildkitd.toml `http = true, insecure = true`), as a loopback test registry is. With `tls` it listens on
 * tcp://127.0.0.1:PORT instead of a unix socket.
 */
export async function startBuildkitd(dir: string, opts: { registries?: string[]; tls?: BuildkitTls } = {}): Promise<Buildkitd> {
  fs.mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, 'buildkitd.sock');
  const root = path.join(dir, 'bk-root');
  const tls = opts.tls;
  const addr = tls ? `tcp://127.0.0.1:${tls.port}` : `unix://${sock}`;
  const listen = tls ? ['--tlscert', tls.server.cert, '--tlskey', tls.server.key, '--tlscacert', tls.client.cert] : [];
  const dial = tls ? ['--tlscacert', tls.server.cert, '--tlscert', tls.client.cert, '--tlskey', tls.client.key] : [];
  const config = path.join(dir, 'buildkitd.toml');
  fs.writeFileSync(config, (opts.registries ?? []).map((r) => `[registry."${r}"]\n  http = true\n  insecure = true\n`).join('\n'));
  const daemon = spawn(BUILDKITD, ['--config', config, '--root', root, '--addr', addr, ...listen, '--oci-worker=true', '--containerd-worker=false', '--oci-worker-gc=false'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  daemon.stdout!.on('data', (c: Buffer) => out.push(c));
  daemon.stderr!.on('data', (c: Buffer) => out.push(c));
  const log = () => Buffer.concat(out).toString().slice(-3000);
  const stop = async () => {
    if (daemon.exitCode === null && daemon.signalCode === null) {
      const exited = new Promise((res) => daemon.once('exit', res));
      daemon.kill('SIGTERM');
      await exited;
    }
    // buildkitd's runc state can hold mounts a moment after exit
    await run('umount', ['-R', root], { check: false });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`buildkitd exited (${daemon.exitCode}):\n${log()}`);
    const r = tls || fs.existsSync(sock) ? await run(BUILDCTL, ['--addr', addr, ...dial, 'debug', 'workers'], { check: false }) : undefined;
    if (r?.code === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`buildkitd did not answer on ${sock}:\n${log()}`);
    }
    await new Promise((res) => setTimeout(res, 300));
  }
  return { addr, root, log, stop };
}
