/**
 * The world the real catalog is built and run in during tests, made here from public releases: git mirrors of
 * each project made from its released sdist (PyPI), a requirements mirror whose upper-constraints pins what PyPI
 * offered when the release came out (resolved by uv, `--exclude-newer`), and a MariaDB from Debian on loopback.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { run } from '../../../src/util/exec.js';
import { TEST_CACHE } from '../../helpers/base.js';
import { makeRepo } from '../../helpers/git.js';
import { freePort, waitForPort } from '../../helpers/net.js';

/** The 2025.2 releases the catalog's refs point into (openstack/releases), as sdists on PyPI. */
export const RELEASES = [
  { repo: 'keystone', pypi: 'keystone', version: '28.0.2', arg: 'keystone.args.KEYSTONE_GIT_REF' },
  { repo: 'placement', pypi: 'openstack-placement', version: '14.0.0', arg: 'placement.args.PLACEMENT_GIT_REF' },
  { repo: 'python-openstackclient', pypi: 'python-openstackclient', version: '8.2.0', arg: 'python-openstackclient.args.PYTHON_OPENSTACKCLIENT_GIT_REF' },
] as const;

/** When 2025.2 was released: upper-constraints pins what was current then. */
const RELEASE_DATE = '2025-10-02';

/** What the catalog installs besides the projects (venv builder, keystone's extras), for the resolver. */
const ALSO_INSTALLED = ['keystone[ldap]==28.0.2', 'keystone-keycloak-backend==0.5.0', 'cryptography', 'pymysql', 'python-binary-memcached', 'python-memcached'];
/**
 * Where the resolver needs the requirements team's judgement: pyOpenSSL declares no upper bound on cryptography,
 * so left alone uv pairs an old pyOpenSSL with a cryptography that dropped what it calls (stratum verify finds
 * keystone-manage failing to import). The real upper-constraints pairs them; so does this.
 */
const STEERING = ['pyopenssl>=24.2'];

export const UV = process.env.STRATUM_UV ?? '/var/tmp/stratum-tools/uv-0.13.9/bin/uv';

const WORLD = path.join(TEST_CACHE, 'openstack-world');

/** A release's sdist, found through PyPI's simple index (JSON, PEP 691), checked against its sha256, kept in the test cache. */
async function sdist(pypi: string, version: string): Promise<string> {
  const dir = path.join(WORLD, 'sdists');
  await fsp.mkdir(dir, { recursive: true });
  const res = await fetch(`https://pypi.org/simple/${pypi}/`, { headers: { Accept: 'application/vnd.pypi.simple.v1+json' } });
  if (!res.ok) throw new Error(`PyPI's index has no ${pypi}: HTTP ${res.status}`);
  const index = (await res.json()) as { files: { filename: string; url: string; hashes: { sha256?: string } }[] };
  const names = [pypi, pypi.replace(/-/g, '_')].map((n) => `${n}-${version}.tar.gz`);
  const file = index.files.find((f) => names.includes(f.filename));
  if (!file?.hashes.sha256) throw new Error(`PyPI lists no sdist of ${pypi} ${version} (looked for ${names.join(' or ')})`);
  const dest = path.join(dir, file.filename);
  if (existsSync(dest) && createHash('sha256').update(await fsp.readFile(dest)).digest('hex') === file.hashes.sha256) return dest;
  const body = Buffer.from(await (await fetch(file.url)).arrayBuffer());
  const got = createHash('sha256').update(body).digest('hex');
  if (got !== file.hashes.sha256) throw new Error(`${file.filename}: sha256 ${got}, PyPI says ${file.hashes.sha256}`);
  await fsp.writeFile(dest, body);
  return dest;
}

/** upper-constraints.txt as the requirements team would have had it at the release, in their `===` form. */
async function upperConstraints(): Promise<string> {
  const file = path.join(WORLD, 'upper-constraints.txt');
  if (existsSync(file)) return fsp.readFile(file, 'utf8');
  const input = path.join(WORLD, 'catalog.in');
  const pins = RELEASES.map((r) => `${r.pypi}==${r.version}`);
  await fsp.writeFile(input, [...pins, ...ALSO_INSTALLED, ...STEERING].join('\n') + '\n');
  const newer = [...RELEASES.map((r) => r.pypi), 'keystone-keycloak-backend'].flatMap((p) => ['--exclude-newer-package', `${p}=2026-12-01`]);
  const out = path.join(WORLD, 'compiled.txt');
  await run(UV, ['pip', 'compile', '--system-certs', '--python-version', '3.11', '--python-platform', 'x86_64-unknown-linux-gnu', '--exclude-newer', RELEASE_DATE, ...newer, '--no-header', '--no-annotate', input, '-o', out], { timeout: 300_000 });
  // Upper-constraints pins libraries and clients, not the services themselves.
  const services = new Set(['keystone', 'openstack-placement', 'keystone-keycloak-backend']);
  const lines = (await fsp.readFile(out, 'utf8'))
    .split('\n')
    .map((l) => /^([A-Za-z0-9_.-]+)==(\S+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => !!m && !services.has(m[1]!))
    .map((m) => `${m[1]}===${m[2]}`);
  const text = lines.join('\n') + '\n';
  await fsp.writeFile(file, text);
  return text;
}

export interface Mirror {
  base: string;
  /** `--set` arguments pinning each Dockerfile ref to the mirror's commit. */
  sets: string[];
}

/** Bare repositories under `dir`: one per project (its sdist, tagged with its version) and requirements. */
export async function makeMirror(dir: string): Promise<Mirror> {
  const sets: string[] = [];
  const work = path.join(dir, 'src');
  await fsp.mkdir(work, { recursive: true });
  for (const r of RELEASES) {
    const tarball = await sdist(r.pypi, r.version);
    const into = path.join(work, r.repo);
    await fsp.mkdir(into, { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
    // Tagged with the release, so pbr (which versions from git when it can) gives the release's version.
    const commit = await makeRepo(into, path.join(dir, `${r.repo}.git`), r.version);
    sets.push('--set', `${r.arg}=${commit}`);
  }
  const req = path.join(work, 'requirements');
  await fsp.mkdir(req, { recursive: true });
  await fsp.writeFile(path.join(req, 'upper-constraints.txt'), await upperConstraints());
  const reqCommit = await makeRepo(req, path.join(dir, 'requirements.git'));
  sets.push('--set', `openstack-venv-builder.args.REQUIREMENTS_GIT_REF=${reqCommit}`);
  return { base: dir, sets };
}


export interface Daemon {
  port: number;
  log: () => string;
  stop: () => Promise<void>;
}

/** Starts a long-running process and waits until it accepts connections on `port`. */
export async function startDaemon(what: string, cmd: string, args: string[], port: number, env?: NodeJS.ProcessEnv): Promise<Daemon> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  child.stderr!.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-20_000)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await done;
    clearTimeout(t);
  };
  try {
    await waitForPort(port, { what, child, log: () => out, timeoutMs: 90_000, intervalMs: 250 });
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, log: () => out, stop };
}

/** A MariaDB server of Debian's on 127.0.0.1 with the databases and users the services ask for. */
export async function startMariaDB(dir: string, dbs: Record<string, string>): Promise<Daemon> {
  const data = path.join(dir, 'mysql');
  const sock = path.join(dir, 'mysql.sock');
  await fsp.mkdir(data, { recursive: true });
  await run('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db'], { timeout: 120_000 });
  const port = await freePort();
  const db = await startDaemon('mariadbd', 'mariadbd', ['--no-defaults', `--datadir=${data}`, `--socket=${sock}`, `--port=${port}`, '--bind-address=127.0.0.1', '--user=root', `--pid-file=${path.join(dir, 'mysql.pid')}`, '--skip-log-bin'], port);
  const sql = Object.entries(dbs)
    .map(([name, pw]) => `CREATE DATABASE ${name}; CREATE USER '${name}'@'127.0.0.1' IDENTIFIED BY '${pw}'; GRANT ALL ON ${name}.* TO '${name}'@'127.0.0.1';`)
    .join(' ');
  await run('mariadb', ['--no-defaults', `--socket=${sock}`, '-u', 'root', '-e', sql]);
  return db;
}
