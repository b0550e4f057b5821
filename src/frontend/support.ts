/**
 * The one table of what stratum supports of what a buildx user writes: Dockerfile instruction
 * flags, RUN --mount types and options, `stratum build` flags and bake target attributes. Each
 * is `supported` (carried out as BuildKit/buildx does) or `refused` (a one-line error naming it);
 * there is no third status. README's support table is generated from it
 * (`scripts/support-table.ts`), and test/unit/frontend/support.test.ts holds it against the
 * code's own lists (ALLOWED_FLAGS, the mount parser, the build command's options, bake's
 * attributes) so neither can drift.
 */

export type SupportStatus = 'supported' | 'refused';

export interface Support {
  status: SupportStatus;
  /** What to know: a limit, or why it is refused. */
  note?: string;
}

const ok = (note?: string): Support => ({ status: 'supported', ...(note ? { note } : {}) });
const no = (note: string): Support => ({ status: 'refused', note });

/** Flags of Dockerfile instructions (BuildKit's dockerfile frontend, stable syntax and labs). */
export const INSTRUCTION_FLAGS: Record<string, Record<string, Support>> = {
  FROM: { platform: ok('a platform other than the host\'s only where no RUN step runs for it') },
  RUN: {
    mount: ok('types below'),
    network: ok('default, none, host (host needs --allow network.host)'),
    security: ok('sandbox, insecure (insecure needs --allow security.insecure)'),
    device: no('labs syntax: no CDI devices'),
  },
  COPY: {
    from: ok('a stage, a named context or an image'),
    chown: ok(),
    chmod: ok(),
    link: ok(),
    parents: ok(),
    exclude: ok(),
  },
  ADD: {
    chown: ok(),
    chmod: ok(),
    link: ok(),
    'keep-git-dir': ok(),
    checksum: ok(),
    unpack: ok(),
    exclude: ok(),
  },
  HEALTHCHECK: { interval: ok(), timeout: ok(), 'start-period': ok(), 'start-interval': ok(), retries: ok() },
};

/** RUN --mount options by mount type. */
export const MOUNT_OPTIONS: Record<string, Record<string, Support>> = {
  bind: { target: ok(), source: ok(), from: ok(), readonly: ok('rw/readwrite to write (changes are discarded)') },
  cache: {
    target: ok(),
    id: ok(),
    sharing: ok('shared, private, locked'),
    mode: ok(),
    uid: ok(),
    gid: ok(),
    readonly: ok(),
    source: no('a cache seeded from another stage is not supported (with from=)'),
    from: no('a cache seeded from another stage is not supported'),
  },
  tmpfs: { target: ok(), size: ok() },
  secret: { id: ok(), target: ok(), env: ok(), required: ok(), mode: ok(), uid: ok(), gid: ok() },
  ssh: { id: ok(), target: ok(), required: ok(), mode: ok(), uid: ok(), gid: ok() },
};

/** `stratum build` flags, by their long name (buildx's names where buildx has the flag). */
export const BUILD_FLAGS: Record<string, Support> = {
  file: ok('- reads stdin'),
  tag: ok(),
  'build-arg': ok(),
  label: ok(),
  target: ok(),
  'build-context': ok('directories, oci-layout://, docker-image://'),
  platform: ok('one platform'),
  output: ok('oci, docker, local, tar, image, registry; - for a tar on stdout'),
  progress: ok(),
  'no-cache': ok(),
  'no-cache-filter': ok(),
  secret: ok(),
  compression: ok('gzip, zstd, none'),
  push: ok(),
  pull: ok(),
  ssh: ok('agent sockets; key files refused'),
  'add-host': ok('host-gateway refused'),
  annotation: ok('manifest annotations only'),
  allow: ok('network.host, security.insecure'),
  'metadata-file': ok(),
  builder: ok('buildkit://unix:///PATH or buildkit://tcp://HOST:PORT: build on a BuildKit node through buildctl; local outputs, --verify, oci-layout contexts, --cache-from/--cache-to, --add-host and --pull=never refused with it'),
  'builder-tls-ca': ok('with a tcp:// --builder'),
  'builder-tls-cert': ok('with a tcp:// --builder'),
  'builder-tls-key': ok('with a tcp:// --builder'),
  iidfile: ok(),
  'insecure-registry': ok(),
  'ca-cert': ok(),
  'dry-run': ok(),
  verify: ok(),
  load: ok('images always land in the local store'),
  quiet: ok(),
  'cache-from': ok('type=registry, type=local (an OCI layout); a missing cache is a warning'),
  'cache-to': ok('type=registry, type=local; mode=min|max; other types and keys refused'),
  attest: no('unknown option: no attestations'),
  sbom: no('unknown option: no attestations'),
  provenance: no('unknown option: no attestations'),
  call: no('unknown option'),
  check: no('unknown option'),
  network: no('unknown option: set the network per RUN with --network'),
  'shm-size': no('unknown option'),
  ulimit: no('unknown option'),
};

/** bake target attributes (as `docker buildx bake --print` shows them). */
export const BAKE_ATTRIBUTES: Record<string, Support> = {
  description: ok(),
  inherits: ok(),
  context: ok('a directory; remote contexts refused'),
  contexts: ok('directories, target:, docker-image://, oci-layout://; remote refused'),
  dockerfile: ok(),
  'dockerfile-inline': ok(),
  args: ok(),
  labels: ok(),
  tags: ok(),
  target: ok(),
  secret: ok(),
  platforms: ok('one platform'),
  output: ok('as build -o; attributes such as compression refused'),
  'no-cache': ok(),
  'no-cache-filter': ok(),
  call: ok('only "build"'),
  network: ok('only "default"'),
  annotations: no('not carried into the build'),
  attest: no('no attestations'),
  'cache-from': ok('as build --cache-from'),
  'cache-to': ok('as build --cache-to'),
  ssh: no('not carried into the build'),
  pull: no('not carried into the build'),
  'shm-size': no('/dev/shm size is not configurable'),
  ulimits: no('no ulimits for RUN'),
  resources: no('no cgroup limits for RUN'),
  entitlements: no('not carried into the build'),
  'extra-hosts': no('not carried into the build'),
  policy: no('no source policies'),
};

export interface SupportRow {
  kind: string;
  name: string;
  status: SupportStatus;
  note: string;
}

/** Every entry as one row, in the order README shows them. */
export function supportRows(): SupportRow[] {
  const rows: SupportRow[] = [];
  const add = (kind: string, name: string, s: Support) => rows.push({ kind, name, status: s.status, note: s.note ?? '' });
  for (const [ins, flags] of Object.entries(INSTRUCTION_FLAGS)) for (const [f, s] of Object.entries(flags)) add('instruction flag', `${ins} --${f}`, s);
  for (const [type, opts] of Object.entries(MOUNT_OPTIONS)) for (const [o, s] of Object.entries(opts)) add('RUN mount option', `type=${type},${o}`, s);
  for (const [f, s] of Object.entries(BUILD_FLAGS)) add('build flag', `--${f}`, s);
  for (const [a, s] of Object.entries(BAKE_ATTRIBUTES)) add('bake attribute', a, s);
  return rows;
}

/** README's table (Markdown), generated from the rows. */
export function supportMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const lines = ['| kind | name | status | note |', '|---|---|---|---|'];
  for (const r of supportRows()) lines.push(`| ${r.kind} | \`${cell(r.name)}\` | ${r.status} | ${cell(r.note)} |`);
  return lines.join('\n') + '\n';
}
