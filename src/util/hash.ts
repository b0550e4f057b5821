import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';

const SMALL = 1 << 20;

/** sha256 of a file's content, hex, read in 1 MiB pieces. */
export function hashFile(file: string): Promise<string> {
  // Build context files (COPY keys) are mostly small: one synchronous read instead of a stream, whose set-up
  // and thread-pool round trips cost far more than hashing a few kilobytes.
  try {
    if (statSync(file).size < SMALL) return Promise.resolve(createHash('sha256').update(readFileSync(file)).digest('hex'));
  } catch (e) {
    return Promise.reject(e as Error);
  }
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file, { highWaterMark: SMALL })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
