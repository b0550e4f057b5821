import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, parseTemplate, type Scope, type Value } from '../../../src/bake/expr.js';
import { stdlib } from '../../../src/bake/functions.js';

const scope = (vars: Record<string, Value> = {}): Scope => ({
  lookup: (n) => (n in vars ? vars[n] : undefined),
  fn: (n) => stdlib[n],
});
const ev = (src: string, vars: Record<string, Value> = {}) => evaluate(parseTemplate(src), scope(vars));

test('templates interpolate and keep escapes literal', () => {
  assert.equal(ev('docker.io/u/app:${TAG}', { TAG: 'v1' }), 'docker.io/u/app:v1');
  assert.equal(ev('$${TAG} %%{x}'), '${TAG} %{x}');
  assert.equal(ev('n=${1 + 2 * 3}'), 'n=7');
  assert.equal(ev('${true}-${1.5}'), 'true-1.5');
  assert.equal(ev('a ${~ "b" ~} c'), 'abc');
});

test('a template that is one interpolation keeps the value type', () => {
  assert.deepEqual(ev('${[1, "a", true]}'), [1, 'a', true]);
  assert.deepEqual(ev('${{ a = 1, "b.c" = 2, (K) = 3 }}', { K: 'k' }), { a: 1, 'b.c': 2, k: 3 });
  assert.equal(ev('${null}'), null);
});

test('operators, conditionals and comparisons', () => {
  assert.equal(ev('${X == "x" ? "yes" : "no"}', { X: 'x' }), 'yes');
  assert.equal(ev('${!(1 > 2) && (3 >= 3) || false}'), true);
  assert.equal(ev('${10 % 4 - -1}'), 3);
  assert.equal(ev('${"1" == 1}'), false);
  assert.equal(ev('${[1, 2] == [1, 2]}'), true);
  assert.equal(ev('${V != ""}', { V: '' }), false);
});

test('for expressions, splat and traversal', () => {
  assert.deepEqual(ev('${[for t in TAGS : "r/app:${t}"]}', { TAGS: ['a', 'b'] }), ['r/app:a', 'r/app:b']);
  assert.deepEqual(ev('${[for i, t in TAGS : "${i}${t}" if t != "b"]}', { TAGS: ['a', 'b', 'c'] }), ['0a', '2c']);
  assert.deepEqual(ev('${{ for k, v in M : upper(k) => v }}', { M: { a: 1, b: 2 } }), { A: 1, B: 2 });
  assert.deepEqual(ev('${{ for v in L : v.k => v.n... }}', { L: [{ k: 'x', n: 1 }, { k: 'x', n: 2 }] }), { x: [1, 2] });
  assert.deepEqual(ev('${L[*].n}', { L: [{ n: 1 }, { n: 2 }] }), [1, 2]);
  assert.deepEqual(ev('${L.*.n}', { L: [{ n: 1 }, { n: 2 }] }), [1, 2]);
  assert.equal(ev('${O.a[1].b}', { O: { a: [{ b: 1 }, { b: 2 }] } }), 2);
  assert.equal(ev('${L.1}', { L: ['x', 'y'] }), 'y');
});

test('template directives', () => {
  assert.equal(ev('%{ if X }on%{ else }off%{ endif }', { X: false }), 'off');
  assert.equal(ev('%{ for v in L }[${v}]%{ endfor }', { L: ['a', 'b'] }), '[a][b]');
});

test('string escapes inside nested strings', () => {
  assert.equal(ev('${"a\\"b\\n"}'), 'a"b\n');
  assert.equal(ev('${upper("x${Y}")}', { Y: 'y' }), 'XY');
});

test('stdlib functions bake files use', () => {
  assert.equal(ev('${notequal("", X)}', { X: 'a' }), true);
  assert.equal(ev('${equal(1, 1)}'), true);
  assert.equal(ev('${and(true, or(false, true))}'), true);
  assert.equal(ev('${lower("AbC")}${upper("d")}'), 'abcD');
  assert.equal(ev('${replace("1.2.3", ".", "-")}'), '1-2-3');
  assert.equal(ev('${regex_replace("v1.2.3-rc1", "^v([0-9]+)\\\\..*$", "$1")}'), '1');
  assert.equal(ev('${join(",", ["a", "b"])}'), 'a,b');
  assert.deepEqual(ev('${split(",", "a,b")}'), ['a', 'b']);
  assert.equal(ev('${format("%s-%03d-%v", "x", 7, true)}'), 'x-007-true');
  assert.equal(ev('${coalesce(null, "z")}'), 'z');
  assert.equal(ev('${coalesce("", "z")}'), '', 'an empty string is not null');
  assert.deepEqual(ev('${concat(["a"], ["b", "c"])}'), ['a', 'b', 'c']);
  assert.equal(ev('${contains(["a", "b"], "b")}'), true);
  assert.equal(ev('${trimprefix("v1.0", "v")}${trimsuffix("a.tar", ".tar")}'), '1.0a');
  assert.equal(ev('${substr("hello", 1, 3)}'), 'ell');
  assert.equal(ev('${length("héllo")} ${length([1, 2])} ${length({ a = 1 })}'), '5 2 1');
  assert.equal(ev('${formatdate("YYYY-MM-DD hh:mm", "2024-03-05T07:08:09Z")}'), '2024-03-05 07:08');
  assert.match(String(ev('${timestamp()}')), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.equal(ev('${add(123, 1)}'), 124);
  assert.deepEqual(ev('${distinct(["a", "b", "a"])}'), ['a', 'b']);
  assert.deepEqual(ev('${keys({ b = 1, a = 2 })}'), ['a', 'b']);
  assert.equal(ev('${lookup({ a = "x" }, "b", "dflt")}'), 'dflt');
  assert.deepEqual(ev('${merge({ a = 1 }, { b = 2 })}'), { a: 1, b: 2 });
  assert.equal(ev('${sanitize("a/b:c")}'), 'a_b_c');
  assert.equal(ev('${sha256("x")}'), '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881');
  assert.equal(ev('${timeadd("2024-01-01T00:00:00Z", "90m")}'), '2024-01-01T01:30:00Z');
  assert.deepEqual(ev('${flatten([[1], [2, [3]]])}'), [1, 2, 3]);
  assert.equal(ev('${jsonencode({ a = [1] })}'), '{"a":[1]}');
});

test('errors say what is wrong', () => {
  assert.throws(() => ev('${NOPE}'), /unknown variable "NOPE"/);
  assert.throws(() => ev('${nope(1)}'), /unknown function "nope"/);
  assert.throws(() => ev('${lower()}'), /lower\(\): expects 1 argument/);
  assert.throws(() => ev('${1 +}'), /unexpected '}'/);
  assert.throws(() => ev('${[1]}x'), /cannot be used as a string/);
});
