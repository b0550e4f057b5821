/**
 * The input digest: one sha256 over everything a build reads, computed without running it, so `bake --push` can
 * ask a registry whether an image of exactly these inputs is already there (bake/skip.ts).
 *
 * Why not the final step's cache key: `advance` (state.ts) mixes each step's output snapshot id into the key, and
 * snapshot ids are random per store, so the same inputs give another key on a fresh store; and the key is only known
 * once every step has run or hit the local cache. This digest covers the inputs instead, coarser where that keeps it
 * safe (the whole context, not only what COPY reads; every build arg, used or not): a difference can only cause a
 * rebuild, never a skip of a changed image. What it cannot see without fetching (ADD of a URL without --checksum,
 * of git, a remote context) makes the target not skippable.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatPlatform, parsePlatform, planStages, type Command } from '../frontend/index.js';
import { layerMemoKey } from '../exporter/index.js';
import { parseGitSource } from '../worker/git.js';
import { collectSources, contextSource, hashSources } from '../worker/sources.js';
import { HOST_PLATFORM, loadDockerfile } from './build.js';
import { cacheKey } from './cache.js';
import { isRemoteContext } from './remote-context.js';
import type { BuildOptions, Platform } from './types.js';

/** The manifest annotation that carries the input digest (namespaced: stratum's own). */
export const INPUTS_ANNOTATION = 'dev.stratum.inputs.digest';

/** Bumped when what the digest covers changes, so digests of two schemes never match. */
const SCHEME = 'stratum-inputs-v1';

export interface InputSources {
  /** The digest of the image a reference names, found where the build would find it; undefined when it cannot be. */
  image(ref: string, platform: Platform): Promise<string | undefined>;
  /** Named contexts that are other bake targets: their input digests stand for their images. */
  targets?: Record<string, string>;
  /** Anything else that shapes the image (bake: the post-export steps). */
  extra?: string[];
}

export type InputDigest = { digest: string } | { reason: string };

/** Why a COPY/ADD reads something this digest cannot cover, or undefined. */
function unseenSource(cmd: Command): string | undefined {
  if (cmd.kind !== 'add') return undefined;
  for (const p of cmd.paths) {
    // a variable may expand to a URL: not knowable here without the stage's ENV
    if (p.includes('$')) return `ADD ${p} (line ${cmd.ins.line}) may name a URL`;
    // the same rule ADD's step applies (solver/copy.ts): a git source, else an http(s) URL
    const url = /^https?:\/\//.test(p);
    if (url && cmd.checksum !== undefined && !cmd.checksum.includes('$')) continue; // pinned by --checksum
    if (url || parseGitSource(p)) {
      return `ADD ${p} (line ${cmd.ins.line}) fetches content only a build sees (pin it with --checksum)`;
    }
  }
  return undefined;
}

async function hashDir(dir: string, dockerfile?: string): Promise<string> {
  const src = contextSource(dir, dockerfile);
  return hashSources(await collectSources(src, ['/'], `context ${dir}`), { withOwners: false });
}

/** The input digest of a build request, or why it has none. */
export async function inputDigest(req: BuildOptions, from: InputSources): Promise<InputDigest> {
  if (isRemoteContext(req.context)) return { reason: `the context ${req.context} is remote` };
  const dockerfileText = req.dockerfileInline ?? readFileSync(req.dockerfile ?? path.join(req.context, 'Dockerfile'), 'utf8');
  const df = await loadDockerfile(req);
  const platform = req.platform ?? HOST_PLATFORM;
  const contexts = req.contexts ?? {};
  const plan = planStages(df, { buildArgs: req.buildArgs ?? {}, target: req.target, platform, buildPlatform: HOST_PLATFORM, namedContexts: Object.keys(contexts) });
  const parts: string[] = [SCHEME, dockerfileText, formatPlatform(platform)];

  // images the stages read: FROM bases and --from / from= names that are neither stages nor named contexts
  const images = new Map<string, Platform>();
  for (const i of plan.order) {
    const st = plan.stages[i]!;
    if (st.replacedBy !== undefined) continue;
    const stagePlatform = st.platform ? parsePlatform(st.platform, `FROM --platform of stage ${st.name ?? i}`) : platform;
    if (st.baseStage === undefined && st.baseImage.toLowerCase() !== 'scratch' && !(st.baseImage in contexts)) images.set(st.baseImage, stagePlatform);
    for (const c of st.deps.contexts) if (!(c in contexts)) images.set(c, platform);
    for (const cmd of st.commands) {
      const why = unseenSource(cmd);
      if (why) return { reason: why };
    }
  }
  for (const [ref, p] of [...images].sort(([a], [b]) => a.localeCompare(b))) {
    const d = await from.image(ref, p);
    if (!d) return { reason: `image ${ref} is neither in the store nor in its registry` };
    parts.push(`image ${ref} ${formatPlatform(p)} ${d}`);
  }
  for (const [name, c] of Object.entries(contexts).sort(([a], [b]) => a.localeCompare(b))) {
    const dep = from.targets?.[name];
    if (dep) parts.push(`context ${name} target ${dep}`);
    else if (c.kind === 'local') parts.push(`context ${name} dir ${await hashDir(c.path)}`);
    else if (c.kind === 'oci-layout') parts.push(`context ${name} layout ${c.ref ?? ''} ${await hashDir(c.path)}`);
    else if (c.ref === 'scratch') parts.push(`context ${name} scratch`);
    else {
      const d = await from.image(c.ref, platform);
      if (!d) return { reason: `context ${name}: image ${c.ref} is neither in the store nor in its registry` };
      parts.push(`context ${name} image ${c.ref} ${d}`);
    }
  }
  parts.push(`main ${await hashDir(req.context, req.dockerfile)}`);

  const annotations = { ...(req.annotations ?? {}) };
  delete annotations[INPUTS_ANNOTATION];
  // Only what shapes the image or decides how RUN runs: tags, outputs (files beside the image), secrets' contents and
  // the store do not (a secret's content is not in BuildKit's cache key either).
  parts.push(
    JSON.stringify({
      args: sorted(req.buildArgs),
      target: req.target ?? null,
      labels: sorted(req.labels),
      annotations: sorted(annotations),
      layer: layerMemoKey(req.compression ?? 'gzip', req.sourceDateEpoch),
      epoch: req.sourceDateEpoch ?? null,
      secrets: Object.keys(req.secrets ?? {}).sort(),
      ssh: Object.keys(req.ssh ?? {}).sort(),
      entitlements: [...(req.entitlements ?? [])].sort(),
      hosts: req.extraHosts ?? [],
      pull: req.pull ?? true,
      extra: from.extra ?? [],
    }),
  );
  return { digest: cacheKey(...parts) };
}

function sorted(o: Record<string, string> | undefined): [string, string][] {
  return Object.entries(o ?? {}).sort(([a], [b]) => a.localeCompare(b));
}
