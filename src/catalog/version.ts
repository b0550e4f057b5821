/**
 * Ordering of PEP 440 versions, as far as constraints need it: release segments, pre-releases
 * (a < b < rc), post- and dev-releases, an epoch. A local part (`+...`) is ignored. Versions that
 * do not parse are not ordered (null), so a caller never reports a comparison it could not make.
 */
const RE = /^v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(a|alpha|b|beta|c|rc|pre|preview)[-_.]?(\d*))?(?:(?:-(\d+))|(?:[-_.]?(?:post|rev|r)[-_.]?(\d*)))?(?:[-_.]?dev[-_.]?(\d*))?(?:\+[a-z0-9.]+)?$/i;

interface Parsed {
  epoch: number;
  release: number[];
  /** [rank, number]: dev-only releases sort before pre-releases, which sort before the final. */
  pre: [number, number];
  post: number;
  dev: number;
}

function parse(v: string): Parsed | null {
  const m = RE.exec(v.trim());
  if (!m) return null;
  const preRank: Record<string, number> = { a: 0, alpha: 0, b: 1, beta: 1, c: 2, rc: 2, pre: 2, preview: 2 };
  const hasPost = m[5] !== undefined || m[6] !== undefined;
  const hasDev = m[7] !== undefined;
  let pre: [number, number] = [3, 0];
  if (m[3]) pre = [preRank[m[3].toLowerCase()]!, Number(m[4] || 0)];
  else if (hasDev && !hasPost) pre = [-1, 0];
  return {
    epoch: Number(m[1] ?? 0),
    release: m[2]!.split('.').map(Number),
    pre,
    post: hasPost ? Number(m[5] ?? m[6] ?? 0) : -1,
    dev: hasDev ? Number(m[7] || 0) : Infinity,
  };
}

/** <0, 0, >0 as a sorts before, with, or after b; null when either does not parse. */
export function compareVersions(a: string, b: string): number | null {
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  if (x.epoch !== y.epoch) return x.epoch - y.epoch;
  const n = Math.max(x.release.length, y.release.length);
  for (let i = 0; i < n; i++) {
    const d = (x.release[i] ?? 0) - (y.release[i] ?? 0);
    if (d !== 0) return d;
  }
  for (const [p, q] of [[x.pre[0], y.pre[0]], [x.pre[1], y.pre[1]], [x.post, y.post]] as const) if (p !== q) return p - q;
  if (x.dev === y.dev) return 0;
  return x.dev < y.dev ? -1 : 1;
}
