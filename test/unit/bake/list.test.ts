import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listFromCli } from '../../../src/bake/index.js';
import { parseList, tabwrite } from '../../../src/bake/list.js';
import { InputError } from '../../../src/util/errors.js';
import { Readable } from 'node:stream';

const FILE = `
variable "TAG" {
  default = "dev"
}
variable "N" {
  type = number
  default = 3
  description = "a number"
}
variable "ANY" {
  type = any
  default = 1
}
variable "UNSET" {
  type = string
}
group "default" {
  targets = ["lib", "app"]
}
group "all" {
  description = "everything"
  targets = ["app"]
}
target "app" {
  description = "The app"
  tags = ["x/app:\${TAG}"]
}
target "lib" {}
target "_private" {}
target "m" {
  name = "m-\${v}"
  matrix = { v = ["1", "2"] }
}
`;

const list = (spec: string, vars: string[] = []) => listFromCli({ files: ['-'], targets: [], sets: [], vars, env: {}, cwd: '/', stdin: Readable.from([Buffer.from(FILE)]) }, spec);

// Expected texts are what buildx v0.38.2 prints for this file (tabs as Go's tabwriter pads).
test('bake --list targets: targets and groups by name, groups described by their targets, _private left out', async () => {
  assert.equal(await list('targets'), 'TARGET\tDESCRIPTION\nall\teverything (app)\napp\tThe app\ndefault\tapp, lib\nlib\t\nm\tm-1, m-2\nm-1\t\nm-2\t\n');
  const json = JSON.parse(await list('type=targets,format=json'));
  assert.deepEqual(json[0], { name: 'all', description: 'everything (app)', group: true });
  assert.deepEqual(json[3], { name: 'lib' });
});

test('bake --list variables: type, value (JSON for any, <null> when unset), --var applies', async () => {
  assert.equal(
    await list('variables', ['TAG=prod']),
    'VARIABLE\tTYPE\t\tVALUE\t\t\t\tDESCRIPTION\nANY\t\tany type\t{"value":1,"type":"number"}\t\nN\t\tnumber\t\t3\t\t\t\ta number\nTAG\t\t\t\tprod\t\t\t\t\nUNSET\t\tstring\t\t<null>\t\t\t\t\n',
  );
  assert.deepEqual(JSON.parse(await list('type=variables,format=json')).at(-1), { name: 'UNSET', type: 'string' });
});

test('bake --list: the type and format are checked', () => {
  assert.deepEqual(parseList('targets'), { type: 'targets', format: 'table' });
  assert.deepEqual(parseList('type=variables,format=json'), { type: 'variables', format: 'json' });
  assert.throws(() => parseList('foo'), (e: Error) => e instanceof InputError && /invalid list type "foo"/.test(e.message));
  assert.throws(() => parseList('type=targets,format=xml'), /invalid list format "xml"/);
  assert.throws(() => parseList('type=targets,color=1'), /unexpected key 'color'/);
});

test('tabwrite pads with tabs to multiples of 8, the last cell unpadded', () => {
  assert.equal(tabwrite([['a', 'bbbbbbbbb', 'c'], ['', '', '']]), 'a\tbbbbbbbbb\tc\n\t\t\t\n');
});
