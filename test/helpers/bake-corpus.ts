/**
 * The bake parity corpus (test/fixtures/bake-corpus/*.txt): each case is one text file of
 * sections, `-- NAME --` on a line of its own. `args` holds the command line after `bake`
 * (`--print` is implied), `env` KEY=VALUE lines, `expect` what differs from a plain comparison,
 * `stdin` what `-f -` reads; every other section is a file of the case (a name ending in `/` is
 * an empty directory; `NAME @sshkey` is an SSH private key made when the case is written, since
 * buildx reads the keys an ssh entry names).
 *
 * `expect` lines:
 *   fails                      buildx fails; stratum must fail too (exit 2, one line, no stack)
 *   differs REASON             a deliberate difference: buildx succeeds, stratum refuses
 *   differs-value REASON       a known difference in what is computed: the outcomes differ (one
 *                              prints something else, or accepts what the other refuses)
 *   stratum-error REGEXP       the refusal (or failure) stratum must print
 *   unordered group.NAME       compare that group's target list as a set (buildx's map order)
 *   unordered target.NAME.KEY  likewise for a target's list attribute
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface CorpusCase {
  name: string;
  args: string[];
  env: Record<string, string>;
  files: Record<string, string>;
  stdin?: string;
  fails: boolean;
  differs?: string;
  differsValue?: string;
  stratumError?: RegExp;
  unordered: string[];
}

/** Splits a command line into words: whitespace separates, '…' and "…" quote. */
export function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: string | undefined;
  for (const c of s) {
    if (q) {
      if (c === q) q = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

export function parseCase(name: string, text: string): CorpusCase {
  const c: CorpusCase = { name, args: [], env: {}, files: {}, fails: false, unordered: [] };
  const parts = text.split(/^-- (.+?) --$/m);
  for (let i = 1; i < parts.length; i += 2) {
    const sec = parts[i]!;
    const body = parts[i + 1]!.replace(/^\n/, '');
    if (sec === 'args') c.args = words(body);
    else if (sec === 'env') {
      for (const line of body.split('\n')) {
        if (!line.trim()) continue;
        const eq = line.indexOf('=');
        c.env[line.slice(0, eq)] = line.slice(eq + 1);
      }
    } else if (sec === 'stdin') c.stdin = body;
    else if (sec === 'expect') {
      for (const line of body.split('\n').map((l) => l.trim())) {
        if (line === 'fails') c.fails = true;
        else if (line.startsWith('differs ')) c.differs = line.slice('differs '.length);
        else if (line.startsWith('differs-value ')) c.differsValue = line.slice('differs-value '.length);
        else if (line.startsWith('stratum-error ')) c.stratumError = new RegExp(line.slice('stratum-error '.length));
        else if (line.startsWith('unordered ')) c.unordered.push(line.slice('unordered '.length));
        else if (line) throw new Error(`${name}: unknown expect line ${JSON.stringify(line)}`);
      }
    } else c.files[sec] = body;
  }
  return c;
}

export function loadCorpus(dir: string): CorpusCase[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => parseCase(f.replace(/\.txt$/, ''), fs.readFileSync(path.join(dir, f), 'utf8')));
}

/** Writes a case's files under `dir`. */
export function writeCase(c: CorpusCase, dir: string): void {
  for (const [name, body] of Object.entries(c.files)) {
    if (name.endsWith(' @sshkey')) {
      const p = path.join(dir, name.slice(0, -' @sshkey'.length));
      const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bake-corpus', '-f', p], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${c.name}: ssh-keygen failed: ${r.error?.message ?? r.stderr}`);
      continue;
    }
    const p = path.join(dir, name);
    if (name.endsWith('/')) {
      fs.mkdirSync(p, { recursive: true });
      continue;
    }
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, body);
  }
}

/** The bake files of a case (what counts towards the corpus size). */
export const bakeFiles = (c: CorpusCase) => Object.keys(c.files).filter((f) => /\.(hcl|json)$/.test(f) || /bake/.test(f)).length + (c.stdin !== undefined ? 1 : 0);

/** Sorts the lists named by `unordered` so map-ordered output compares equal. */
export function normalize(doc: unknown, unordered: string[]): unknown {
  const d = structuredClone(doc) as Record<string, Record<string, Record<string, unknown>>>;
  for (const u of unordered) {
    const [kind, name, key] = u.split('.') as [string, string, string | undefined];
    const obj = d[kind]?.[name];
    if (!obj) continue;
    const k = key ?? 'targets';
    if (Array.isArray(obj[k])) obj[k] = [...(obj[k] as unknown[])].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return d;
}
