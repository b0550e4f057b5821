/** The input digest bake --push compares with a registry's: what changes it, what does not, what it cannot see. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { inputDigest, INPUTS_ANNOTATION, type InputSources } from '../../../src/solver/inputs.js';
import type { BuildOptions } from '../../../src/solver/types.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'stratum-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const images: Record<string, string> = { 'reg.example:5000/base:1': `sha256:${'a'.repeat(64)}` };
const sources: InputSources = { image: async (ref) => images[ref] };

async function digest(req: Partial<BuildOptions> = {}, from: InputSources = sources): Promise<string> {
  const d = await inputDigest({ context: dir, dockerfile: path.join(dir, 'Dockerfile'), ...req }, from);
  assert.ok('digest' in d, JSON.stringify(d));
  return d.digest;
}

writeFileSync(path.join(dir, 'Dockerfile'), 'FROM reg.example:5000/base:1\nARG V\nCOPY a.txt /a.txt\n');
writeFileSync(path.join(dir, 'a.txt'), 'one\n');

test('the same inputs give the same digest; a touched file is not a change', async () => {
  const first = await digest();
  utimesSync(path.join(dir, 'a.txt'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
  assert.equal(await digest(), first);
  // its own annotation is not an input of itself
  assert.equal(await digest({ annotations: { [INPUTS_ANNOTATION]: 'sha256:x' } }), first);
  assert.equal(await digest({ tags: ['x/y:2'], outputs: [{ type: 'local', dest: '/tmp/out' }] }), first);
});

test('every input that shapes the image changes it', async () => {
  const first = await digest();
  const changed = [
    await digest({ buildArgs: { V: '1' } }),
    await digest({ labels: { a: 'b' } }),
    await digest({ annotations: { 'org.example': '1' } }),
    await digest({ sourceDateEpoch: 1700000000 }),
    await digest({ compression: 'zstd' }),
    await digest({ platform: { os: 'linux', architecture: 'arm64' } }),
    await digest({}, { image: async () => `sha256:${'b'.repeat(64)}` }),
    await digest({}, { ...sources, extra: ['after-export verify'] }),
    await digest({ dockerfileInline: 'FROM reg.example:5000/base:1\nCOPY a.txt /b.txt\n' }),
  ];
  writeFileSync(path.join(dir, 'a.txt'), 'two\n');
  changed.push(await digest());
  writeFileSync(path.join(dir, 'a.txt'), 'one\n');
  assert.equal(await digest(), first);
  assert.equal(new Set([first, ...changed]).size, changed.length + 1);
});

test('a named context that is another target counts by that target\'s input digest', async () => {
  const req: Partial<BuildOptions> = { dockerfileInline: 'FROM base\nCOPY a.txt /a.txt\n', contexts: { base: { kind: 'docker-image', ref: 'reg.example:5000/base:1' } } };
  const a = await digest(req, { ...sources, targets: { base: 'sha256:1' } });
  assert.equal(await digest(req, { ...sources, targets: { base: 'sha256:1' } }), a);
  assert.notEqual(await digest(req, { ...sources, targets: { base: 'sha256:2' } }), a);
  mkdirSync(path.join(dir, 'ctx'), { recursive: true });
  writeFileSync(path.join(dir, 'ctx', 'f'), '1');
  const local: Partial<BuildOptions> = { ...req, contexts: { base: { kind: 'local', path: path.join(dir, 'ctx') } }, dockerfileInline: 'FROM scratch\nCOPY --from=base f /f\n' };
  const l1 = await digest(local);
  writeFileSync(path.join(dir, 'ctx', 'f'), '2');
  assert.notEqual(await digest(local), l1);
});

test('what only a build can see leaves the target without a digest', async () => {
  for (const df of ['FROM scratch\nADD https://example.com/x.tar /x\n', 'FROM scratch\nADD https://github.com/a/b.git /src\n', 'FROM scratch\nADD $URL /x\n']) {
    const d = await inputDigest({ context: dir, dockerfileInline: df }, sources);
    assert.ok('reason' in d, df);
  }
  const pinned = await inputDigest({ context: dir, dockerfileInline: `FROM scratch\nADD --checksum=sha256:${'c'.repeat(64)} https://example.com/x.tar /x\n` }, sources);
  assert.ok('digest' in pinned);
  const missing = await inputDigest({ context: dir, dockerfileInline: 'FROM reg.example:5000/other:1\n' }, sources);
  assert.deepEqual(missing, { reason: 'image reg.example:5000/other:1 is neither in the store nor in its registry' });
  assert.ok('reason' in (await inputDigest({ context: 'https://example.com/ctx.tar' }, sources)));
});
