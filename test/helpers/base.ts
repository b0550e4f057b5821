import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { bootstrapDebian } from '../../src/worker/bootstrap.js';
import { exportOciLayout, importOciLayout } from '../../src/exporter/index.js';
import { ContentStore, ImageStore } from '../../src/store/index.js';

/** Where bootstrapped bases are kept between test runs. */
export const TEST_CACHE = process.env.STRATUM_TEST_CACHE ?? '/var/tmp/stratum-test-cache';
/** Fixed so the base (and so every cache key above it) is the same from run to run. */
export const BASE_EPOCH = 1700000000;

const LAYOUT_DIR = path.join(TEST_CACHE, 'debian-bookworm-oci');
const LOCK = path.join(TEST_CACHE, 'debian-bookworm-oci.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cross-process lock that is only broken when its owner is dead (a bootstrap can take minutes on a busy machine,
 * so age alone must not break it).
 */
async function withLock<T>(fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  const me = `${hostname()} ${process.pid}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fsp.writeFile(LOCK, me, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = await fsp.readFile(LOCK, 'utf8').catch(() => '');
    const [host, pid] = owner.split(' ');
    if (owner && host === hostname() && !alive(Number(pid))) {
      const again = await fsp.readFile(LOCK, 'utf8').catch(() => '');
      if (again === owner) await fsp.rm(LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK} (held by ${owner})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(LOCK, { force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.access(p).then(
    () => true,
    () => false,
  );
}

/** The OCI layout directory holding the cached Debian bookworm minbase (bootstrapped once, SOURCE_DATE_EPOCH fixed). */
export async function debianBaseLayout(): Promise<string> {
  const ready = path.join(LAYOUT_DIR, 'index.json');
  if (await exists(ready)) return LAYOUT_DIR;
  await fsp.mkdir(TEST_CACHE, { recursive: true });
  await withLock(async () => {
    if (await exists(ready)) return;
    const work = await fsp.mkdtemp(path.join(TEST_CACHE, 'bootstrap-'));
    try {
      const store = new ContentStore(path.join(work, 'root'));
      await store.init();
      await fsp.mkdir(path.join(work, 'tmp'), { recursive: true });
      const { manifest } = await bootstrapDebian(store, path.join(work, 'tmp'), { suite: 'bookworm', sourceDateEpoch: BASE_EPOCH });
      // exportOciLayout renames the finished directory into place, so readers never see half a layout.
      await exportOciLayout(store, manifest, LAYOUT_DIR, { refName: 'localhost/debian:bookworm' });
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  });
  return LAYOUT_DIR;
}

/** Makes `tag` in the store at `root` name the cached Debian bookworm base (bootstrapping it on first use). */
export async function ensureDebianBase(root: string, tag = 'localhost/debian:bookworm'): Promise<void> {
  const layout = await debianBaseLayout();
  const content = new ContentStore(root);
  await content.init();
  const desc = await importOciLayout(content, layout);
  await new ImageStore(content).tag(tag, desc);
}
