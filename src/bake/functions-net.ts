/** cidrhost, cidrnetmask, cidrsubnet(s) (IPv4 and IPv6) and semvercmp, as buildx's stdlib has them. */
import net from 'node:net';
import { ExprError, toNum, toStr, type Value } from './expr.js';

interface Cidr {
  v6: boolean;
  bits: number;
  len: number;
  base: bigint;
}

function parseIp(s: string): { v6: boolean; n: bigint } | undefined {
  if (net.isIPv4(s)) return { v6: false, n: s.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n) };
  if (!net.isIPv6(s)) return undefined;
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const words = (part: string) => (part ? part.split(':') : []).flatMap((w) => (w.includes('.') ? [(parseIp(w)!.n >> 16n).toString(16), (parseIp(w)!.n & 0xffffn).toString(16)] : [w]));
  const h = words(head);
  const t = tail === undefined ? [] : words(tail);
  const all = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return { v6: true, n: all.reduce((a, w) => (a << 16n) | BigInt(parseInt(w, 16)), 0n) };
}

function formatIp(n: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const words = [...Array(8)].map((_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  // the longest run of two or more zero words becomes ::, as Go writes addresses
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function parseCidr(s: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const ip = m ? parseIp(m[1]!) : undefined;
  const bits = ip?.v6 ? 128 : 32;
  if (!m || !ip || Number(m[2]) > bits) throw new ExprError(`invalid CIDR expression: invalid CIDR address: ${s}`);
  const len = Number(m[2]);
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - len)) - 1n);
  return { v6: ip.v6, bits, len, base: ip.n & mask };
}

const int = (v: Value, what: string) => {
  const n = toNum(v);
  if (!Number.isInteger(n)) throw new ExprError(`${what} must be a whole number`);
  return BigInt(n);
};

function subnet(c: Cidr, newbits: number, netnum: bigint): Cidr {
  const len = c.len + newbits;
  if (newbits < 0 || len > c.bits) throw new ExprError(`insufficient address space to extend prefix of ${c.len} by ${newbits}`);
  if (netnum < 0n || netnum >= 1n << BigInt(newbits)) throw new ExprError(`prefix extension of ${newbits} does not accommodate a subnet numbered ${netnum}`);
  return { ...c, len, base: c.base | (netnum << BigInt(c.bits - len)) };
}

// ---- semver (the constraint language of Masterminds/semver, which buildx uses) ----

interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

const VERSION = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

function parseVersion(s: string): Version {
  const m = VERSION.exec(s);
  if (!m) throw new ExprError(`invalid semantic version ${JSON.stringify(s)}`);
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), pre: m[4] ?? '' };
}

function comparePre(a: string, b: string): number {
  if (a === b) return 0;
  if (!a) return 1;
  if (!b) return -1;
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny && Number(x) !== Number(y)) return Number(x) < Number(y) ? -1 : 1;
    if (nx !== ny) return nx ? -1 : 1;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function compare(a: Version, b: Version): number {
  for (const k of ['major', 'minor', 'patch'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return comparePre(a.pre, b.pre);
}

interface Constraint {
  op: string;
  v: Version;
  /** Which parts were wildcards or missing. */
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

const isX = (s: string | undefined) => s === 'x' || s === 'X' || s === '*';
const CV = String.raw`v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?`;
const ONE = new RegExp(`^\\s*(!=|>=|=>|<=|=<|~>|[=><~^])?\\s*${CV}\\s*$`);

function parseConstraint(s: string): Constraint {
  const m = ONE.exec(s);
  if (!m) throw new ExprError(`improper constraint: ${s.trim()}`);
  const [, op = '', maj, min, pat, pre = ''] = m;
  const c = { op, dirty: false, minorDirty: false, patchDirty: false };
  let ver: string;
  if (isX(maj)) {
    c.dirty = true;
    ver = `0.0.0${pre}`;
  } else if (min === undefined || isX(min.slice(1))) {
    c.dirty = c.minorDirty = true;
    ver = `${maj}.0.0${pre}`;
  } else if (pat === undefined || isX(pat.slice(1))) {
    c.dirty = c.patchDirty = true;
    ver = `${maj}${min}.0${pre}`;
  } else ver = `${maj}${min}${pat}${pre}`;
  return { ...c, v: parseVersion(ver) };
}

function check(v: Version, c: Constraint, includePre: boolean): boolean {
  if (v.pre && !includePre) return false;
  const k = c.v;
  const tilde = () => compare(v, k) >= 0 && ((k.major === 0 && k.minor === 0 && k.patch === 0 && !c.minorDirty && !c.patchDirty) || (v.major === k.major && (c.minorDirty || v.minor === k.minor)));
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde() : compare(v, k) === 0;
    case '!=':
      if (c.dirty) {
        if (k.major !== v.major) return true;
        if (c.minorDirty) return false;
        if (k.minor !== v.minor) return true;
        if (c.patchDirty) return (v.pre !== '' || k.pre !== '') && comparePre(v.pre, k.pre) !== 0;
        return k.patch !== v.patch || compare(v, k) !== 0;
      }
      return compare(v, k) !== 0;
    case '>':
      if (!c.dirty) return compare(v, k) > 0;
      if (v.major !== k.major) return v.major > k.major;
      if (c.minorDirty) return false;
      return v.minor > k.minor;
    case '<':
      return compare(v, k) < 0;
    case '>=':
    case '=>':
      return compare(v, k) >= 0;
    case '<=':
    case '=<':
      if (!c.dirty) return compare(v, k) <= 0;
      if (v.major > k.major) return false;
      return !(v.major === k.major && v.minor > k.minor && !c.minorDirty);
    case '~':
    case '~>':
      return tilde();
    case '^':
      if (compare(v, k) < 0) return false;
      if (k.major > 0 || c.minorDirty) return v.major === k.major;
      if (v.major > 0) return false;
      if (k.minor > 0 || c.patchDirty) return v.minor === k.minor;
      if (v.minor > 0) return false;
      return v.patch === k.patch;
  }
  return false;
}

export function semverCheck(version: string, constraint: string): boolean {
  const v = parseVersion(version);
  const groups = constraint.split('||').map((part) => {
    // "1.2 - 1.4" is ">= 1.2, <= 1.4"
    const ranged = part.replace(new RegExp(`\\s*(${CV})\\s+-\\s+(${CV})\\s*`, 'g'), (_m, a: string, ...rest: string[]) => ` >= ${a}, <= ${rest[5]} `);
    if (!ranged.trim()) throw new ExprError(`improper constraint: ${part.trim()}`);
    // the constraints of one group are separated by commas or spaces; an operator may be followed by spaces
    const FIND = new RegExp(`(!=|>=|=>|<=|=<|~>|[=><~^])?\\s*${CV}`, 'g');
    const items: string[] = [];
    let rest = ranged;
    for (const m of ranged.matchAll(FIND)) {
      items.push(m[0]);
      rest = rest.replace(m[0], '');
    }
    if (rest.replace(/[,\s]/g, '') !== '') throw new ExprError(`improper constraint: ${part.trim()}`);
    return items.map(parseConstraint);
  });
  return groups.some((cs) => {
    const includePre = cs.some((c) => c.v.pre !== '');
    return cs.every((c) => check(v, c, includePre));
  });
}

export const netFunctions: Record<string, (a: Value[]) => Value> = {
  cidrhost: (a) => {
    if (a.length !== 2) throw new ExprError(`cidrhost(): expects 2 arguments, got ${a.length}`);
    const c = parseCidr(toStr(a[0]!));
    const size = 1n << BigInt(c.bits - c.len);
    let n = int(a[1]!, 'host number');
    if (n < 0n) n += size;
    if (n < 0n || n >= size) throw new ExprError(`prefix of ${c.len} does not accommodate a host numbered ${int(a[1]!, 'host number')}`);
    return formatIp(c.base + n, c.v6);
  },
  cidrnetmask: (a) => {
    if (a.length !== 1) throw new ExprError(`cidrnetmask(): expects 1 argument, got ${a.length}`);
    const c = parseCidr(toStr(a[0]!));
    if (c.v6) throw new ExprError('IPv6 addresses cannot have a netmask');
    return formatIp(((1n << 32n) - 1n) ^ ((1n << BigInt(32 - c.len)) - 1n), false);
  },
  cidrsubnet: (a) => {
    if (a.length !== 3) throw new ExprError(`cidrsubnet(): expects 3 arguments, got ${a.length}`);
    const s = subnet(parseCidr(toStr(a[0]!)), Number(int(a[1]!, 'newbits')), int(a[2]!, 'netnum'));
    return `${formatIp(s.base, s.v6)}/${s.len}`;
  },
  cidrsubnets: (a) => {
    if (!a.length) throw new ExprError('cidrsubnets(): expects a prefix and a list of bit counts');
    const c = parseCidr(toStr(a[0]!));
    const end = c.base + (1n << BigInt(c.bits - c.len));
    let pos = c.base;
    return a.slice(1).map((nb) => {
      const n = Number(int(nb, 'newbits'));
      const len = c.len + n;
      if (n < 1) throw new ExprError('must extend prefix by at least one bit');
      if (len > c.bits) throw new ExprError(`would extend prefix to ${len} bits, which is too long for an IPv${c.v6 ? 6 : 4} address`);
      const size = 1n << BigInt(c.bits - len);
      const start = ((pos + size - 1n) / size) * size;
      if (start + size > end) throw new ExprError(`not enough remaining address space for a subnet with a prefix of ${len} bits after ${formatIp(pos - 1n, c.v6)}`);
      pos = start + size;
      return `${formatIp(start, c.v6)}/${len}`;
    });
  },
  semvercmp: (a) => {
    if (a.length !== 2) throw new ExprError(`semvercmp(): expects 2 arguments, got ${a.length}`);
    return semverCheck(toStr(a[0]!), toStr(a[1]!));
  },
};
