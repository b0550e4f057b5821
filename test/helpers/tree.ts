import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

/** One line per path: type, mode, owner and content (or link target); timestamps left out. */
export async function describeTree(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      if (skip(rel)) continue;
      const st = await lstat(full);
      const owner = `${st.uid}:${st.gid}`;
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(rel, `dir ${mode} ${owner}`);
        await walk(full);
      } else if (st.isSymbolicLink()) {
        out.set(rel, `link ${owner} -> ${await readlink(full)}`);
      } else if (st.isFile()) {
        const sum = createHash('sha256').update(await readFile(full)).digest('hex').slice(0, 16);
        out.set(rel, `file ${mode} ${owner} ${st.size} ${sum}`);
      } else {
        out.set(rel, `other ${mode} ${owner} ${st.rdev}`);
      }
    }
  }
  await walk(root);
  return out;
}

/** The entries that differ between two trees, as readable lines. */
export function diffTrees(a: Map<string, string>, b: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined) lines.push(`only in first: ${k} (${v})`);
    else if (w !== v) lines.push(`differs: ${k}: ${v} != ${w}`);
  }
  for (const [k, v] of b) if (!a.has(k)) lines.push(`only in second: ${k} (${v})`);
  return lines;
}
