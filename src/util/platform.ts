/** Platforms (`linux/amd64`, `linux/arm/v7`) as OCI writes them: the one parser and formatter every part uses. */
import { InputError } from './errors.js';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const NODE_ARCH: Record<string, Platform> = {
  x64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64' },
  arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
  ia32: { os: 'linux', architecture: '386' },
  ppc64: { os: 'linux', architecture: 'ppc64le' },
  s390x: { os: 'linux', architecture: 's390x' },
  riscv64: { os: 'linux', architecture: 'riscv64' },
};

/** The platform of this machine in OCI terms. */
export function hostPlatform(): Platform {
  return { ...(NODE_ARCH[process.arch] ?? { os: 'linux', architecture: process.arch }) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}

/** Parses `linux/amd64`, `linux/arm/v7`, `linux/arm64/v8`; `what` names where it came from in the error. */
export function parsePlatform(s: string, what = 'platform'): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new InputError(`invalid ${what} ${JSON.stringify(s)}: expected os/arch[/variant], e.g. linux/amd64`);
  }
  const p: Platform = { os: parts[0]!, architecture: parts[1]! };
  if (parts[2]) p.variant = parts[2];
  return p;
}

/** Whether an image of platform `p` serves `want` (a variant matters only when both name one). */
export function platformMatches(p: Platform | undefined, want: Platform): boolean {
  if (!p) return false;
  if (p.os !== want.os || p.architecture !== want.architecture) return false;
  if (want.variant && p.variant && p.variant !== want.variant) return false;
  return true;
}
