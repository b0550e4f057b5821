/**
 * How the worker undoes what a killed build left running: runc containers and overlay mounts. The store's crash
 * sweep (store/recovery.ts) calls it; the store itself never starts a program of the worker's.
 */
import { promises as fsp } from 'node:fs';
import type { Reaper } from '../store/index.js';
import { run } from '../util/exec.js';

/** Mount points at or below `dir` (deepest first), from /proc/self/mountinfo. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fsp.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p.startsWith(prefix)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

export const reaper: Reaper = {
  async deleteContainers(ids) {
    let n = 0;
    for (const id of ids) {
      const r = await run('runc', ['delete', '--force', id], { check: false }).catch(() => undefined);
      if (r?.code === 0) n++;
    }
    return n;
  },
  async unmountUnder(dir) {
    let n = 0;
    for (const mp of await mountsUnder(dir)) {
      // Lazily: a mount a dead process left may still be busy for a moment.
      const r = await run('umount', ['-l', mp], { check: false });
      if (r.code === 0) n++;
    }
    return n;
  },
};
