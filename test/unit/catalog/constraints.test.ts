import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  applyEdits,
  editsFromDockerfile,
  normalizeName,
  parseEdits,
  requestedNames,
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
  assert.deepEqual(res.unmatched.map((e) => [e.name, e.line]), [['not-there', 7]]);
});

test('edits file errors carry file:line', () => {
  assert.throws(() => parseEdits('drop a\nremove b\n', 'e.txt'), (e: unknown) => e instanceof SourceError && /^e\.txt:2:1: unknown edit/.test(e.message));
  assert.throws(() => parseEdits('pin foo\n', 'e.txt'), /e\.txt:1:1: pin "foo" has no version specifier/);
  assert.throws(() => applyEdits(UPPER, parseEdits('drop foo\npin foo==1\n')), /both drop and pin foo/);
});

test('edits are read from the sed/echo lines of a Dockerfile', () => {
  const df = [
    '# SPDX-License-Identifier: Apache-2.0',
    'FROM base AS requirements',
    'RUN cp /src/requirements/upper-constraints.txt /upper-constraints.txt',
    'RUN <<EOF sh -xe',
    "sed -i '/^glance-store===/d' /upper-constraints.txt",
    "sed -i '/horizon/d' /upper-constraints.txt",
    "sed -i 's/^cryptography===.*/cryptography===42.0.8/' /upper-constraints.txt",
    "echo 'uwsgi===2.0.24' >> /upper-constraints.txt",
    'EOF',
    '',
  ].join('\n');
  const edits = editsFromDockerfile(df, 'Dockerfile');
  assert.deepEqual(
    edits.map((e) => [e.kind, e.name, e.line]),
    [['drop', 'glance-store', 5], ['drop', 'horizon', 6], ['pin', 'cryptography', 7], ['pin', 'uwsgi', 8]],
  );
  const res = applyEdits(UPPER, edits);
  assert.ok(!res.text.includes('glance-store') && !res.text.includes('horizon'));
  assert.equal(res.text.split('\n').filter((l) => l.startsWith('cryptography')).join('|'), 'cryptography===42.0.8');
  assert.throws(
    () => editsFromDockerfile("FROM x\nRUN sed -i 's/foo/bar/g' /upper-constraints.txt\n", 'Df'),
    /Df:2:1: unsupported edit of upper-constraints\.txt/,
  );
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
