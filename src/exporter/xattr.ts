/** Batched xattr access through the `attr` package's getfattr/setfattr (Node has no xattr API). */
import { run } from '../util/exec.js';

/** getfattr/setfattr path quoting: octal escapes for control bytes, backslash and '='. */
export function quoteAttrPath(p: string): string {
  const b = Buffer.from(p, 'utf8');
  let start = 0;
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c < 0x20 || c === 0x7f || c === 0x5c || c === 0x3d) {
      parts.push(b.subarray(start, i), Buffer.from('\\' + c.toString(8).padStart(3, '0'), 'ascii'));
      start = i + 1;
    }
  }
  parts.push(b.subarray(start));
  return Buffer.concat(parts).toString('utf8');
}

export function unquoteAttrPath(s: string): string {
  const b = Buffer.from(s, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x5c && i + 3 < b.length + 0 && /^[0-7]{3}$/.test(b.toString('ascii', i + 1, i + 4))) {
      out.push(parseInt(b.toString('ascii', i + 1, i + 4), 8));
      i += 3;
    } else if (b[i] === 0x5c && b[i + 1] === 0x5c) {
      out.push(0x5c);
      i += 1;
    } else out.push(b[i]!);
  }
  return Buffer.from(out).toString('utf8');
}

/**
 * One recursive getfattr over `dir` (no symlink following). Returns absolute path -> (xattr name -> value) for
 * the attributes whose names match `pattern` (a getfattr -m regex).
 */
export async function scanXattrs(dir: string, pattern: string): Promise<Map<string, Map<string, Buffer>>> {
  const r = await run('getfattr', ['-R', '-P', '-h', '--absolute-names', '-d', '-e', 'hex', '-m', pattern, '--', dir], {
    check: false,
  });
  if (r.code !== 0 && r.stderr.trim()) throw new Error(`getfattr failed on ${dir}: ${r.stderr.trim().split('\n').slice(-3).join('\n')}`);
  const out = new Map<string, Map<string, Buffer>>();
  let cur: Map<string, Buffer> | undefined;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      cur = new Map();
      out.set(unquoteAttrPath(line.slice(8)), cur);
    } else if (cur && line.includes('=')) {
      const eq = line.indexOf('=');
      const name = line.slice(0, eq);
      const val = line.slice(eq + 1);
      if (val.startsWith('0x')) cur.set(name, Buffer.from(val.slice(2), 'hex'));
      else if (val.startsWith('0s')) cur.set(name, Buffer.from(val.slice(2), 'base64'));
      else cur.set(name, Buffer.from(val.replace(/^"|"$/g, ''), 'utf8'));
    }
  }
  return out;
}

/** Sets xattrs on many files with one `setfattr --restore` (symlinks are not followed: we never pass any). */
export async function restoreXattrs(items: { path: string; xattrs: Map<string, Buffer> }[]): Promise<void> {
  if (items.length === 0) return;
  let dump = '';
  for (const it of items) {
    dump += `# file: ${quoteAttrPath(it.path)}\n`;
    for (const [k, v] of it.xattrs) dump += `${k}=0x${v.toString('hex')}\n`;
    dump += '\n';
  }
  await run('setfattr', ['--restore=-'], { input: dump });
}
