/** Loopback ports for the daemons the integration tests start (git, registries, keystone). */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A port nobody listens on right now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether `port` can be listened on. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Waits until something accepts connections on 127.0.0.1:`port`. Fails early, with its log, when the
 * daemon that should listen there exits first.
 */
export async function waitForPort(
  port: number,
  o: { what: string; child?: ChildProcess; log?: () => string; timeoutMs?: number; intervalMs?: number },
): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const log = () => (o.log ? `:\n${o.log()}` : '');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (o.child && o.child.exitCode !== null) throw new Error(`${o.what} exited (${o.child.exitCode}) before it listened on ${port}${log()}`);
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 100));
  }
  throw new Error(`${o.what} did not listen on ${port} within ${timeoutMs / 1000} s${log()}`);
}
