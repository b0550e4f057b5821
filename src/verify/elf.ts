/**
 * Shared libraries of an image's ELF files, resolved the way the image's own dynamic loader would look for them:
 * DT_RPATH (when there is no DT_RUNPATH), LD_LIBRARY_PATH from the image's ENV, DT_RUNPATH, the directories of the
 * image's /etc/ld.so.conf, then the default and multiarch directories. The dynamic sections are read by binutils'
 * `readelf` (many files per call); the search itself runs here, inside the unpacked image, never on the host.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EnvironmentError } from '../util/errors.js';
import { run } from '../util/exec.js';
import { resolveInRoot } from '../worker/securejoin.js';

export interface ElfHeader {
  bits: 32 | 64;
  machine: number;
  /** ET_EXEC or ET_DYN: something the loader loads (not a relocatable object, core or kernel module). */
  loadable: boolean;
}

/** The ELF identity of a file, or undefined when it is not an ELF file. */
export function readElfHeader(file: string): ElfHeader | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const b = Buffer.alloc(20);
    if (fs.readSync(fd, b, 0, 20, 0) < 20 || b.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const little = b[5] === 1;
    const type = little ? b.readUInt16LE(16) : b.readUInt16BE(16);
    const machine = little ? b.readUInt16LE(18) : b.readUInt16BE(18);
    return { bits: b[4] === 2 ? 64 : 32, machine, loadable: type === 2 || type === 3 };
  } finally {
    fs.closeSync(fd);
  }
}

/** e_machine values and the Debian multiarch triplet of their libraries. */
const MULTIARCH: Record<number, string> = { 62: 'x86_64-linux-gnu', 183: 'aarch64-linux-gnu', 3: 'i386-linux-gnu', 40: 'arm-linux-gnueabihf', 21: 'powerpc64le-linux-gnu', 22: 's390x-linux-gnu' };

export interface DynamicInfo {
  needed: string[];
  rpath: string[];
  runpath: string[];
}

/** DT_NEEDED, DT_RPATH and DT_RUNPATH of each file, from `readelf -d` in batches. */
export async function dynamicSections(files: string[]): Promise<Map<string, DynamicInfo>> {
  const out = new Map<string, DynamicInfo>();
  for (let i = 0; i < files.length; i += 400) {
    const batch = files.slice(i, i + 400);
    let stdout: string;
    try {
      ({ stdout } = await run('readelf', ['-d', '-W', '--', ...batch], { check: false }));
    } catch (e) {
      if ((e as { exitCode?: number }).exitCode === 3) throw new EnvironmentError('readelf is not installed: apt-get install binutils');
      throw e;
    }
    // readelf names each file in a "File:" line, except when it is given only one.
    let current: DynamicInfo | undefined;
    const open = (file: string) => {
      current = { needed: [], rpath: [], runpath: [] };
      out.set(file, current);
    };
    if (batch.length === 1) open(batch[0]!);
    for (const line of stdout.split('\n')) {
      const file = /^File: (.*)$/.exec(line)?.[1];
      if (file !== undefined) {
        open(file);
        continue;
      }
      const m = /\((NEEDED|RPATH|RUNPATH)\)\s+(?:Shared library|Library rpath|Library runpath): \[(.*)\]$/.exec(line);
      if (!m || !current) continue;
      const info: DynamicInfo = current;
      if (m[1] === 'NEEDED') info.needed.push(m[2]!);
      else (m[1] === 'RPATH' ? info.rpath : info.runpath).push(...m[2]!.split(':').filter(Boolean));
    }
  }
  return out;
}

/** The directories of the image's /etc/ld.so.conf, following its `include` lines. */
export async function ldSoConfDirs(rootfs: string): Promise<string[]> {
  const dirs: string[] = [];
  const seen = new Set<string>();
  const read = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    let text: string;
    try {
      text = fs.readFileSync(await resolveInRoot(rootfs, file), 'utf8');
    } catch {
      return;
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const inc = /^include\s+(.+)$/.exec(line)?.[1];
      if (!inc) {
        dirs.push(line);
        continue;
      }
      const dir = path.posix.dirname(inc);
      const pattern = new RegExp('^' + path.posix.basename(inc).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
      let names: string[];
      try {
        names = fs.readdirSync(await resolveInRoot(rootfs, dir)).sort();
      } catch {
        names = [];
      }
      for (const n of names) if (pattern.test(n)) await read(path.posix.join(dir, n));
    }
  };
  await read('/etc/ld.so.conf');
  return dirs;
}

export interface LibraryFinding {
  file: string;
  library: string;
}

/**
 * Every DT_NEEDED of every loadable ELF file under `rootfs` (paths inside the image) that the loader would not
 * find in the image. Files for another machine than the image's are not the loader's business and are skipped.
 */
export async function missingLibraries(rootfs: string, elfFiles: string[], env: Record<string, string>, machine: number): Promise<LibraryFinding[]> {
  const headers = new Map<string, ElfHeader>();
  const header = (inImage: string): ElfHeader | undefined => {
    if (!headers.has(inImage)) {
      const h = readElfHeader(path.join(rootfs, inImage));
      if (h) headers.set(inImage, h);
    }
    return headers.get(inImage);
  };
  const mine = elfFiles.filter((f) => {
    const h = header(f);
    return h?.loadable && h.machine === machine;
  });
  const dyn = await dynamicSections(mine.map((f) => path.join(rootfs, f)));
  const confDirs = await ldSoConfDirs(rootfs);
  const envDirs = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const found = new Map<string, boolean>();
  const findings: LibraryFinding[] = [];
  for (const file of mine) {
    const info = dyn.get(path.join(rootfs, file));
    if (!info || info.needed.length === 0) continue;
    const h = header(file)!;
    const triplet = MULTIARCH[h.machine];
    const lib = h.bits === 64 ? 'lib64' : 'lib';
    const origin = path.posix.dirname(file);
    const expand = (d: string) => d.replace(/\$(\{ORIGIN\}|ORIGIN)/g, origin).replace(/\$(\{LIB\}|LIB)/g, lib);
    const defaults = [...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), `/${lib}`, `/usr/${lib}`, '/lib', '/usr/lib'];
    const search = [...(info.runpath.length ? [] : info.rpath), ...envDirs, ...info.runpath, ...confDirs, ...defaults].map(expand);
    // A library kept beside the one that needs it (a wheel's `<pkg>.libs/`, systemd's private dir) is loaded
    // through the search path of the program that loads them both; the loader then finds it by its soname,
    // already loaded. Looking there too keeps such private directories from being reported.
    const siblings = [origin];
    for (const name of info.needed) {
      const candidates = name.includes('/') ? [expand(name)] : [...search, ...siblings].map((d) => path.posix.join(d, name));
      let ok = false;
      for (const c of candidates) {
        const key = `${h.bits}:${h.machine}:${c}`;
        let hit = found.get(key);
        if (hit === undefined) {
          const real = await resolveInRoot(rootfs, c);
          const ch = readElfHeader(real);
          hit = !!ch && ch.bits === h.bits && ch.machine === h.machine;
          found.set(key, hit);
        }
        if (hit) {
          ok = true;
          break;
        }
      }
      if (!ok) findings.push({ file, library: name });
    }
  }
  return findings;
}
