import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpBuildkit, parseDockerfile, toCommands } from '../../../src/frontend/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/**
 * BuildKit's parser test cases, read where STRATUM_CONFORMANCE_DIR says (default: ../shared beside the checkout).
 * A clone without them skips this suite, and says so, rather than failing.
 */
const corpus = path.resolve(process.env.STRATUM_CONFORMANCE_DIR ?? path.join(repoRoot, '../shared/conformance'), 'buildkit-parser');
const present = fs.existsSync(path.join(corpus, 'positive'));

function dirs(kind: string): string[] {
  if (!present) return [];
  const d = path.join(corpus, kind);
  return fs.readdirSync(d).filter((n) => fs.statSync(path.join(d, n)).isDirectory()).sort();
}

test('conformance corpus is present', (t) => {
  if (!present) {
    t.skip(`BuildKit's parser conformance corpus is not at ${corpus} (set STRATUM_CONFORMANCE_DIR): suite skipped`);
    return;
  }
  assert.ok(dirs('positive').length >= 30);
  assert.ok(dirs('negative').length >= 4);
});

for (const name of dirs('positive')) {
  test(`positive: ${name}`, () => {
    const dir = path.join(corpus, 'positive', name);
    const text = fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8');
    const expected = fs.readFileSync(path.join(dir, 'result'), 'utf8').replace(/\s+$/, '').split('\n');
    const actual = dumpBuildkit(parseDockerfile(text, `${name}/Dockerfile`)).replace(/\s+$/, '').split('\n');
    assert.deepEqual(actual, expected);
  });
}

for (const name of dirs('negative')) {
  test(`negative: ${name}`, () => {
    const text = fs.readFileSync(path.join(corpus, 'negative', name, 'Dockerfile'), 'utf8');
    assert.throws(() => toCommands(parseDockerfile(text, `${name}/Dockerfile`)), { name: 'SourceError' });
  });
}

// Cases BuildKit parses but whose instructions are then rejected (unknown flags, HEALTHCHECK without CMD).
const rejectedAfterParse = new Set(['flags', 'health']);

test('positive cases validate with toCommands, except the ones BuildKit rejects after parsing', { skip: !present && 'no conformance corpus' }, () => {
  for (const name of dirs('positive')) {
    const text = fs.readFileSync(path.join(corpus, 'positive', name, 'Dockerfile'), 'utf8');
    const run = (): unknown => toCommands(parseDockerfile(text, name));
    if (rejectedAfterParse.has(name)) assert.throws(run, { name: 'SourceError' }, name);
    else assert.doesNotThrow(run, name);
  }
});
