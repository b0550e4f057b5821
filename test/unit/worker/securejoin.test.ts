import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveInContext, resolveInRoot } from '../../../src/worker/securejoin.js';

describe('path resolution inside a root', () => {
  let root: string;

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'stratum-securejoin-'));
    await mkdir(path.join(root, 'usr/lib'), { recursive: true });
    await symlink('usr/lib', path.join(root, 'lib'));
    await symlink('/usr/lib', path.join(root, 'abs-lib'));
    await symlink('../../../../etc', path.join(root, 'usr/up'));
    await symlink('loop2', path.join(root, 'loop1'));
    await symlink('loop1', path.join(root, 'loop2'));
  });

  after(() => rm(root, { recursive: true, force: true }));

  it('follows links the way a chrooted process would, clamped at the root', async () => {
    assert.equal(await resolveInRoot(root, '/lib/x'), path.join(root, 'usr/lib/x'));
    assert.equal(await resolveInRoot(root, '/abs-lib/x'), path.join(root, 'usr/lib/x'));
    assert.equal(await resolveInRoot(root, '/usr/up/passwd'), path.join(root, 'etc/passwd'));
    assert.equal(await resolveInRoot(root, '/../../etc/shadow'), path.join(root, 'etc/shadow'));
    assert.equal(await resolveInRoot(root, '/lib', { followFinal: false }), path.join(root, 'lib'));
    await assert.rejects(resolveInRoot(root, '/loop1/x'), /too many levels/);
  });

  it('refuses what leads out of a build context, naming the link', async () => {
    assert.equal(await resolveInContext(root, 'lib/x', 'COPY'), path.join(root, 'usr/lib/x'));
    await assert.rejects(resolveInContext(root, 'abs-lib/x', 'COPY'), /outside the build context \(through the symlink abs-lib -> \/usr\/lib\)/);
    await assert.rejects(resolveInContext(root, 'usr/up/passwd', 'COPY'), /outside the build context \(through the symlink usr\/up -> /);
    await assert.rejects(resolveInContext(root, '../x', 'COPY'), /outside the build context/);
    assert.equal(await resolveInContext(root, 'usr/../lib', 'COPY'), path.join(root, 'usr/lib'));
  });
});
