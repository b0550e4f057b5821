/**
 * Builds the OCI runtime config (config.json) for one RUN step. The shape follows the OCI runtime
 * spec; the defaults (capabilities, masked paths, mounts) match what Docker gives a build container.
 */
import { readFileSync } from 'node:fs';

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface ProcessSpec {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids?: number[];
}

export interface SpecOptions {
  rootfs: string;
  process: ProcessSpec;
  hostname: string;
  /** 'host' shares the host network namespace; 'none' gives the container a loopback-only one. */
  network: 'host' | 'none';
  extraMounts: SpecMount[];
  /**
   * RUN --security=insecure: every capability, no masked or read-only /proc paths, /sys writable (as BuildKit's
   * insecure mode; host devices are not passed in).
   */
  privileged?: boolean;
}

// Docker's default capability set for containers.
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability Linux defines (to CAP_CHECKPOINT_RESTORE); runc skips those the kernel lacks. */
export const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * The capabilities of ALL_CAPABILITIES (indexed by their number) that this process's bounding set holds: a
 * container cannot get more than we have, and runc fails outright when asked to.
 */
export function grantableCapabilities(status = readFileSync('/proc/self/status', 'utf8')): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return DEFAULT_CAPABILITIES;
  const bnd = BigInt('0x' + hex);
  return ALL_CAPABILITIES.filter((_, i) => (bnd & (1n << BigInt(i))) !== 0n);
}

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Paths runc mounts over in every container; the worker removes the stubs runc leaves in the layer. */
export const STANDARD_MOUNT_POINTS = ['/proc', '/dev', '/sys', '/etc/resolv.conf', '/etc/hosts', '/etc/hostname'];

export function buildRuntimeSpec(o: SpecOptions): Record<string, unknown> {
  const namespaces: { type: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (o.network === 'none') namespaces.push({ type: 'network' });
  const mounts: SpecMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // A sysfs mount needs a network namespace of our own; with the host's network, bind it read-only.
    o.network === 'none'
      ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', o.privileged ? 'rw' : 'ro'] }
      : { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', o.privileged ? 'rw' : 'ro'] },
    ...o.extraMounts,
  ];
  const caps = o.privileged ? grantableCapabilities() : DEFAULT_CAPABILITIES;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: o.process.uid, gid: o.process.gid, additionalGids: o.process.additionalGids ?? [] },
      args: o.process.args,
      env: o.process.env,
      cwd: o.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps, ...(o.privileged ? { inheritable: caps, ambient: caps } : {}) },
      noNewPrivileges: false,
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname,
    mounts,
    linux: {
      namespaces,
      maskedPaths: o.privileged ? [] : MASKED_PATHS,
      readonlyPaths: o.privileged ? [] : READONLY_PATHS,
    },
  };
}
