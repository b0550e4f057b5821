import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  applyEdits,
  compareVersions,
  editsFromDockerfile,
  normalizeName,
  parseEdits,
  parseSedScript,
  requestedNames,
  runSed,
  unpinned,
} from '../../../src/catalog/index.js';
import { SourceError } from '../../../src/util/errors.js';
import { register } from '../../../src/cli/commands/constraints.js';
import { tempDir } from './helpers.js';

const UPPER = [
  '# upper constraints',
  'glance-store===4.7.0',
  'horizon===24.0.0',
  "cryptography===41.0.7;python_version>='3.8'",
  "cryptography===40.0.0;python_version<'3.8'",
  'oslo.config===9.4.0',
  'Django===4.2.11',
  "zipp===3.17.0;python_version>='3.8'",
  '',
].join('\n');

test('PEP 503 normalisation', () => {
  assert.equal(normalizeName('Oslo.Config'), 'oslo-config');
  assert.equal(normalizeName('python_binary__memcached'), 'python-binary-memcached');
  assert.equal(normalizeName('a-_.b'), 'a-b');
});

test('drop removes every marker variant; pin replaces them in place; markers kept', () => {
  const edits = parseEdits(
    ['# edits', 'drop Glance_Store', 'drop horizon  # from source', "pin cryptography===42.0.8;python_version>='3.8'", 'pin oslo_config===9.5.0', 'pin uwsgi===2.0.24', 'drop not-there'].join('\n'),
    'edits.txt',
  );
  const res = applyEdits(UPPER, edits);
  assert.equal(
    res.text,
    [
      '# upper constraints',
      "cryptography===42.0.8;python_version>='3.8'",
      'oslo_config===9.5.0',
      'Django===4.2.11',
      "zipp===3.17.0;python_version>='3.8'",
      'uwsgi===2.0.24',
      '',
    ].join('\n'),
  );
  assert.deepEqual(res.dropped.sort(), ['glance-store', 'horizon']);
  assert.deepEqual(res.unmatched.map((e) => [e.kind === 'drop' && e.name, e.line]), [['not-there', 7]]);
  assert.deepEqual(res.lowered, []);
});

test('edits file errors carry file:line', () => {
  assert.throws(() => parseEdits('drop a\nremove b\n', 'e.txt'), (e: unknown) => e instanceof SourceError && /^e\.txt:2:1: unknown edit/.test(e.message));
  assert.throws(() => parseEdits('pin foo\n', 'e.txt'), /e\.txt:1:1: pin "foo" has no version specifier/);
  assert.throws(() => applyEdits(UPPER, parseEdits('drop foo\npin foo==1\n')), /both drop and pin foo/);
});

test('a Dockerfile\'s sed and echo lines are replayed exactly as sed and echo would run them', () => {
  const df = [
    '# SPDX-License-Identifier: Apache-2.0',
    'FROM base AS requirements',
    'RUN cp /src/requirements/upper-constraints.txt /upper-constraints.txt',
    "RUN <<'EOF' sh -xe",
    "sed -i '/^glance-store===/d' /upper-constraints.txt",
    "sed -i '/horizon/d' /upper-constraints.txt",
    "sed -i 's/^cryptography===.*/cryptography===42.0.8/' /upper-constraints.txt",
    "echo 'uwsgi===2.0.24' >> /upper-constraints.txt",
    'EOF',
    '',
  ].join('\n');
  const edits = editsFromDockerfile(df, 'Dockerfile');
  assert.deepEqual(edits.map((e) => [e.kind, e.line]), [['sed', 5], ['sed', 6], ['sed', 7], ['append', 8]]);
  const upper = UPPER + 'django-horizon===1.0\n';
  const res = applyEdits(upper, edits);
  assert.ok(!res.text.includes('glance-store'));
  // '/horizon/d' drops every line that merely contains "horizon", as sed does.
  assert.ok(!res.text.includes('horizon'));
  assert.deepEqual(res.unmatched, []);
  // Both marker variants of cryptography become the same unmarked line, as sed does.
  assert.equal(res.text.split('\n').filter((l) => l.startsWith('cryptography')).join('|'), 'cryptography===42.0.8|cryptography===42.0.8');
  assert.ok(res.text.endsWith("zipp===3.17.0;python_version>='3.8'\nuwsgi===2.0.24\n"));
  // sed compares text, not PEP 503 names: where upstream spells glance_store with an underscore the
  // drop misses, as it would in the build, and is reported.
  const underscore = applyEdits(UPPER.replace('glance-store', 'glance_store'), editsFromDockerfile(df, 'Dockerfile'));
  assert.deepEqual(underscore.unmatched.map((e) => e.line), [5]);
  assert.ok(underscore.text.includes('glance_store===4.7.0'));
  assert.deepEqual(underscore.dropped.sort(), ['horizon']);
});

test('sed semantics: BRE specials, several commands, flags, and what is refused', () => {
  const run = (script: string, text: string, extended = false) => runSed(parseSedScript(script, extended), text).text;
  assert.equal(run('s/a*/X/', 'baaa\n'), 'Xbaaa\n');
  assert.equal(run('s/a+/X/', 'a+b\n'), 'Xb\n');
  assert.equal(run('s/a\\+/X/', 'aaab\n'), 'Xb\n');
  assert.equal(run('s/a+/X/', 'aaab\n', true), 'Xb\n');
  assert.equal(run('s/\\(foo\\)===\\(.*\\)/\\2 \\1 &/', 'foo===1\n'), '1 foo foo===1\n');
  assert.equal(run('s/o/0/g;/^x/d', 'foo\nxo\nbar'), 'f00\nbar');
  assert.equal(run('s/o/0/2', 'fooo\n'), 'fo0o\n');
  assert.equal(run('s|/|-|g', 'a/b/c\n'), 'a-b-c\n');
  assert.equal(run('/^[[:digit:]]/d', '1a\nb\n'), 'b\n');
  assert.equal(run('s/.*===//', 'a===1\n'), '1\n');
  assert.equal(run('/x/d', 'x\n'), '');
  for (const bad of ['p', '1d', 's/a/b/I', 's/a/b', '/a/']) assert.throws(() => parseSedScript(bad), Error, bad);
});

test('edits of upper-constraints.txt that cannot be replayed exactly are errors with file:line', () => {
  const cases: [string, RegExp][] = [
    ["RUN sed -i 's/foo/bar/w out' /upper-constraints.txt", /Df:2:1: sed script not understood/],
    ['RUN sed -i "/^${PKG}===/d" /upper-constraints.txt', /Df:2:1: the shell expands a word/],
    ["RUN sed 's/a/b/' /tmp/uc > /upper-constraints.txt", /Df:2:1: sed with a redirection/],
    ["RUN sed -i.bak '/a/d' /upper-constraints.txt", /backup suffix/],
    ['RUN echo -n foo >> /upper-constraints.txt', /echo options/],
    ['RUN echo foo > /upper-constraints.txt', /echo must append/],
    ["RUN perl -pi -e 's/a/b/' /upper-constraints.txt", /Df:2:1: unsupported edit of upper-constraints\.txt/],
  ];
  for (const [run, re] of cases) assert.throws(() => editsFromDockerfile(`FROM x\n${run}\n`, 'Df'), (e: unknown) => e instanceof SourceError && re.test(e.message), run);
  // Commands on other files, and the cp that fetches it, are not edits.
  assert.deepEqual(editsFromDockerfile("FROM x\nRUN cp /src/upper-constraints.txt /upper-constraints.txt && sed -i 's/a/b/' /etc/other\n", 'Df'), []);
  // Nor are commands that only read it.
  assert.deepEqual(editsFromDockerfile("FROM x\nRUN pip install -c /upper-constraints.txt foo && sed -n '/a/p' /upper-constraints.txt\n", 'Df'), []);
});

test('an edit that lowers an upstream pin is reported, markers compared', () => {
  const upper = ["urllib3===1.26.20", "idna===3.7;python_version>='3.10'", "idna===3.6;python_version<'3.10'", 'six===1.16.0', ''].join('\n');
  const edits = editsFromDockerfile(
    [
      'FROM x',
      "RUN sed -i 's/^urllib3===.*/urllib3===1.26.19/' /upper-constraints.txt",
      `RUN sed -i "s/^idna===3.7;python_version>='3.10'/idna===3.6.1;python_version>='3.10'/" /upper-constraints.txt`,
      "RUN sed -i 's/^six===.*/six===1.17.0/' /upper-constraints.txt",
      '',
    ].join('\n'),
    'Df',
  );
  const res = applyEdits(upper, edits);
  assert.deepEqual(res.lowered.map((l) => [l.name, l.from, l.to, l.edit.line]), [['urllib3', '1.26.20', '1.26.19', 2], ['idna', '3.7', '3.6.1', 3]]);
  const byFile = applyEdits(upper, parseEdits('pin urllib3===1.26.5\npin six===1.17.0\n', 'e'));
  assert.deepEqual(byFile.lowered.map((l) => [l.name, l.from, l.to]), [['urllib3', '1.26.20', '1.26.5']]);
});

test('PEP 440 ordering', () => {
  const order = ['1.0.dev1', '1.0a1', '1.0a2.dev1', '1.0a2', '1.0b1', '1.0rc1', '1.0', '1.0.post1', '1.0.1', '1.1', '2!0.1'];
  for (let i = 1; i < order.length; i++) assert.ok(compareVersions(order[i - 1]!, order[i]!)! < 0, `${order[i - 1]} < ${order[i]}`);
  assert.equal(compareVersions('1.0', '1.0.0'), 0);
  assert.equal(compareVersions('1.0', 'not-a-version'), null);
});

test('requested packages that no constraint pins are reported', () => {
  const names = requestedNames(['PyMySQL>=1.0', 'oslo.config', '-r other.txt', '/src/nova', 'git+https://x/y.git', 'uwsgi ; python_version>"3"', 'Django', ''].join('\n'));
  assert.deepEqual(names, ['pymysql', 'oslo-config', 'uwsgi', 'django']);
  assert.deepEqual(unpinned(UPPER, names), ['pymysql', 'uwsgi']);
});

test('stratum constraints CLI writes the edited file and reports with --strict', async () => {
  const t = await tempDir('constraints');
  const prevExit = process.exitCode;
  const errWrite = process.stderr.write.bind(process.stderr);
  const err: string[] = [];
  try {
    await writeFile(join(t.dir, 'upper.txt'), UPPER);
    await writeFile(join(t.dir, 'edits'), 'drop horizon\npin Django===4.2.13\n');
    await writeFile(join(t.dir, 'req.txt'), 'django\nnova-scheduler-filters\n');
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    process.exitCode = 0;
    const p = new Command().exitOverride();
    register(p);
    await p.parseAsync(['node', 'stratum', 'constraints', '--edits', join(t.dir, 'edits'), join(t.dir, 'upper.txt'), '-o', join(t.dir, 'out.txt'), '--requirements', join(t.dir, 'req.txt'), '--strict']);
    const out = await readFile(join(t.dir, 'out.txt'), 'utf8');
    assert.ok(out.includes('Django===4.2.13\n') && !out.includes('horizon') && !out.includes('4.2.11'));
    assert.equal(process.exitCode, 1);
    assert.match(err.join(''), /unpinned: nova-scheduler-filters/);
  } finally {
    process.stderr.write = errWrite;
    process.exitCode = prevExit;
    await t.cleanup();
  }
});
