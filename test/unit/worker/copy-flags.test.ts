import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChmod } from '../../../src/worker/filemode.js';
import { parseGitSource } from '../../../src/worker/git.js';

// Symbolic --chmod follows BSD setmode with a umask of 0, as BuildKit's (tonistiigi/dchapes-mode) does.
test('--chmod: octal and symbolic modes', () => {
  const cases: [string, number, boolean, number][] = [
    ['go-w', 0o666, false, 0o644],
    ['u=rw,g=r,o=r', 0o666, false, 0o644],
    ['a+X', 0o666, false, 0o666],
    ['a+X', 0o744, false, 0o755],
    ['a+X', 0o124, true, 0o135],
    ['u+rw,g+r,o-x,o+w', 0o124, true, 0o766],
    ['u=rwx,go=rx', 0o4644, false, 0o755],
    ['+x', 0o644, false, 0o755],
    ['g=u', 0o640, false, 0o660],
    ['u+s', 0o755, false, 0o4755],
    ['+t', 0o755, true, 0o1755],
    ['0', 0o644, false, 0],
    ['755', 0o600, false, 0o755],
  ];
  for (const [spec, from, dir, want] of cases) assert.equal(parseChmod(spec)?.apply(from, dir), want, `${spec} on ${from.toString(8)}`);
  assert.equal(parseChmod('0755')?.octal, 0o755);
  assert.equal(parseChmod('u+x')?.octal, undefined);
  for (const bad of ['64a', '10000', '8', 'u+q', 'x', 'u', '', 'u+x,']) assert.equal(parseChmod(bad), undefined, bad);
});

test('git sources: the fragment and BuildKit\'s query form', () => {
  const g = (src: string): unknown => JSON.parse(JSON.stringify(parseGitSource(src) ?? null));
  assert.deepEqual(g('https://h/r.git#v1:docs'), { url: 'https://h/r.git', ref: 'v1', subdir: 'docs' });
  assert.deepEqual(g('https://h/r.git?tag=v1&subdir=docs&submodules=false'), { url: 'https://h/r.git', ref: 'refs/tags/v1', subdir: 'docs', submodules: false });
  assert.deepEqual(g('git@h:o/r.git?branch=main&keep-git-dir'), { url: 'git@h:o/r.git', ref: 'refs/heads/main', keepGitDir: true });
  assert.deepEqual(g('https://h/r.git?commit=abc123'), { url: 'https://h/r.git', checksum: 'abc123' });
  assert.deepEqual(g('https://h/r.git?tag=v1#refs/tags/v1'), { url: 'https://h/r.git', ref: 'refs/tags/v1' });
  assert.equal(g('https://h/file.tar.gz?x=1'), null);
  assert.throws(() => parseGitSource('https://h/r.git?ref=a#b'), /ref conflicts: "b" vs "a"/);
  assert.throws(() => parseGitSource('https://h/r.git?tag=a&branch=b'), /branch conflicts with tag/);
  assert.throws(() => parseGitSource('https://h/r.git?depth=1'), /unexpected query "depth"/);
  assert.throws(() => parseGitSource('https://h/r.git?ref='), /query "ref" has no value/);
  assert.throws(() => parseGitSource('https://h/r.git?ref=a&ref=b'), /query "ref" has multiple values/);
});
