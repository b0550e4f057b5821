/**
 * Build contexts given as URLs, as buildx takes them: a git repository (`URL.git#ref:subdir`, `git://`, `git@host:`)
 * or an http(s) URL of a tar archive (plain or gzip) or of a Dockerfile alone. Each is made into a directory under
 * the store's tmp/ for the build, then removed.
 */
import { rm, mkdir, link } from 'node:fs/promises';
import path from 'node:path';
import { applyLayer } from '../exporter/index.js';
import { InputError } from '../util/errors.js';
import { checkoutGit, parseGitSource } from '../worker/git.js';
import { download } from '../worker/http.js';
import { archiveKind } from './archive.js';
import type { Session } from './session.js';
import type { BuildOptions } from './types.js';

/** True when the context argument names a remote context rather than a directory. */
export function isRemoteContext(context: string): boolean {
  return parseGitSource(context) !== undefined || /^https?:\/\//.test(context);
}

/** The options with a remote context fetched into a local directory; `cleanup` removes it. */
export async function fetchRemoteContext(session: Session, opts: BuildOptions): Promise<{ opts: BuildOptions; cleanup: () => Promise<void> }> {
  const dir = session.staging('source');
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    await mkdir(dir, { recursive: true });
    const git = parseGitSource(opts.context);
    let contextDir: string;
    let dockerfile = opts.dockerfile;
    if (git) {
      contextDir = (await checkoutGit(session.gitCache, git, path.join(dir, 'repo'), { keepGitDir: false })).dir;
    } else {
      const dl = await download(session.httpCache, opts.context);
      contextDir = path.join(dir, 'context');
      await mkdir(contextDir);
      const kind = await archiveKind(dl.file);
      if (kind === 'gzip' || kind === 'tar') {
        await applyLayer({ path: dl.file, mediaType: `application/vnd.oci.image.layer.v1.tar${kind === 'gzip' ? '+gzip' : ''}` }, contextDir, { format: 'flat', archive: true });
      } else if (kind) {
        throw new InputError(`build context ${opts.context}: ${kind} archives are not supported (use a tar or tar.gz)`);
      } else {
        // Not an archive: the file is the Dockerfile and the context is empty, as BuildKit reads it.
        if (opts.dockerfile !== undefined) throw new InputError(`build context ${opts.context} is a Dockerfile; -f cannot name another`);
        dockerfile = path.join(dir, 'Dockerfile');
        await link(dl.file, dockerfile);
      }
    }
    // A relative -f names a file inside a remote context, as buildx reads it; an absolute one is a local file.
    if (dockerfile !== undefined && !path.isAbsolute(dockerfile)) dockerfile = path.join(contextDir, dockerfile);
    return { opts: { ...opts, context: contextDir, dockerfile }, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
