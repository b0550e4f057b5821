import { readFile } from 'node:fs/promises';
import { resolveInRoot } from './securejoin.js';
import { InputError } from '../util/errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

async function readDb(root: string, file: string): Promise<string[][]> {
  try {
    const text = await readFile(await resolveInRoot(root, file), 'utf8');
    return text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/** Root is uid 0 with or without a passwd file (`FROM scratch` has none, and BuildKit's default user needs none). */
const ROOT = ['root', 'x', '0', '0', 'root', '/', ''];

/**
 * Turns a USER value ("name", "uid", "name:group", "uid:gid") into numeric ids by reading
 * the image's own /etc/passwd and /etc/group, as Docker does.
 */
export async function resolveUser(root: string, spec: string): Promise<ResolvedUser> {
  const [userPart = 'root', groupPart] = (spec || 'root').split(':', 2);
  const passwd = await readDb(root, '/etc/passwd');
  const groups = await readDb(root, '/etc/group');
  let uid: number;
  let gid: number | undefined;
  let home = '/';
  let name: string | undefined;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((e) => e[2] === userPart);
    if (entry) {
      gid = Number(entry[3]);
      home = entry[5] ?? '/';
      name = entry[0];
    }
  } else {
    const entry = passwd.find((e) => e[0] === userPart) ?? (userPart === 'root' ? ROOT : undefined);
    if (!entry) throw new InputError(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5] ?? '/';
    name = entry[0];
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((e) => e[0] === groupPart);
      if (!g) throw new InputError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(g[2]);
    }
  }
  const additionalGids =
    groupPart === undefined && name !== undefined
      ? groups.filter((g) => (g[3] ?? '').split(',').includes(name)).map((g) => Number(g[2]))
      : [];
  return { uid, gid: gid ?? 0, additionalGids, home };
}
