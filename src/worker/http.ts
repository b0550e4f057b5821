import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, utimes, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InputError, StratumError } from '../util/errors.js';
import { Transport, type HttpResponse } from '../registry/http.js';

export interface Download {
  file: string;
  digest: string;
  name: string;
  mtime: Date;
}

/**
 * Fetches an ADD URL into the download cache. With a checksum, a cached copy is used without
 * asking the server, and a mismatch is an error.
 */
export async function download(cacheDir: string, url: string, checksum?: string): Promise<Download> {
  if (checksum && !/^sha256:[0-9a-f]{64}$/.test(checksum)) {
    throw new InputError(`--checksum must be sha256:<64 hex digits>, got ${checksum}`);
  }
  await mkdir(cacheDir, { recursive: true });
  // BuildKit's name for a URL whose path names no file (`http://host/`).
  const name = path.posix.basename(new URL(url).pathname) || '__unnamed__';
  if (checksum) {
    const cached = path.join(cacheDir, checksum.slice(7));
    const meta = await readFile(`${cached}.json`, 'utf8').catch(() => undefined);
    if (meta && (await stat(cached).catch(() => undefined))) {
      const m = JSON.parse(meta) as { mtime: string };
      return { file: cached, digest: checksum, name, mtime: new Date(m.mtime) };
    }
  }
  // The registry's transport: the same TLS trust (NODE_EXTRA_CA_CERTS included), redirects and timeouts.
  const transport = new Transport({ idleTimeoutMs: 60_000 });
  const tmp = path.join(cacheDir, `dl-${randomBytes(6).toString('hex')}.tmp`);
  try {
    let res: HttpResponse;
    try {
      res = await transport.request({ method: 'GET', url: new URL(url) });
    } catch (e) {
      throw new StratumError(`cannot download ${url}: ${(e as Error).message}`);
    }
    if (res.status < 200 || res.status > 299) {
      res.body.resume();
      throw new StratumError(`cannot download ${url}: HTTP ${res.status}`);
    }
    const h = createHash('sha256');
    res.body.on('data', (c: Buffer) => h.update(c));
    await pipeline(res.body, createWriteStream(tmp));
    const digest = `sha256:${h.digest('hex')}`;
    if (checksum && digest !== checksum) {
      throw new StratumError(`checksum mismatch for ${url}: expected ${checksum}, got ${digest}`);
    }
    const lm = res.headers['last-modified'];
    const mtime = lm ? new Date(lm) : new Date(0);
    const final = path.join(cacheDir, digest.slice(7));
    await utimes(tmp, mtime, mtime);
    await rename(tmp, final);
    await writeFile(`${final}.json`, JSON.stringify({ url, mtime: mtime.toISOString() }));
    return { file: final, digest, name, mtime };
  } finally {
    transport.close();
    await rm(tmp, { force: true });
  }
}
