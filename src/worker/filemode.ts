/**
 * `--chmod` as BuildKit takes it: an octal mode (0 to 7777) given to every file and to every directory the copy
 * creates, or a symbolic mode (`u+x`, `go-w`, `a+X`, `u=rwx,go=rx`) applied to each copied file's own mode, as
 * chmod(1) does with a umask of 0. A symbolic mode leaves the directories the copy creates at 0755.
 */
export interface Chmod {
  /** Set for an octal mode: also the mode of directories the copy creates. */
  octal?: number;
  /** The mode a copied entry gets, from its source mode (permission and set-id bits). */
  apply(mode: number, isDir: boolean): number;
  /** For the cache key. */
  text: string;
}

type Clause = { who: number; op: '+' | '-' | '='; perm: number; permX: number; copyFrom?: 'u' | 'g' | 'o' };

const WHO: Record<string, number> = { u: 0o4700, g: 0o2070, o: 0o0007, a: 0o7777 };

/** Parses a --chmod value; undefined when it is neither octal nor symbolic (the caller says where). */
export function parseChmod(text: string): Chmod | undefined {
  if (/^[0-9]/.test(text)) {
    if (!/^[0-7]+$/.test(text)) return undefined;
    const n = parseInt(text, 8);
    if (n > 0o7777) return undefined;
    return { octal: n, apply: () => n, text };
  }
  const clauses: Clause[] = [];
  for (const part of text.split(',')) {
    const m = /^([ugoa]*)((?:[-+=](?:[ugo]|[rwxXst]*))+)$/.exec(part);
    if (!m) return undefined;
    const whoText = m[1] as string;
    // No `who` means everyone (umask 0), set-id and sticky bits included.
    const who = whoText === '' ? 0o7777 : [...whoText].reduce((acc, c) => acc | (WHO[c] as number), 0);
    for (const action of (m[2] as string).matchAll(/([-+=])([ugo]|[rwxXst]*)/g)) {
      const op = action[1] as Clause['op'];
      const letters = action[2] as string;
      if (/^[ugo]$/.test(letters)) {
        clauses.push({ who, op, perm: 0, permX: 0, copyFrom: letters as 'u' | 'g' | 'o' });
        continue;
      }
      let perm = 0;
      let permX = 0;
      for (const c of letters) {
        if (c === 'r') perm |= 0o444;
        else if (c === 'w') perm |= 0o222;
        else if (c === 'x') perm |= 0o111;
        else if (c === 'X') {
          if (op === '-') perm |= 0o111;
          else permX |= 0o111;
        } else if (c === 's') {
          if (whoText === '' || /[uga]/.test(whoText)) perm |= 0o6000;
        } else if (c === 't') {
          if (whoText === '' || /[uga]/.test(whoText)) perm |= 0o1000;
        }
      }
      clauses.push({ who, op, perm, permX });
    }
  }
  return { apply: (mode, isDir) => applyClauses(clauses, mode & 0o7777, isDir), text };
}

function applyClauses(clauses: Clause[], original: number, isDir: boolean): number {
  let mode = original;
  // `X` looks at the mode before the whole --chmod, as BSD setmode does.
  const xApplies = isDir || (original & 0o111) !== 0;
  for (const c of clauses) {
    let bits = c.perm;
    if (c.copyFrom) {
      const shift = c.copyFrom === 'u' ? 6 : c.copyFrom === 'g' ? 3 : 0;
      const v = (mode >> shift) & 7;
      bits = (v << 6) | (v << 3) | v;
    }
    if (xApplies) bits |= c.permX;
    // `t` is only meaningful with `o` in the who mask when who is a or empty; keep the sticky bit with the rest.
    const mask = c.who | (c.perm & 0o1000 ? 0o1000 : 0);
    bits &= mask;
    if (c.op === '+') mode |= bits;
    else if (c.op === '-') mode &= ~bits;
    else mode = (mode & ~(c.who & 0o777 ? c.who & ~0o1000 : c.who)) | bits;
  }
  return mode & 0o7777;
}
