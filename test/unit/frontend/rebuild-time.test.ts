import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDockerfile, REBUILD_TIME_RE, rebuildTimeOf } from '../../../src/frontend/index.js';
import { REBUILD_TIME_RE as catalogPattern } from '../../../src/catalog/files.js';

test('the Rebuild-Time header has one pattern, read alike by the build and the catalog tools', () => {
  assert.equal(catalogPattern, REBUILD_TIME_RE);
  assert.equal(rebuildTimeOf(parseDockerfile('# SPDX-License-Identifier: Apache-2.0\n# Atmosphere-Rebuild-Time: 2024-06-25T22:49:25Z\nFROM x\n', 'D'))?.toISOString(), '2024-06-25T22:49:25.000Z');
  assert.equal(rebuildTimeOf(parseDockerfile('# Stratum.ci-Rebuild-Time: 2026-11-30T03:20:00Z\nFROM x\n', 'D'))?.toISOString(), '2026-11-30T03:20:00.000Z');
  assert.equal(rebuildTimeOf(parseDockerfile('FROM x\n', 'D')), undefined);
  assert.throws(() => rebuildTimeOf(parseDockerfile('# X-Rebuild-Time: soon\nFROM x\n', 'D')), /D:1: Rebuild-Time "soon" is not an RFC 3339 time/);
  assert.deepEqual(REBUILD_TIME_RE.exec('# Stratum-Rebuild-Time: 2026-01-01T00:00:00Z')?.slice(1), ['# Stratum-Rebuild-Time: ', '2026-01-01T00:00:00Z']);
});
