import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceError } from '../../../src/util/errors.js';
import { dumpBuildkit, goQuote, parseDockerfile } from '../../../src/frontend/index.js';

test('parser directives: syntax, escape, check; only at the top', () => {
  const df = parseDockerfile('# syntax=docker/dockerfile:1\n#  ESCAPE = `\n# check=skip=all\n\nFROM a\nRUN dir c:\\ `\n  && echo\n');
  assert.equal(df.syntax, 'docker/dockerfile:1');
  assert.equal(df.check, 'skip=all');
  assert.equal(df.escape, '`');
  assert.equal(df.instructions[1]!.args, 'dir c:\\   && echo');
  const late = parseDockerfile('FROM a\n# escape=`\nRUN x `\n');
  assert.equal(late.escape, '\\');
  assert.equal(late.instructions[1]!.args, 'x `');
  assert.equal(parseDockerfile('# unknown=1\n# escape=`\nFROM a\n').escape, '\\');
});

test('bad directives are errors', () => {
  assert.throws(() => parseDockerfile('# escape=`\n# escape=\\\nFROM a\n'), (e: unknown) => e instanceof SourceError && e.line === 2 && /only one escape/.test(e.message));
  assert.throws(() => parseDockerfile('# escape=x\nFROM a\n'), /invalid escape directive/);
});

test('positions, comments, original text, CRLF and BOM', () => {
  const df = parseDockerfile('\uFEFFFROM a\r\n# note\r\n   RUN one \\\r\n  # inside\r\n\r\n  two\r\nUSER x', 'f');
  assert.deepEqual(df.comments, [{ line: 2, text: 'note' }, { line: 4, text: 'inside' }]);
  const run = df.instructions[1]!;
  assert.deepEqual([run.line, run.column, run.endLine, run.args], [3, 4, 6, 'one   two']);
  assert.equal(run.original, '   RUN one \\\r\n  # inside\r\n\r\n  two\r');
  assert.equal(df.instructions[2]!.line, 7);
});

test('flags: quoting, -- terminator, values with =', () => {
  const df = parseDockerfile('FROM a\nRUN --mount="type=bind,target=/a b" --network=none -- --not-a-flag\nCOPY --chown= --link x y\n');
  assert.deepEqual(df.instructions[1]!.flags, [{ name: 'mount', value: 'type=bind,target=/a b' }, { name: 'network', value: 'none' }]);
  assert.equal(df.instructions[1]!.args, '--not-a-flag');
  assert.deepEqual(df.instructions[2]!.flags, [{ name: 'chown', value: '' }, { name: 'link', value: null }]);
});

test('JSON form detection', () => {
  const df = parseDockerfile('FROM a\nCMD ["a", "b"]\nCMD [\'a\']\nENTRYPOINT ["x"] extra\nRUN [ ]\nUSER ["x"]\n');
  assert.deepEqual(df.instructions.map((i) => i.json), [null, ['a', 'b'], null, null, [], null]);
  assert.throws(() => parseDockerfile('FROM a\nRUN ["a", 1]\n'), (e: unknown) => e instanceof SourceError && e.line === 2);
});

test('an empty or comment-only file is an error', () => {
  assert.throws(() => parseDockerfile('', 'x'), /no instructions/);
  assert.throws(() => parseDockerfile('# c\n\n  \n', 'x'), SourceError);
});

test('goQuote matches Go strconv.Quote', () => {
  assert.equal(goQuote('a"b\\c\n\t\x00\x7f é ☃ \u200b 😀'), '"a\\"b\\\\c\\n\\t\\x00\\x7f é ☃ \\u200b 😀"');
});

test('dump of ONBUILD, unknown instruction and flags', () => {
  const out = dumpBuildkit(parseDockerfile('FROM a\nonbuild run --mount=type=cache,target=/x echo\nFROB x\n'));
  assert.equal(out, '(from "a")\n(onbuild (run ["--mount=type=cache,target=/x"] "echo"))\n(frob "")\n');
});
