import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCacheFields, parseCacheSpec } from '../../../src/solver/request.js';

test('--cache-from/--cache-to: registry and local caches, as buildx writes them', () => {
  assert.deepEqual(parseCacheSpec('reg:5000/app:cache', 'from'), { type: 'registry', ref: 'reg:5000/app:cache' }, 'a bare REF is a registry cache');
  assert.deepEqual(parseCacheSpec('type=registry,ref=reg:5000/app:cache', 'from'), { type: 'registry', ref: 'reg:5000/app:cache' });
  assert.deepEqual(parseCacheSpec('type=registry,ref=r/a:c,mode=max', 'to'), { type: 'registry', ref: 'r/a:c', mode: 'max' });
  assert.deepEqual(parseCacheSpec('ref=r/a:c', 'to'), { type: 'registry', ref: 'r/a:c' }, 'type defaults to registry');
  assert.deepEqual(parseCacheSpec('type=local,src=dir', 'from'), { type: 'local', dir: 'dir' });
  assert.deepEqual(parseCacheSpec('type=local,dest=dir,mode=min', 'to'), { type: 'local', dir: 'dir', mode: 'min' });
  assert.deepEqual(parseCacheFields({ type: 'local', dest: 'd' }, 'to', 'cache-to'), { type: 'local', dir: 'd' });
});

test('--cache-from/--cache-to: other types, keys and modes are refused in one line naming them', () => {
  assert.throws(() => parseCacheSpec('type=gha', 'to'), /^InputError: --cache-to type=gha: cache type must be registry or local, not "gha"$/);
  assert.throws(() => parseCacheSpec('type=inline', 'to'), /not "inline"/);
  assert.throws(() => parseCacheSpec('type=s3,bucket=b', 'from'), /--cache-from type=s3,bucket=b: cache type must be registry or local, not "s3"/);
  assert.throws(() => parseCacheSpec('type=registry,ref=r/a,compression=zstd,oci-mediatypes=true', 'to'), /"compression", "oci-mediatypes" not supported for type=registry/);
  assert.throws(() => parseCacheSpec('type=registry,ref=r/a,mode=max', 'from'), /"mode" not supported for type=registry/, 'mode is for exports');
  assert.throws(() => parseCacheSpec('type=local,dest=d', 'from'), /"dest" not supported for type=local \(src\)/);
  assert.throws(() => parseCacheSpec('type=registry,ref=r/a,mode=all', 'to'), /mode must be min or max, not "all"/);
  assert.throws(() => parseCacheSpec('type=registry', 'to'), /ref=REGISTRY\/REPOSITORY:TAG is required/);
  assert.throws(() => parseCacheSpec('type=local', 'from'), /src=DIR is required for type=local/);
});
