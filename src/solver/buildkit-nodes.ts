/**
 * The BuildKit nodes of `--builder buildkit://ADDR[,buildkit://ADDR...]` and which one takes the next build.
 * ADDR is what buildctl --addr takes (unix:///path or tcp://host:port); `?platform=os/arch` ties a node to a
 * platform (a native arm64 machine), so builds for that platform go there and nowhere else.
 */
import { InputError } from '../util/errors.js';
import { formatPlatform, parsePlatform, type Platform } from '../util/platform.js';

export interface BuildkitNode {
  /** buildctl --addr */
  addr: string;
  /** Set when the node is tied to a platform. */
  platform?: Platform;
  /** Builds running on it now. */
  busy: number;
  /** Builds it was given so far: spreads sequential builds when every node is idle. */
  given: number;
}

const SCHEME = 'buildkit://';

export function parseBuilder(spec: string): BuildkitNode[] {
  const parts = spec.split(',').map((s) => s.trim());
  if (!spec.trim() || parts.some((p) => !p)) throw new InputError(`--builder ${spec}: expected buildkit://ADDR[,buildkit://ADDR...]`);
  const nodes = parts.map((p): BuildkitNode => {
    if (!p.startsWith(SCHEME)) throw new InputError(`--builder ${p}: expected buildkit://unix:///PATH or buildkit://tcp://HOST:PORT`);
    let addr = p.slice(SCHEME.length);
    let platform: Platform | undefined;
    const q = addr.indexOf('?');
    if (q >= 0) {
      for (const kv of addr.slice(q + 1).split('&')) {
        const [k, v] = kv.split('=', 2);
        if (k !== 'platform' || !v) throw new InputError(`--builder ${p}: unknown option "${kv}" (only ?platform=OS/ARCH)`);
        platform = parsePlatform(v, '--builder platform');
      }
      addr = addr.slice(0, q);
    }
    if (!/^unix:\/\/\/./.test(addr) && !/^tcp:\/\/[^/:]+:\d+$/.test(addr)) throw new InputError(`--builder ${p}: address must be unix:///PATH or tcp://HOST:PORT`);
    return { addr, ...(platform ? { platform } : {}), busy: 0, given: 0 };
  });
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.addr)) throw new InputError(`--builder: node ${n.addr} is named twice`);
    seen.add(n.addr);
  }
  return nodes;
}

/**
 * The least busy node that may build for `platform`: nodes tied to it if there are any, else the untied ones
 * (a build without a platform goes to untied nodes, or to any when every node is tied).
 */
export function pickNode(nodes: BuildkitNode[], platform: Platform | undefined): BuildkitNode {
  const want = platform ? formatPlatform(platform) : undefined;
  const tied = want ? nodes.filter((n) => n.platform && formatPlatform(n.platform) === want) : [];
  const untied = nodes.filter((n) => !n.platform);
  const pool = tied.length ? tied : untied.length ? untied : want ? [] : nodes;
  if (!pool.length) throw new InputError(`no BuildKit node can build for ${want}: every node is tied to another platform (${nodes.map((n) => `${n.addr}?platform=${formatPlatform(n.platform!)}`).join(', ')})`);
  // stable: the first of the least busy, then the least used
  return pool.reduce((best, n) => (n.busy < best.busy || (n.busy === best.busy && n.given < best.given) ? n : best));
}
