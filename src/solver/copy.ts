import { link, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../frontend/index.js';
import { expandHeredocBody } from '../frontend/index.js';
import { InputError } from '../util/errors.js';
import { copyItems, DirMaker } from '../worker/copy.js';
import { copyWithParents } from '../worker/copy-parents.js';
import { collectSources, hashSources, type CollectOptions, type SourceItem, type SourceRoot } from '../worker/sources.js';
import { archiveKind, extractArchive } from './archive.js';
import { parseChmod, type Chmod } from '../worker/filemode.js';
import { checkoutGit, parseGitSource, resolveGitCommit } from '../worker/git.js';
import { download } from '../worker/http.js';
import { resolveInRoot } from '../worker/securejoin.js';
import { resolveUser } from '../worker/users.js';
import { cacheKey } from './cache.js';
import { expansionEnv, fromState, type BuildContext, type StageScope } from './context.js';
import { historyText } from './metadata.js';
import { lookupCache, recordCache } from './lookup.js';
import { advance, type StageState } from './state.js';
import { lowerDirs, withDetachedDir, withReadonlyRootfs, withWritableRootfs } from '../worker/rootfs.js';

type CopyCmd = Extract<Command, { kind: 'copy' | 'add' }>;

/** A source that has been fetched or located, ready to hash and copy. */
interface Resolved {
  root: SourceRoot;
  patterns: string[];
  /** Stable description of the content for the cache key. */
  keyParts: () => Promise<string>;
  /** ADD: each matched file that is a tar archive is unpacked instead of copied. */
  extract?: boolean;
  /** Set when the files live in another stage's or image's rootfs, read through a mount. */
  state?: StageState;
  /** Files from ADD URLs get 0600 unless --chmod says otherwise. */
  defaultMode?: Chmod;
  mtime?: Date;
}

export async function copyStep(ctx: BuildContext, scope: StageScope, state: StageState, cmd: CopyCmd) {
  const env = expansionEnv(scope, state);
  const x = (w: string) => ctx.lex.expandWord(w, env);
  const where = `${ctx.df.file}:${cmd.ins.line}: ${cmd.kind.toUpperCase()}`;
  const cfg = state.config.config ?? {};
  const destRaw = x(cmd.dest);
  const workdir = cfg.WorkingDir || '/';
  let dest = path.posix.isAbsolute(destRaw) ? destRaw : path.posix.join(workdir, destRaw);
  // An empty destination (`COPY f $empty`) is the working directory itself, as `.` is.
  if ((destRaw === '' || destRaw.endsWith('/') || destRaw === '.' || destRaw.endsWith('/.')) && !dest.endsWith('/')) dest += '/';
  const chmod = cmd.chmod ? parseMode(x(cmd.chmod), where) : undefined;
  const collect: CollectOptions = { allowEmptyWildcard: true, exclude: cmd.exclude.map(x) };
  const chownSpec = cmd.chown ? x(cmd.chown) : undefined;
  const from = cmd.from ? x(cmd.from) : undefined;
  const createdBy = historyText(cmd.ins.text);
  const tmpDirs: string[] = [];
  try {
    const sources = await resolveSources(ctx, cmd, from, env, where, tmpDirs, collect);
    const contentKeys = await Promise.all(sources.map((s) => s.keyParts()));
    // A --link layer does not depend on its parent, unless a named --chown reads the parent's /etc/passwd.
    const namedOwner = chownSpec !== undefined && !/^\d+(:\d+)?$/.test(chownSpec);
    const key = cacheKey(
      cmd.link && !namedOwner ? 'link' : state.key,
      cmd.kind,
      dest,
      chmod?.text,
      chownSpec,
      collect.exclude?.length ? JSON.stringify(collect.exclude) : undefined,
      // With --parents the paths as written shape the result, not only the content they name.
      cmd.parents ? JSON.stringify(cmd.sources.map(x)) : undefined,
      JSON.stringify(contentKeys),
    );
    const hit = await lookupCache(ctx, scope, key);
    if (hit) return { state: advance(state, cmd.link ? cacheKey(state.key, key) : key, hit.snapshot, createdBy), cached: true };

    const doCopy = async (destRoot: string, userRoot: string, upper?: string) => {
      const owner = chownSpec ? await resolveOwner(userRoot, chownSpec) : undefined;
      for (const s of sources) {
        await withSourceRoot(ctx, s, async (root, layers) => {
          let items = await collectSources(root, s.patterns, where, collect);
          if (s.extract) {
            // Per match, as BuildKit does: `ADD *.tar /dest` unpacks each archive and copies anything else.
            const rest: SourceItem[] = [];
            for (const item of items) {
              const kind = !item.isDir && item.entries[0]?.st.isFile() ? await archiveKind(item.host) : undefined;
              if (kind) await extractArchive(item.host, kind, { destRoot, dest, owner }, () => ctx.session.staging('archive'), where);
              else rest.push(item);
            }
            items = rest;
          }
          if (items.length === 0) return;
          const sourceLayers = layers ? { root: root.root, layers } : undefined;
          const opts = { destRoot, upper, dest, owner, keepOwners: root.kind === 'rootfs', chmod: chmod ?? s.defaultMode, what: where, sourceLayers };
          if (cmd.parents && s.patterns.length === 1) await copyWithParents(items, s.patterns[0]!, root, opts);
          else await copyItems(items, opts);
        });
      }
    };
    const outcome = cmd.link
      ? await withDetachedDir(ctx.session.snapshots, async (dir) => {
          // Named owners need the parent's /etc/passwd even though the layer does not sit on it.
          if (namedOwner) {
            await withReadonlyRootfs(ctx.session.snapshots, state.chain, (parent) => doCopy(dir, parent, dir));
          } else await doCopy(dir, dir, dir);
        })
      : await withWritableRootfs(ctx.session.snapshots, state.chain, (merged, upper) => doCopy(merged, merged, upper));
    await recordCache(ctx, key, outcome.snapshot, createdBy);
    // A --link layer's record is independent of the parent; the stage key still follows the parent.
    return { state: advance(state, cmd.link ? cacheKey(state.key, key) : key, outcome.snapshot, createdBy), cached: false };
  } finally {
    for (const d of tmpDirs) await rm(d, { recursive: true, force: true });
  }
}

async function resolveSources(
  ctx: BuildContext,
  cmd: CopyCmd,
  from: string | undefined,
  env: Record<string, string>,
  where: string,
  tmpDirs: string[],
  collect: CollectOptions,
): Promise<Resolved[]> {
  const out: Resolved[] = [];
  const heredocs = new Map(cmd.heredocs.map((h) => [h.name, h]));
  for (const raw of cmd.sources) {
    const heredocName = /^\d?<<-?["']?([A-Za-z0-9_.-]+)["']?$/.exec(raw)?.[1];
    const doc = heredocName ? heredocs.get(heredocName) : undefined;
    if (doc) {
      const dir = await tempDir(ctx, tmpDirs);
      const content = doc.expand ? expandHeredoc(doc.content, env) : doc.content;
      await writeFile(path.join(dir, doc.name), content, { mode: 0o644 });
      out.push(plain({ root: dir, kind: 'context' }, [doc.name], false, where, collect));
      continue;
    }
    const src = ctx.lex.expandWord(raw, env);
    if (from) {
      const f = await fromState(ctx, from, `${where} --from=${from}`);
      if (f.kind === 'dir') out.push(plain(f.source, [src], false, where, collect));
      else out.push({ root: { root: '', kind: 'rootfs', label: f.label }, patterns: [src], keyParts: async () => `${f.state.key}:${src}`, state: f.state });
      continue;
    }
    if (cmd.kind === 'add') {
      const git = parseGitSource(src);
      if (git) {
        const checksum = cmd.checksum ? ctx.lex.expandWord(cmd.checksum, env) : undefined;
        if (checksum !== undefined && git.checksum !== undefined && checksum !== git.checksum) {
          throw new InputError(`${where}: checksum mismatch "${checksum}" != "${git.checksum}"`);
        }
        if (checksum !== undefined) git.checksum = checksum;
        const keepGitFlag = cmd.ins.flags.some((f) => f.name === 'keep-git-dir');
        if (keepGitFlag && git.keepGitDir !== undefined && git.keepGitDir !== cmd.keepGitDir) throw new InputError(`${where}: inconsistent keep-git-dir configuration`);
        const keepGitDir = git.keepGitDir ?? cmd.keepGitDir;
        const { commit } = await resolveGitCommit(ctx.session.gitCache, git);
        const dir = await tempDir(ctx, tmpDirs);
        const co = await checkoutGit(ctx.session.gitCache, git, path.join(dir, 'repo'), { keepGitDir });
        out.push({
          root: { root: co.dir, kind: 'context' },
          patterns: ['/'],
          keyParts: async () => `git:${git.url}#${commit}:${git.subdir ?? ''}:${keepGitDir}:${git.submodules !== false}:${JSON.stringify(collect.exclude)}`,
        });
        continue;
      }
      if (/^https?:\/\//.test(src)) {
        const checksum = cmd.checksum ? ctx.lex.expandWord(cmd.checksum, env) : undefined;
        const dl = await download(ctx.session.httpCache, src, checksum);
        const dir = await tempDir(ctx, tmpDirs);
        await link(dl.file, path.join(dir, dl.name));
        // A URL is never unpacked unless --unpack=true says so (then only when it is an archive).
        const extract = cmd.unpack === true;
        out.push({
          root: { root: dir, kind: 'context' },
          patterns: [dl.name],
          extract,
          keyParts: async () => `url:${src}:${dl.digest}:${extract}`,
          defaultMode: URL_FILE_MODE,
        });
        continue;
      }
      if (cmd.checksum) throw new InputError(`${where}: --checksum requires an HTTP(S) or git source`);
      out.push(plain(ctx.contextSource, [src], cmd.unpack !== false, where, collect));
      continue;
    }
    out.push(plain(ctx.contextSource, [src], false, where, collect));
  }
  return out;
}

const URL_FILE_MODE: Chmod = { apply: () => 0o600, text: '600' };

function plain(root: SourceRoot, patterns: string[], extract: boolean, where: string, collect: CollectOptions): Resolved {
  return {
    root,
    patterns,
    extract,
    // The key is computed before the copy, so this is where a missing source is met first: say where.
    keyParts: async () => `${extract ? 'archive' : 'files'}:${await hashSources(await collectSources(root, patterns, where, collect), { withOwners: false })}`,
  };
}

async function withSourceRoot(ctx: BuildContext, s: Resolved, fn: (root: SourceRoot, layers?: string[]) => Promise<void>): Promise<void> {
  if (!s.state) return fn(s.root);
  const chain = s.state.chain;
  await withReadonlyRootfs(ctx.session.snapshots, chain, (root) => fn({ ...s.root, root }, lowerDirs(ctx.session.snapshots, chain)));
}

async function tempDir(ctx: BuildContext, list: string[]): Promise<string> {
  const dir = ctx.session.staging('source');
  await mkdir(dir, { recursive: true });
  list.push(dir);
  return dir;
}

function parseMode(value: string, where: string): Chmod {
  const mode = parseChmod(value);
  if (!mode) throw new InputError(`${where}: invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777, or a symbolic mode such as u+x or go-w`);
  return mode;
}

async function resolveOwner(root: string, spec: string): Promise<{ uid: number; gid: number }> {
  const [u = '', g] = spec.split(':', 2);
  const user = await resolveUser(root, u);
  if (g === undefined) return { uid: user.uid, gid: /^\d+$/.test(u) ? user.uid : user.gid };
  const group = await resolveUser(root, `${u}:${g}`);
  return { uid: user.uid, gid: group.gid };
}

/** Only unquoted heredocs expand (frontend/shell.ts expandHeredocBody): quotes in the body stay as written. */
export function expandHeredoc(content: string, env: Record<string, string>): string {
  return expandHeredocBody(content, env);
}

/** WORKDIR: set the working directory, creating it (owned by USER) when it is missing. */
export async function workdirStep(ctx: BuildContext, scope: StageScope, state: StageState, cmd: Extract<Command, { kind: 'workdir' }>) {
  const env = expansionEnv(scope, state);
  const cfg = state.config.config ?? {};
  const raw = ctx.lex.expandWord(cmd.path, env);
  const dir = path.posix.normalize(path.posix.isAbsolute(raw) ? raw : path.posix.join(cfg.WorkingDir || '/', raw));
  const createdBy = historyText(cmd.ins.text);
  const key = cacheKey(state.key, 'workdir', dir, cfg.User ?? '');
  const hit = await lookupCache(ctx, scope, key);
  let next: StageState;
  let cached = false;
  if (hit) {
    next = advance(state, key, hit.snapshot, createdBy);
    cached = true;
  } else {
    const outcome = await withWritableRootfs(ctx.session.snapshots, state.chain, async (merged) => {
      const existing = await resolveInRoot(merged, dir);
      if (await lstat(existing).catch(() => undefined)) return;
      const user = await resolveUser(merged, cfg.User ?? 'root');
      await new DirMaker(merged, { uid: user.uid, gid: user.gid }).ensure(dir);
    });
    await recordCache(ctx, key, outcome.snapshot, createdBy);
    next = advance(state, key, outcome.snapshot, createdBy);
  }
  next.config.config = { ...(next.config.config ?? {}), WorkingDir: dir };
  return { state: next, cached };
}
