import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';
import { makeTar, writeLayout } from './helpers.js';

const MiB = 1 << 20;

/** A small ext4 file system of its own (no reserved blocks: root can really fill it). */
async function loopFs(dir: string, mib: number): Promise<{ mnt: string; umount: () => Promise<void> } | undefined> {
  const img = path.join(dir, `fs-${mib}.img`);
  const mnt = path.join(dir, `mnt-${mib}`);
  await fsp.mkdir(mnt);
  await run('truncate', ['-s', `${mib}M`, img]);
  await run('mkfs.ext4', ['-q', '-m', '0', img]);
  const m = await run('mount', ['-o', 'loop', img, mnt], { check: false });
  if (m.code !== 0) return undefined;
  return { mnt, umount: async () => void (await run('umount', ['-l', mnt], { check: false })) };
}

async function freeBytes(dir: string): Promise<number> {
  const s = await fsp.statfs(dir);
  return s.bavail * s.bsize;
}

/** Fills `dir`'s file system until only `leave` bytes are free; returns the filler's path. */
async function fillTo(dir: string, leave: number): Promise<string> {
  const filler = path.join(dir, 'filler');
  await fsp.rm(filler, { force: true });
  const size = Math.max(0, (await freeBytes(dir)) - leave);
  await run('fallocate', ['-l', String(size), filler]);
  return filler;
}

/**
 * A full disk at each phase of a build — unpacking a base, copying, making a layer, writing an output — is one
 * line naming the problem, exit 1 (the machine, not the input), and leaves a store that is sound and works as soon
 * as there is room again.
 */
describe('a full disk', { timeout: 10 * 60_000 }, () => {
  let tmp: string;
  let fs: { mnt: string; umount: () => Promise<void> } | undefined;
  let out: { mnt: string; umount: () => Promise<void> } | undefined;
  let root: string;
  let ctx: string;

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-enospc-'));
    fs = await loopFs(tmp, 160);
    out = await loopFs(tmp, 8);
    root = path.join(fs?.mnt ?? tmp, 'store');
    ctx = path.join(tmp, 'ctx');
    await fsp.mkdir(ctx);
    // Incompressible, so its layer blob is as big as its snapshot.
    await fsp.writeFile(path.join(ctx, 'data.bin'), randomBytes(40 * MiB));
    await fsp.writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY data.bin /data.bin\n');
  });
  after(async () => {
    await fs?.umount();
    await out?.umount();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  function assertNoSpace(r: { code: number; stderr: string }, phase: string): void {
    assert.equal(r.code, 1, `${phase}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${phase}: one line, got ${r.stderr}`);
    assert.match(lines[0]!, /^error: no space left on device/, phase);
  }

  async function assertSound(phase: string): Promise<void> {
    const check = await stratum(['store', 'check'], { root });
    assert.equal(check.code, 0, `${phase}: ${check.stdout}${check.stderr}`);
  }

  it('while unpacking a base, copying, making a layer and writing an OCI output', async (t) => {
    if (!fs || !out) {
      t.skip('no loop device to make a small file system with (mount -o loop failed)');
      return;
    }
    // Unpacking: 300 MiB of zeros compress to almost nothing, and unpack to more than the disk holds.
    const layout = path.join(tmp, 'zeros');
    await writeLayout(layout, { layers: [makeTar([{ path: 'zeros', content: Buffer.alloc(300 * MiB) }])] });
    const unpackCtx = path.join(tmp, 'unpack');
    await fsp.mkdir(unpackCtx);
    await fsp.writeFile(path.join(unpackCtx, 'Dockerfile'), 'FROM zeros\nLABEL a=b\n');
    assertNoSpace(await stratum(['build', unpackCtx, '--build-context', `zeros=oci-layout://${layout}`, '--progress', 'quiet'], { root }), 'unpack');
    await assertSound('after unpack');

    // Copying: less room than the file.
    await fillTo(fs.mnt, 20 * MiB);
    assertNoSpace(await stratum(['build', ctx, '--progress', 'quiet', '-t', 'localhost/big:1'], { root }), 'copy');
    await assertSound('after copy');

    // Making the layer: room for the copy, not for the copy and its compressed layer.
    const filler = await fillTo(fs.mnt, 60 * MiB);
    assertNoSpace(await stratum(['build', ctx, '--progress', 'quiet', '-t', 'localhost/big:1'], { root }), 'export');
    await assertSound('after export');

    // Room again: the same build now works, and writing its OCI output to a full disk fails cleanly.
    await fsp.rm(filler);
    const dest = path.join(out.mnt, 'oci');
    assertNoSpace(await stratum(['build', ctx, '--progress', 'quiet', '-t', 'localhost/big:1', '-o', `type=oci,dest=${dest},tar=false`], { root }), 'output');
    assert.deepEqual(await fsp.readdir(out.mnt).then((n) => n.filter((x) => x !== 'lost+found')), [], 'no half-written output');
    await assertSound('after output');
    const ok = await stratum(['build', ctx, '--progress', 'quiet', '-t', 'localhost/big:1', '-o', `type=oci,dest=${path.join(tmp, 'oci-ok')},tar=false`], { root });
    assert.equal(ok.code, 0, ok.stderr);
    const inspect = await run('skopeo', ['inspect', `oci:${path.join(tmp, 'oci-ok')}`]);
    assert.equal(JSON.parse(inspect.stdout).Layers.length, 1);
  });
});
