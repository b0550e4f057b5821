import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, didYouMean, editDistance } from '../../../src/util/suggest.js';

test('edit distance counts a swap of neighbours as one edit', () => {
  assert.equal(editDistance('build', 'build'), 0);
  assert.equal(editDistance('buidl', 'build'), 1);
  assert.equal(editDistance('RUNN', 'RUN'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
});

test('suggests only a close candidate, case-insensitively', () => {
  const keywords = ['FROM', 'RUN', 'COPY', 'ADD', 'ENV'];
  assert.equal(closest('RUNN', keywords), 'RUN');
  assert.equal(closest('copi', keywords), 'COPY');
  assert.equal(closest('X', keywords), undefined);
  assert.equal(closest('HEALTH', keywords), undefined);
  assert.equal(closest('buidl', ['base', 'build', 'final']), 'build');
  assert.equal(closest('Build', ['build']), 'build');
  assert.equal(closest('build', ['build']), undefined);
  assert.equal(didYouMean('RUNN', keywords), ' (did you mean RUN?)');
  assert.equal(didYouMean('zzz', keywords), '');
});
