/** Path handling that must match Go's (buildx cleans paths with path.Clean). */

/** Go's path.Clean. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(seg);
  }
  const s = (abs ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

