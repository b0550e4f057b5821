/**
 * The console scripts of every virtualenv in an image, and a check that each one's module imports and its
 * function exists, run inside the image by the venv's own Python: a venv copied into a runtime that lacks a
 * library its extensions load fails here, not in production.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ConsoleScript {
  venv: string;
  name: string;
  module: string;
  attr: string;
}

/** Directories holding a pyvenv.cfg, up to a few levels below / (where venvs are put: /opt, /var/lib, /usr/local). */
export function findVenvs(rootfs: string, maxDepth = 4): string[] {
  const out: string[] = [];
  const skip = new Set(['proc', 'sys', 'dev', 'usr/share', 'usr/include', 'var/cache', 'tmp']);
  const walk = (rel: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(path.join(rootfs, rel), { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.isFile() && e.name === 'pyvenv.cfg')) {
      out.push('/' + rel);
      return;
    }
    if (depth >= maxDepth) return;
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory() && !skip.has(child)) walk(child, depth + 1);
    }
  };
  walk('', 0);
  return out.sort();
}

/** `[console_scripts]` and `[gui_scripts]` entry points of the venv's installed distributions that pip made a script for. */
export function consoleScripts(rootfs: string, venv: string): ConsoleScript[] {
  const out: ConsoleScript[] = [];
  const lib = path.join(rootfs, venv, 'lib');
  const pythons = fs.existsSync(lib) ? fs.readdirSync(lib).filter((n) => /^python\d/.test(n)) : [];
  for (const py of pythons) {
    const site = path.join(lib, py, 'site-packages');
    if (!fs.existsSync(site)) continue;
    for (const dist of fs.readdirSync(site).filter((n) => n.endsWith('.dist-info')).sort()) {
      let text: string;
      try {
        text = fs.readFileSync(path.join(site, dist, 'entry_points.txt'), 'utf8');
      } catch {
        continue;
      }
      let section = '';
      for (const raw of text.split('\n')) {
        const line = raw.trim();
        const head = /^\[(.+)\]$/.exec(line)?.[1];
        if (head !== undefined) {
          section = head.trim();
          continue;
        }
        if (section !== 'console_scripts' && section !== 'gui_scripts') continue;
        const m = /^([^=\s]+)\s*=\s*([\w.]+)(?::([\w.]+))?/.exec(line);
        if (!m) continue;
        if (!fs.existsSync(path.join(rootfs, venv, 'bin', m[1]!))) continue;
        out.push({ venv, name: m[1]!, module: m[2]!, attr: m[3] ?? '' });
      }
    }
  }
  return out;
}

export const RESULT_MARK = '@@stratum-verify@@';

/**
 * A Python program that imports each module and looks up each function given as JSON in argv[1], and prints the
 * failures (as JSON, after a marker, since a module may print on import). Each import runs in a forked child, as
 * each console script runs in a process of its own: one module failing half-way must not leave the next one a
 * half-initialised package to trip over.
 */
export const IMPORT_CHECK = `
import importlib, json, os, sys
bad = []
for name, module, attr in json.loads(sys.argv[1]):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        err = ''
        try:
            obj = importlib.import_module(module)
            for part in attr.split('.') if attr else []:
                obj = getattr(obj, part)
        except BaseException as e:
            msg = str(e).splitlines()[0] if str(e) else ''
            err = type(e).__name__ + (': ' + msg if msg else '')
        os.write(w, err.encode('utf-8', 'replace'))
        os._exit(0)
    os.close(w)
    chunks = []
    while True:
        c = os.read(r, 65536)
        if not c:
            break
        chunks.append(c)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    err = b''.join(chunks).decode('utf-8', 'replace')
    if not err and status != 0:
        err = 'the import ended the process (status %d)' % status
    if err:
        bad.append([name, module, attr, err])
sys.stdout.write('\\n${RESULT_MARK}' + json.dumps(bad) + '\\n')
`;

/** The failures IMPORT_CHECK printed: [script, module, attr, error]. */
export function parseImportCheck(output: string): [string, string, string, string][] | undefined {
  const at = output.lastIndexOf(RESULT_MARK);
  if (at < 0) return undefined;
  try {
    return JSON.parse(output.slice(at + RESULT_MARK.length).split('\n')[0]!) as [string, string, string, string][];
  } catch {
    return undefined;
  }
}
