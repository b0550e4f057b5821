import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvFields } from '../../../src/bake/csv.js';
import { cacheEq, parseCache, parseExport, parseSecret, removeDupes } from '../../../src/bake/entries.js';
import { formatNumber } from '../../../src/bake/expr.js';
import { netFunctions, semverCheck } from '../../../src/bake/functions-net.js';
import { formatDate } from '../../../src/bake/functions-time.js';
import { globMatch } from '../../../src/bake/glob.js';
import { cleanPath } from '../../../src/bake/paths.js';
import { fromCsv } from '../../../src/bake/vartype.js';

test('csv fields as buildx splits specs: quotes keep commas, a stray quote is an error', () => {
  assert.deepEqual(csvFields('type=local,"dest=a,b",x='), ['type=local', 'dest=a,b', 'x=']);
  assert.deepEqual(csvFields('"a""b",'), ['a"b', '']);
  assert.throws(() => csvFields('a"b'), /bare "/);
  assert.throws(() => csvFields('"open'), /missing "/);
});

test('glob matching is Go path.Match: * stops at /, classes and negation', () => {
  assert.ok(globMatch('foo-*', 'foo-bar'));
  assert.ok(!globMatch('foo-*', 'foo/bar'));
  assert.ok(globMatch('a?', 'a1'));
  assert.ok(globMatch('[ab]1', 'b1'));
  assert.ok(globMatch('[^ab]1', 'c1'));
  assert.ok(!globMatch('[', '['), 'a malformed pattern matches nothing');
});

test('spec entries: bare refs, several refs, outputs, secrets, and the duplicate rule', () => {
  assert.deepEqual(parseCache('r/a,r/b'), [
    { type: 'registry', attrs: { ref: 'r/a' } },
    { type: 'registry', attrs: { ref: 'r/b' } },
  ]);
  assert.throws(() => parseCache('ref=x'), /type required/);
  assert.deepEqual(parseExport('out/dir'), { type: 'local', dest: 'out/dir', attrs: {} });
  assert.deepEqual(parseExport('-'), { type: 'tar', dest: '-', attrs: {} });
  assert.deepEqual(parseSecret('type=env,id=T'), { id: 'T', src: '', env: '' });
  assert.deepEqual(parseSecret('type=env,id=T,src=V'), { id: 'T', src: '', env: 'V' });
  // buildx drops a later duplicate by moving the last entry into its place
  const e = (ref: string) => ({ type: 'registry', attrs: { ref } });
  assert.deepEqual(removeDupes([e('a'), e('b'), e('a'), e('c')], cacheEq), [e('a'), e('b'), e('c')]);
  assert.deepEqual(removeDupes([e('a'), e('a'), e('b'), e('c')], cacheEq), [e('a'), e('c'), e('b')]);
});

test('numbers print as cty prints them', () => {
  assert.equal(formatNumber(3), '3');
  assert.equal(formatNumber(1e21), '1000000000000000000000');
  assert.equal(formatNumber(0.1 + 0.2), '0.3');
  assert.equal(formatNumber(1e-7), '0.0000001');
  assert.equal(formatNumber(1 / 0), '+Inf');
});

test('semver constraints', () => {
  assert.equal(semverCheck('1.2.3', '>= 1.2.0, < 2'), true);
  assert.equal(semverCheck('2.0.0', '^1.2'), false);
  assert.equal(semverCheck('1.2.9', '~1.2.3'), true);
  assert.equal(semverCheck('1.3.0-rc.1', '>=1.2'), false, 'a prerelease needs a prerelease in the constraint');
  assert.equal(semverCheck('1.3.0-rc.1', '>=1.3.0-rc.0'), true);
  assert.equal(semverCheck('1.4.0', '1.2 - 1.4.5'), true);
  assert.equal(semverCheck('3.1.0', '<2 || >=3'), true);
  assert.throws(() => semverCheck('1.0.0', 'bogus'), /improper constraint/);
});

test('cidr functions, IPv4 and IPv6', () => {
  assert.equal(netFunctions.cidrhost!(['10.12.112.0/20', 16]), '10.12.112.16');
  assert.equal(netFunctions.cidrhost!(['10.12.112.0/20', -2]), '10.12.127.254');
  assert.equal(netFunctions.cidrnetmask!(['172.16.0.0/12']), '255.240.0.0');
  assert.equal(netFunctions.cidrsubnet!(['fd00:fd12:3456:7890::/56', 16, 162]), 'fd00:fd12:3456:7800:a200::/72');
  assert.deepEqual(netFunctions.cidrsubnets!(['10.1.0.0/16', 4, 4, 8, 4]), ['10.1.0.0/20', '10.1.16.0/20', '10.1.32.0/24', '10.1.48.0/20']);
});

test('time formats, CSV variables and Go path cleaning', () => {
  assert.equal(formatDate("EEE, DD MMM YYYY hh:mm:ss ZZZ 'x'", '2024-03-05T10:20:30+02:00'), 'Tue, 05 Mar 2024 10:20:30 +0200 x');
  assert.deepEqual(fromCsv('M', 'a:1,b:2', { k: 'map', of: { k: 'number' } }), { a: 1, b: 2 });
  assert.deepEqual(fromCsv('S', 'b,a,b', { k: 'set', of: { k: 'string' } }), ['a', 'b']);
  assert.equal(cleanPath('./a/../b//c/.'), 'b/c');
  assert.equal(cleanPath('/../x'), '/x');
  assert.equal(cleanPath(''), '.');
});
