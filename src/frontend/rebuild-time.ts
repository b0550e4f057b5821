import { InputError } from '../util/errors.js';
import type { Dockerfile } from './types.js';

/**
 * The `# <Name>-Rebuild-Time: <RFC 3339>` header line (BuildKit ignores it; stratum does not): group 1 is
 * everything before the time, group 2 the time. The one pattern the build (cache staleness) and the catalog tools
 * (lint, update) read it with.
 */
export const REBUILD_TIME_RE = /^(#\s*[A-Za-z][A-Za-z0-9_.-]*-Rebuild-Time:\s*)(\S*)\s*$/;

/** The Dockerfile's Rebuild-Time: cache entries older than it are stale. */
export function rebuildTimeOf(df: Dockerfile): Date | undefined {
  for (const c of df.comments) {
    const m = REBUILD_TIME_RE.exec('# ' + c.text.trim());
    if (!m) continue;
    const t = new Date(m[2]!);
    if (!m[2] || Number.isNaN(t.getTime())) throw new InputError(`${df.file}:${c.line}: Rebuild-Time "${m[2]}" is not an RFC 3339 time`);
    return t;
  }
  return undefined;
}
