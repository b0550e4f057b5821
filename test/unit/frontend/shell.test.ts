import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShellLex, ShellExpansionError } from '../../../src/frontend/index.js';

const env = { FOO: '/bar', EMPTY: '', a: 'hello', b: 'world', SP: 'x  y', str: 'foobarbaz', PATH: '/usr/bin' };

const cases: [string, string][] = [
  ['$FOO', '/bar'],
  ['${FOO}', '/bar'],
  ['${FOO}_bar', '/bar_bar'],
  ['$FOO_bar', ''],
  ['\\$FOO', '$FOO'],
  ['\\${FOO}', '${FOO}'],
  ["'$FOO'", '$FOO'],
  ['"$FOO"', '/bar'],
  ['"\\$FOO"', '$FOO'],
  ['"a\\b"', 'a\\b'],
  ['"a\\"b"', 'a"b'],
  ["'a\\'", 'a\\'],
  ['a\\ b', 'a b'],
  ['$UNSET', ''],
  ['${UNSET}x', 'x'],
  ['${UNSET:-default}', 'default'],
  ['${EMPTY:-default}', 'default'],
  ['${EMPTY-default}', ''],
  ['${UNSET-default}', 'default'],
  ['${FOO:-default}', '/bar'],
  ['${a:-${b}}', 'hello'],
  ['${UNSET:-${b}}', 'world'],
  ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
  ['${a:+x}', 'x'],
  ['${EMPTY:+x}', ''],
  ['${EMPTY+x}', 'x'],
  ['${UNSET+x}', ''],
  ['${a:+"$b $b"}', 'world world'],
  ['${a:?must be set}', 'hello'],
  ['${str#f*b}', 'arbaz'],
  ['${str##f*b}', 'az'],
  ['${str%b*}', 'foobar'],
  ['${str%%b*}', 'foo'],
  ['${str/ba/fo}', 'fooforbaz'],
  ['${str//ba/fo}', 'fooforfoz'],
  ['$', '$'],
  ['a$', 'a$'],
  ['$/x', '$/x'],
  ['trailing\\', 'trailing'],
  ['"${a} ${b}"', 'hello world'],
  ['$PATH:/x', '/usr/bin:/x'],
  ['${1}', ''],
];

test('expandWord: reference and BuildKit semantics', () => {
  const lex = new ShellLex();
  for (const [input, want] of cases) assert.equal(lex.expandWord(input, env), want, input);
});

test('expandWords splits on unquoted whitespace, including expanded values', () => {
  const lex = new ShellLex();
  assert.deepEqual(lex.expandWords('a "b c"  d', env), ['a', 'b c', 'd']);
  assert.deepEqual(lex.expandWords('$SP', env), ['x', 'y']);
  assert.deepEqual(lex.expandWords('"$SP"', env), ['x  y']);
  assert.deepEqual(lex.expandWords('"" x', env), ['', 'x']);
  assert.deepEqual(lex.expandWords('a\\ b c', env), ['a b', 'c']);
  assert.deepEqual(lex.expandWords('  ', env), []);
  assert.equal(lex.expandWord('a  "b c"', env), 'a  b c');
});

test('escape=` : backtick escapes, backslash is literal', () => {
  const lex = new ShellLex('`');
  assert.equal(lex.expandWord('c:\\windows\\$a', env), 'c:\\windows\\hello');
  assert.equal(lex.expandWord('`$a', env), '$a');
  assert.equal(lex.expandWord('"`"q`""', env), '"q"');
  assert.equal(lex.expandWord('"a\\b"', env), 'a\\b');
});

test('errors for bad substitutions and ${a:?}', () => {
  const lex = new ShellLex();
  for (const bad of ['${a', '${}', '${:a}', '${a:x}', '${a.b}', "'open", '"open', '${UNSET:?}', '${EMPTY:?}']) {
    assert.throws(() => lex.expandWord(bad, env), ShellExpansionError, bad);
  }
  assert.throws(() => lex.expandWord('${UNSET?custom message}', env), /UNSET: custom message/);
  assert.equal(lex.expandWord('${EMPTY?x}', env), '');
});

test('usedVariables lists every referenced name, nested defaults included', () => {
  const lex = new ShellLex();
  assert.deepEqual(lex.usedVariables('${A:-${B}}/$C/\\$D/\'$E\'/"$F"'), ['B', 'A', 'C', 'F']);
  assert.deepEqual(lex.usedVariables('${X:?}'), ['X']);
  assert.deepEqual(lex.usedVariables('plain'), []);
});

test('options: rawQuotes keeps quotes; skipUnsetEnv keeps unset references', () => {
  assert.equal(new ShellLex('\\', { rawQuotes: true }).expandWord('"a $a" \'b\'', env), '"a hello" \'b\'');
  assert.equal(new ShellLex('\\', { skipUnsetEnv: true }).expandWord('$a $NOPE ${NOPE:-x}', env), 'hello $NOPE ${NOPE:-x}');
});
