/**
 * The BuildKit engine: each build request goes to one BuildKit node through `buildctl build` with the
 * dockerfile.v0 frontend. Nothing lands in the local store: images live in registries, and a dependency reaches
 * its dependents as `docker-image://REG/REPO@sha256:…` (the digest buildctl reports), so any node can build any
 * dependent. What the request asks that this path cannot carry is refused, naming it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dryRun } from './dryrun.js';
import type { Engine } from './engine.js';
import type { BuildOptions, BuildResult, LayerSummary, ProgressEvent } from './types.js';
import { parseBuilder, pickNode, type BuildkitNode } from './buildkit-nodes.js';
import { RawJsonProgress } from './buildkit-progress.js';
import { createRegistryClient, parseReference, type RegistryClient } from '../registry/index.js';
import { checkImageConfig, checkIndex, checkManifest, normalizeRef, type Descriptor } from '../store/index.js';
import { run } from '../util/exec.js';
import { formatPlatform } from '../util/platform.js';
import { InputError, StratumError } from '../util/errors.js';
import { readAll } from '../util/stream.js';

export interface BuildkitEngineOptions {
  /** `buildkit://ADDR[?platform=P][,buildkit://ADDR...]` */
  builder: string;
  /** REG/PREFIX where images no tag of theirs is pushed for go, so dependents can be pinned to them. */
  registry?: string;
  /** buildctl --tlscacert/--tlscert/--tlskey for tcp:// nodes. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** The buildctl program (default: $STRATUM_BUILDCTL, else buildctl on PATH). */
  buildctl?: string;
}

/** bake's name for a target that has no tag of its own (bake/plan.ts internalTag): not a registry. */
const INTERNAL = /^localhost\/bake\//;

function refuse(what: string, why: string): never {
  throw new InputError(`${what} is not supported with --builder buildkit:// (${why})`);
}

function refuseUnsupported(req: BuildOptions): void {
  for (const o of req.outputs ?? []) refuse(`output type=${o.type}`, 'images go to registries; build locally for files');
  if (req.afterExport?.length) refuse(`--${req.afterExport[0]!.name}`, 'the image is never in the local store');
  if (req.extraHosts?.length) refuse('--add-host', 'not passed to BuildKit yet');
  // stratum's cache records are not BuildKit's cache; BuildKit nodes keep their own
  if (req.cacheFrom?.length) refuse('--cache-from', "stratum's cache records are not BuildKit's cache");
  if (req.cacheTo?.length) refuse('--cache-to', "stratum's cache records are not BuildKit's cache");
  if (req.pull === false) refuse('--pull=never', 'BuildKit resolves FROM images in the registry');
  for (const [k, c] of Object.entries(req.contexts ?? {})) if (c.kind === 'oci-layout') refuse(`context ${k}=oci-layout://`, 'push the layout to a registry and use docker-image://');
  if (!fs.existsSync(req.context) || !fs.statSync(req.context).isDirectory()) refuse(`build context ${req.context}`, 'only a local directory');
}

function findBuildctl(): string {
  if (process.env.STRATUM_BUILDCTL) return process.env.STRATUM_BUILDCTL;
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && fs.existsSync(path.join(dir, 'buildctl'))) return path.join(dir, 'buildctl');
  throw new StratumError('buildctl not found: put it on PATH or name it in $STRATUM_BUILDCTL (scripts/prereqs.sh builds it)', 3);
}

/** Where an image with no pushed tag goes under --builder-registry: REG/PREFIX/<its repository, flattened>:<tag>. */
function intermediateName(registry: string, tag: string): string {
  const r = normalizeRef(tag);
  return `${registry}/${r.repository.replace(/\//g, '-')}:${r.tag ?? 'latest'}`;
}

/** The layers, config and sizes of what a node pushed, as the local engine reports them. */
async function describePushed(client: RegistryClient, repo: string, digest: string): Promise<Pick<BuildResult, 'manifest' | 'configDigest' | 'size' | 'layers'>> {
  let { bytes, descriptor } = await client.getManifest(`${repo}@${digest}`);
  let doc = JSON.parse(bytes.toString('utf8')) as unknown;
  if (descriptor.mediaType.includes('index') || descriptor.mediaType.includes('manifest.list')) {
    const m = checkIndex(doc, `${repo}@${digest}`).manifests.find((d) => !d.annotations?.['vnd.docker.reference.type']);
    if (!m) throw new StratumError(`${repo}@${digest}: an index without an image`);
    ({ bytes, descriptor } = await client.getManifest(`${repo}@${m.digest}`));
    doc = JSON.parse(bytes.toString('utf8')) as unknown;
  }
  const manifest = checkManifest(doc, `${repo}@${descriptor.digest}`);
  const cfgBytes = await readAll(client.openBlob(`${repo}@${digest}`, manifest.config as Descriptor));
  const config = checkImageConfig(JSON.parse(cfgBytes.toString('utf8')) as unknown, `config of ${repo}@${digest}`);
  const history = (config.history ?? []).filter((h) => !h.empty_layer);
  const layers: LayerSummary[] = manifest.layers.map((l, i) => ({ digest: l.digest, diffID: config.rootfs.diff_ids[i] ?? '', size: l.size, mediaType: l.mediaType, createdBy: history[i]?.created_by ?? '' }));
  return { manifest: { mediaType: descriptor.mediaType, digest: digest, size: descriptor.size }, configDigest: manifest.config.digest, size: manifest.layers.reduce((n, l) => n + l.size, manifest.config.size + descriptor.size), layers };
}

export function buildkitEngine(opts: BuildkitEngineOptions): Engine {
  const nodes = parseBuilder(opts.builder);
  if (opts.registry !== undefined && !/^[^/\s]+(\/[a-z0-9._/-]+)?$/.test(opts.registry)) throw new InputError(`--builder-registry ${opts.registry}: expected REGISTRY[/PREFIX]`);
  for (const [k, f] of Object.entries(opts.tls ?? {})) {
    if (!f) continue;
    if (!fs.existsSync(f)) throw new InputError(`--builder-tls-${k} ${f}: no such file`);
    if (!nodes.some((n) => n.addr.startsWith('tcp://'))) throw new InputError(`--builder-tls-${k}: TLS is for tcp:// nodes, and --builder names none`);
  }
  /** Every name an image of this engine was built under → where dependents find it (REPO@DIGEST); '' = not pushed. */
  const pinned = new Map<string, string>();
  const key = (ref: string) => {
    try {
      return normalizeRef(ref).full;
    } catch {
      return ref;
    }
  };

  const build = async (req: BuildOptions): Promise<BuildResult> => {
    refuseUnsupported(req);
    const buildctl = opts.buildctl ?? findBuildctl();
    const t0 = Date.now();
    const emit = (e: ProgressEvent) => req.onProgress?.(e);
    const tags = req.tags ?? [];
    const internal = tags.filter((t) => INTERNAL.test(t));
    const pushTags = req.push ? tags.filter((t) => !INTERNAL.test(t)) : [];
    // an image no tag of which is pushed still has to be somewhere its dependents can be pinned to
    const extra = !pushTags.length && opts.registry && tags.length ? [intermediateName(opts.registry, tags[0]!)] : [];
    if (internal.length && !extra.length) throw new InputError(`${internal[0]} is only bake's name for an untagged dependency: with --builder, dependencies reach their dependents through a registry; give the target a tag and --push, or name --builder-registry REG/PREFIX`);
    const names = [...pushTags, ...extra];

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-buildctl-'));
    const node = pickNode(nodes, req.platform);
    node.busy++;
    node.given++;
    try {
      let dfDir: string;
      let dfName: string;
      if (req.dockerfileInline !== undefined) {
        dfDir = path.join(tmp, 'df');
        fs.mkdirSync(dfDir);
        fs.writeFileSync(path.join(dfDir, 'Dockerfile'), req.dockerfileInline);
        dfName = 'Dockerfile';
      } else {
        const df = path.resolve(req.context, req.dockerfile ?? 'Dockerfile');
        dfDir = path.dirname(df);
        dfName = path.basename(df);
      }
      const meta = path.join(tmp, 'metadata.json');
      const args = ['--addr', node.addr];
      if (node.addr.startsWith('tcp://')) {
        if (opts.tls?.ca) args.push('--tlscacert', opts.tls.ca);
        if (opts.tls?.cert) args.push('--tlscert', opts.tls.cert);
        if (opts.tls?.key) args.push('--tlskey', opts.tls.key);
      }
      args.push('build', '--progress', 'rawjson', '--frontend', 'dockerfile.v0', '--local', `context=${req.context}`, '--local', `dockerfile=${dfDir}`, '--opt', `filename=${dfName}`, '--metadata-file', meta);
      const opt = (v: string) => args.push('--opt', v);
      // buildctl reads --output and --secret as CSV
      const csv = (s: string) => (/[",]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
      if (req.target) opt(`target=${req.target}`);
      if (req.platform) opt(`platform=${formatPlatform(req.platform)}`);
      for (const [k, v] of Object.entries(req.buildArgs ?? {})) opt(`build-arg:${k}=${v}`);
      if (req.sourceDateEpoch !== undefined) opt(`build-arg:SOURCE_DATE_EPOCH=${req.sourceDateEpoch}`);
      for (const [k, v] of Object.entries(req.labels ?? {})) opt(`label:${k}=${v}`);
      if (req.noCache) args.push('--no-cache');
      if (req.noCacheFilter?.length) opt(`no-cache=${req.noCacheFilter.join(',')}`);
      if (req.pull === 'always') opt('image-resolve-mode=pull');
      for (const [id, src] of Object.entries(req.secrets ?? {})) args.push('--secret', [`id=${id}`, `src=${src}`].map(csv).join(','));
      for (const [id, sock] of Object.entries(req.ssh ?? {})) args.push('--ssh', `${id}=${sock}`);
      for (const e of req.entitlements ?? []) args.push('--allow', e);
      const pins: string[] = [];
      for (const [name, c] of Object.entries(req.contexts ?? {})) {
        if (c.kind === 'local') {
          const id = `ctx${Object.keys(req.contexts!).indexOf(name)}`;
          args.push('--local', `${id}=${c.path}`);
          opt(`context:${name}=local:${id}`);
        } else if (c.kind === 'docker-image') {
          const pin = pinned.get(key(c.ref));
          if (pin === '') throw new InputError(`context ${name}: ${c.ref} was built on a BuildKit node but pushed nowhere; bake with --push (its tags) or --builder-registry REG/PREFIX`);
          opt(`context:${name}=docker-image://${pin ?? c.ref}`);
          if (pin) pins.push(`context ${name} = docker-image://${pin}\n`);
        }
      }
      const compression = req.compression === 'none' ? 'uncompressed' : (req.compression ?? 'gzip');
      // annotations (bake --push's input digest among them) go on the manifest, as the local engine writes them
      const annotations = Object.entries(req.annotations ?? {}).map(([k, v]) => csv(`annotation-manifest.${k}=${v}`));
      args.push('--output', ['type=image', ...(names.length ? [csv(`name=${names.join(',')}`), 'push=true'] : []), `compression=${compression}`, ...annotations].join(','));
      // the target log and the progress say where the target ran
      emit({ kind: 'step-log', stage: 'buildkit', step: 0, data: `building on BuildKit node ${node.addr}\n${pins.join('')}`, time: Date.now() });

      const progress = new RawJsonProgress(emit);
      const r = await run(buildctl, args, { check: false, signal: req.signal, onOutput: (c) => progress.write(c.toString('utf8')) });
      if (r.code !== 0) {
        const why = progress.text.trim().split('\n').filter(Boolean).slice(-10).join('\n') || `exit code ${r.code}`;
        throw new StratumError(`BuildKit node ${node.addr}: ${why}`);
      }
      const md = JSON.parse(fs.readFileSync(meta, 'utf8')) as Record<string, unknown>;
      const digest = md['containerimage.digest'];
      if (typeof digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new StratumError(`BuildKit node ${node.addr}: no image digest in buildctl's metadata`);
      for (const n of names) emit({ kind: 'push', ref: n, digest, uploaded: 0, skipped: 0, mounted: 0, time: Date.now() });

      // read as BuildKit reads a name it pushes: no host means docker.io
      const where = names.length ? parseReference(names[0]!) : undefined;
      const repo = where ? `${where.registry}/${where.repository}` : undefined;
      for (const t of tags) pinned.set(key(t), repo ? `${repo}@${digest}` : '');
      let described: Pick<BuildResult, 'manifest' | 'configDigest' | 'size' | 'layers'> = { configDigest: String(md['containerimage.config.digest'] ?? ''), size: 0, layers: [] };
      if (repo) {
        const client = createRegistryClient(undefined, req.registry);
        try {
          described = await describePushed(client, repo, digest);
        } finally {
          client.close();
        }
      }
      return { manifestDigest: digest, ...described, tags: names, stepsTotal: progress.stepsTotal, stepsCached: progress.stepsCached, durationMs: Date.now() - t0 };
    } finally {
      node.busy--;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  };
  return { name: `buildkit (${nodes.map((n) => n.addr).join(', ')})`, build, dryRun };
}

export type { BuildkitNode };
