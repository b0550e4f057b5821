import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import { normalizeRegistryHost } from './reference.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The part of docker's config.json that stratum reads and writes. */
export interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (docker's lookup). */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

export async function readDockerConfig(file = dockerConfigPath()): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const j = JSON.parse(text) as unknown;
    if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('not an object');
    return j as DockerConfigFile;
  } catch (e) {
    throw new InputError(`${file}: invalid JSON (${(e as Error).message})`);
  }
}

/** Credentials for a registry from a docker config: the base64 `auth` field, or username/password. */
export function credentialsFor(config: DockerConfigFile, registry: string): Credentials | undefined {
  const want = normalizeRegistryHost(registry);
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (normalizeRegistryHost(key) !== want || !entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
    }
    if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Writes JSON with mode 0600 through a temp file and rename, so a crash never leaves half a config. */
async function writeConfigAtomic(file: string, config: DockerConfigFile): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(config, null, '\t') + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

/** Stores credentials under `auths[registry]`, keeping every other key of the file. */
export async function saveCredentials(registry: string, creds: Credentials, file = dockerConfigPath()): Promise<void> {
  const config = await readDockerConfig(file);
  const auths = { ...(config.auths ?? {}) };
  const want = normalizeRegistryHost(registry);
  for (const k of Object.keys(auths)) if (normalizeRegistryHost(k) === want) delete auths[k];
  const key = want === 'docker.io' ? 'https://index.docker.io/v1/' : want;
  auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  await writeConfigAtomic(file, { ...config, auths });
}

/** Removes a registry's credentials; returns false when there were none. */
export async function removeCredentials(registry: string, file = dockerConfigPath()): Promise<boolean> {
  const config = await readDockerConfig(file);
  const auths = { ...(config.auths ?? {}) };
  const want = normalizeRegistryHost(registry);
  let found = false;
  for (const k of Object.keys(auths)) {
    if (normalizeRegistryHost(k) === want) {
      delete auths[k];
      found = true;
    }
  }
  if (found) await writeConfigAtomic(file, { ...config, auths });
  return found;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each a scheme followed by
 * comma-separated `key=value` or `key="quoted, value"` parameters.
 */
export function parseWWWAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
  };
  while (i < s.length) {
    skipWs();
    const m = /^[A-Za-z][\w!#$%&'*+.^`|~-]*/.exec(s.slice(i));
    if (!m) break;
    const scheme = m[0];
    i += scheme.length;
    const params: Record<string, string> = {};
    while (i < s.length) {
      skipWs();
      const km = /^([\w!#$%&'*+.^`|~-]+)\s*=\s*/.exec(s.slice(i));
      if (!km) break; // next token is a new scheme (no '=')
      const key = km[1]!.toLowerCase();
      i += km[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vm = /^[^,\s]*/.exec(s.slice(i))!;
        value = vm[0];
        i += value.length;
      }
      params[key] = value;
    }
    out.push({ scheme: scheme.toLowerCase() === 'bearer' ? 'Bearer' : scheme.toLowerCase() === 'basic' ? 'Basic' : scheme, params });
  }
  return out;
}

/** `repository:<name>:<actions>` scope strings as the token protocol wants them. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Token endpoint answer; `token` and `access_token` are both in use. */
export interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
}
