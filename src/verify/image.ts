/**
 * `stratum verify`: checks what was built, not the text it was built from. An image fails when one of its ELF
 * files needs a shared library the image does not have, when a console script's module does not import, when it
 * runs as root although it has a service user, or when it carries build tools (compilers, -dev packages, git).
 */
import fs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { installedPackages } from '../catalog/measure.js';
import { isBuildTool } from '../catalog/lint.js';
import { resolveImage, stateFromManifest } from '../solver/images.js';
import { Session } from '../solver/session.js';
import { HOST_PLATFORM } from '../solver/build.js';
import { DEFAULT_PATH } from '../solver/state.js';
import { withScratchRootfs } from '../worker/rootfs.js';
import { storeLock, type Descriptor } from '../store/index.js';
import { InputError } from '../util/errors.js';
import { runContainer } from '../worker/executor.js';
import { resolveInRoot } from '../worker/securejoin.js';
import { resolveUser } from '../worker/users.js';
import { missingLibraries, readElfHeader } from './elf.js';
import { consoleScripts, findVenvs, IMPORT_CHECK, parseImportCheck, type ConsoleScript } from './python.js';

export const CHECKS = ['shared-libraries', 'python-imports', 'non-root', 'build-tools'] as const;
export type CheckName = (typeof CHECKS)[number];

/** An image label listing checks its maker waives, e.g. `non-root` for an agent that must run as root. */
export const ALLOW_LABEL = 'dev.stratum.verify.allow';

export interface Finding {
  check: CheckName;
  /** The file in the image the finding is about, when there is one. */
  file?: string;
  message: string;
}

export interface VerifyReport {
  image: string;
  digest: string;
  findings: Finding[];
  /** Checks waived by --allow or the image's label. */
  allowed: CheckName[];
  checked: { elfFiles: number; consoleScripts: number; packages: number };
}

export interface VerifyOptions {
  root?: string;
  /** A name in the local store, or the manifest of an image just built (not tagged yet). */
  image: string | { name: string; manifest: Descriptor };
  allow?: string[];
  /** Seconds the import check may take (default 300). */
  importTimeout?: number;
  signal?: AbortSignal;
}

const MACHINES: Record<string, number> = { amd64: 62, arm64: 183, '386': 3, arm: 40, ppc64le: 21, s390x: 22 };

export function parseChecks(names: string[], where: string): CheckName[] {
  const out: CheckName[] = [];
  for (const n of names.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)) {
    if (!(CHECKS as readonly string[]).includes(n)) throw new InputError(`${where}: unknown check "${n}" (checks: ${CHECKS.join(', ')})`);
    out.push(n as CheckName);
  }
  return out;
}

export async function verifyImage(o: VerifyOptions): Promise<VerifyReport> {
  const session = await Session.get(o.root);
  const release = await storeLock(session.root, 'shared');
  try {
    const name = typeof o.image === 'string' ? o.image : o.image.name;
    const desc = typeof o.image === 'string' ? await resolveImage(session, o.image) : o.image.manifest;
    const state = await stateFromManifest(session, desc, HOST_PLATFORM);
    const cfg = state.config.config ?? {};
    const allowed = [...new Set([...parseChecks(o.allow ?? [], '--allow'), ...parseChecks([cfg.Labels?.[ALLOW_LABEL] ?? ''], `${name}: label ${ALLOW_LABEL}`)])];
    const env: Record<string, string> = { PATH: DEFAULT_PATH };
    for (const kv of cfg.Env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const machine = MACHINES[state.config.architecture];
    if (machine === undefined) throw new InputError(`${name}: cannot check images of architecture ${state.config.architecture}`);
    return await withScratchRootfs(session.snapshots, state.chain, async (rootfs) => {
      const findings: Finding[] = [];
      const elfFiles = elfCandidates(rootfs);
      for (const m of await missingLibraries(rootfs, elfFiles, env, machine)) {
        findings.push({ check: 'shared-libraries', file: m.file, message: `needs ${m.library}, which the image does not have` });
      }
      const packages = await installedPackages(rootfs);
      for (const p of packages.filter(isBuildTool)) findings.push({ check: 'build-tools', message: `package ${p} is a build tool` });
      // Without a package database, look for the tools themselves.
      if (packages.length === 0) {
        for (const bin of ['/usr/bin/git', '/usr/bin/gcc', '/usr/bin/cc', '/usr/bin/c++', '/usr/bin/make']) {
          if (fs.existsSync(path.join(rootfs, bin))) findings.push({ check: 'build-tools', file: bin, message: 'is a build tool' });
        }
      }
      findings.push(...(await rootFindings(rootfs, cfg.User)));
      const scripts = findVenvs(rootfs).flatMap((v) => consoleScripts(rootfs, v));
      findings.push(...(await importFindings(session.layout.bundles, rootfs, scripts, cfg, env, o)));
      return {
        image: name,
        digest: desc.digest,
        findings: findings.filter((f) => !allowed.includes(f.check)),
        allowed,
        checked: { elfFiles: elfFiles.length, consoleScripts: scripts.length, packages: packages.length },
      };
    });
  } finally {
    await release();
  }
}

/** Files the loader could load: executables and `*.so*`, that start as ELF files (paths inside the image). */
function elfCandidates(rootfs: string): string[] {
  const out: string[] = [];
  const skip = new Set(['/proc', '/sys', '/dev']);
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(rootfs, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!skip.has(child)) walk(child);
      } else if (e.isFile()) {
        const abs = path.join(rootfs, child);
        const so = /\.so(\.|$)/.test(e.name);
        if (!so && (fs.statSync(abs).mode & 0o111) === 0) continue;
        if (readElfHeader(abs)) out.push(child);
      }
    }
  };
  walk('');
  return out.sort();
}

/** Root by default while the image has a user of its own to run as (the service user ONBUILD made). */
async function rootFindings(rootfs: string, user: string | undefined): Promise<Finding[]> {
  const u = await resolveUser(rootfs, user || 'root');
  if (u.uid !== 0) return [];
  let passwd: string;
  try {
    passwd = fs.readFileSync(await resolveInRoot(rootfs, '/etc/passwd'), 'utf8');
  } catch {
    return [];
  }
  const service = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length > 3 && Number(f[2]) >= 1000 && Number(f[2]) < 65534);
  if (service.length === 0) return [];
  const names = service.map((f) => `${f[0]} (uid ${f[2]})`).join(', ');
  return [{ check: 'non-root', message: `runs as root (USER ${user ? `is ${user}` : 'is not set'}) although it has the service user ${names}: add USER ${service[0]![0]}` }];
}

async function importFindings(
  bundles: string,
  rootfs: string,
  scripts: ConsoleScript[],
  cfg: { User?: string },
  env: Record<string, string>,
  o: VerifyOptions,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const byVenv = new Map<string, ConsoleScript[]>();
  for (const s of scripts) byVenv.set(s.venv, [...(byVenv.get(s.venv) ?? []), s]);
  const user = await resolveUser(rootfs, cfg.User || 'root');
  const scratchDir = bundles;
  await mkdir(scratchDir, { recursive: true });
  for (const [venv, list] of byVenv) {
    const timeout = AbortSignal.timeout((o.importTimeout ?? 300) * 1000);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    const chunks: Buffer[] = [];
    let exitCode: number;
    try {
      ({ exitCode } = await runContainer({
        rootfs,
        args: [path.posix.join(venv, 'bin', 'python'), '-c', IMPORT_CHECK, JSON.stringify(list.map((s) => [s.name, s.module, s.attr]))],
        env: Object.entries({ ...env, HOME: user.home || '/' }).map(([k, v]) => `${k}=${v}`),
        cwd: '/',
        uid: user.uid,
        gid: user.gid,
        additionalGids: user.additionalGids,
        network: 'none',
        mounts: [],
        scratchDir,
        onOutput: (c) => chunks.push(c),
        signal,
      }));
    } catch (e) {
      if (timeout.aborted && !o.signal?.aborted) {
        findings.push({ check: 'python-imports', file: venv, message: `importing the console scripts' modules took longer than ${o.importTimeout ?? 300} s` });
        continue;
      }
      throw e;
    }
    const output = Buffer.concat(chunks).toString('utf8');
    const bad = parseImportCheck(output);
    if (!bad) {
      findings.push({ check: 'python-imports', file: `${venv}/bin/python`, message: `the venv's Python did not run (exit ${exitCode}): ${output.trim().split('\n').at(-1) ?? ''}` });
      continue;
    }
    for (const [name, module, attr, error] of bad) {
      findings.push({ check: 'python-imports', file: `${venv}/bin/${name}`, message: `${module}${attr ? `:${attr}` : ''} does not import: ${error}` });
    }
  }
  return findings;
}

export function formatReport(r: VerifyReport): string {
  const head = `${r.image} (${r.digest.slice(7, 19)}): ${r.findings.length === 0 ? 'ok' : `${r.findings.length} finding${r.findings.length === 1 ? '' : 's'}`}` +
    ` — ${r.checked.elfFiles} ELF files, ${r.checked.consoleScripts} console scripts, ${r.checked.packages} packages checked` +
    (r.allowed.length ? `; allowed: ${r.allowed.join(', ')}` : '');
  return [head, ...r.findings.map((f) => `  ${f.check}: ${f.file ? `${f.file}: ` : ''}${f.message}`)].join('\n') + '\n';
}
