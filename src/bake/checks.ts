/**
 * What buildx checks of a resolved target before it builds, which --print runs too: stdin is not
 * a context, sizes and ulimits parse, outputs that need a destination have one, secrets and ssh
 * keys name something that exists, annotations have a known type.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../util/errors.js';
import type { Target } from './target.js';

const SIZE = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/;
const ULIMITS = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);
const ANNOTATION_TYPE = /^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$/;
const ANNOTATION_TYPES = new Set(['', 'index', 'index-descriptor', 'manifest', 'manifest-descriptor']);

function ulimit(s: string): void {
  const [name, limits] = s.split('=', 2) as [string, string | undefined];
  if (limits === undefined) throw new InputError(`invalid ulimit argument: ${s}`);
  if (!ULIMITS.has(name)) throw new InputError(`invalid ulimit type: ${name}`);
  const parts = limits.split(':');
  if (parts.length > 2) throw new InputError(`too many limit value arguments - ${limits}, can only have up to two, \`soft[:hard]\``);
  const [soft, hard] = parts.map((p) => {
    if (!/^-?\d+$/.test(p)) throw new InputError(`invalid ulimit value ${JSON.stringify(p)} in ${s}`);
    return Number(p);
  });
  if (hard !== undefined && soft! > hard) throw new InputError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
}

/** Runs buildx's pre-build checks (and fills a tar output's default dest); `cwd` resolves relative paths. */
export function checkTarget(t: Target, cwd: string, env: Record<string, string | undefined>): void {
  const where = `target "${t.name}"`;
  if (t.context === '-') throw new InputError(`${where}: context from stdin not allowed in bake`);
  if (t.dockerfile === '-') throw new InputError(`${where}: dockerfile from stdin not allowed in bake`);
  if (t['shm-size'] !== undefined && !SIZE.test(t['shm-size'])) throw new InputError(`${where}: invalid value ${t['shm-size']} for membytes key shm-size`);
  const abs = (p: string) => path.resolve(cwd, p);
  for (const s of t.secret ?? []) {
    if (!s.id) throw new InputError(`${where}: secret missing ID`);
    const src = !s.env && !s.src ? (env[s.id] !== undefined ? '' : s.id) : s.src;
    if (src && !fs.existsSync(abs(src))) throw new InputError(`${where}: secret "${s.id}": failed to stat ${src}: no such file or directory`);
  }
  for (const k of t.ssh ?? []) {
    if (!k.paths.length) {
      const sock = env.SSH_AUTH_SOCK;
      if (!sock) throw new InputError(`${where}: ssh "${k.id}": invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set`);
      if (!fs.existsSync(abs(sock))) throw new InputError(`${where}: ssh "${k.id}": stat ${sock}: no such file or directory`);
    }
    for (const p of k.paths) if (!fs.existsSync(abs(p))) throw new InputError(`${where}: ssh "${k.id}": stat ${p}: no such file or directory`);
  }
  let stdout = false;
  for (const o of t.output ?? []) {
    if (!o.type) throw new InputError(`${where}: type is required for output`);
    const tar = o.attrs.tar === undefined || !['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(o.attrs.tar);
    const dir = o.type === 'local' || ((o.type === 'oci' || o.type === 'docker') && !tar);
    const file = o.type === 'tar' || ((o.type === 'oci' || o.type === 'docker') && tar);
    if (dir) {
      if (!o.dest) throw new InputError(`${where}: dest is required for ${o.type} exporter`);
      if (o.dest === '-') throw new InputError(`${where}: dest cannot be stdout for ${o.type} exporter`);
      if (fs.existsSync(abs(o.dest)) && !fs.statSync(abs(o.dest)).isDirectory()) throw new InputError(`${where}: destination directory ${o.dest} is a file`);
    }
    if (file) {
      // buildx writes a tar without a destination to stdout, and --print shows that as dest "-"
      if (!o.dest && o.type !== 'docker') o.dest = '-';
      const dest = o.dest;
      if (dest === '-') {
        if (stdout) throw new InputError(`${where}: multiple outputs configured to write to stdout`);
        stdout = true;
      } else if (dest && fs.existsSync(abs(dest)) && fs.statSync(abs(dest)).isDirectory()) throw new InputError(`${where}: destination file ${dest} is a directory`);
    }
  }
  for (const a of t.annotations ?? []) {
    const eq = a.indexOf('=');
    if (eq < 0) throw new InputError(`${where}: invalid annotation ${JSON.stringify(a)}, expected key=value`);
    const k = a.slice(0, eq);
    const colon = k.indexOf(':');
    if (colon < 0) continue;
    for (const tp of k.slice(0, colon).split(',')) {
      const m = ANNOTATION_TYPE.exec(tp);
      if (!m) throw new InputError(`${where}: invalid annotation type ${JSON.stringify(tp)}, expected type and optional platform in square brackets`);
      if (!ANNOTATION_TYPES.has(m[1]!)) throw new InputError(`${where}: unknown annotation type ${JSON.stringify(m[1])}`);
    }
  }
  for (const u of t.ulimits ?? []) {
    try {
      ulimit(u);
    } catch (e) {
      throw new InputError(`${where}: ${(e as Error).message}`);
    }
  }
  const r = t.resources;
  if (r) {
    for (const k of ['memory', 'memory-swap'] as const) {
      const v = r[k]?.trim();
      if (v !== undefined && !(k === 'memory-swap' && v === '-1') && !SIZE.test(v)) throw new InputError(`${where}: invalid value ${JSON.stringify(v)} for resource ${k}`);
    }
  }
}
