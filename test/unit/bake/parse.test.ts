import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBake, printView, readBakeFiles, type BakeFile } from '../../../src/bake/index.js';
import { InputError, SourceError } from '../../../src/util/errors.js';

const hcl = (data: string, name = 'docker-bake.hcl'): BakeFile => ({ name, data });
async function print(files: BakeFile[], targets: string[] = [], opts: { env?: Record<string, string>; set?: string[] } = {}) {
  const def = await loadBake(files, { env: opts.env ?? {}, targets: targets.length ? targets : ['default'], overrides: opts.set });
  return printView(def);
}

test('reference: an empty target prints with context "." and dockerfile "Dockerfile"', async () => {
  assert.deepEqual(await print([hcl('target "default" {}')]), { group: { default: { targets: ['default'] } }, target: { default: { context: '.', dockerfile: 'Dockerfile' } } });
});

test('reference: inherits from several targets, the last one wins (app-release)', async () => {
  const src = `
target "app-dev" {
  args = {
    GO_VERSION = "1.20"
    BUILDX_EXPERIMENTAL = 1
  }
  tags = ["docker.io/username/myapp"]
  dockerfile = "app.Dockerfile"
  labels = {
    "org.opencontainers.image.source" = "https://github.com/username/myapp"
  }
}

target "_release" {
  args = {
    BUILDKIT_CONTEXT_KEEP_GIT_DIR = 1
    BUILDX_EXPERIMENTAL = 0
  }
}

target "app-release" {
  inherits = ["app-dev", "_release"]
  platforms = ["linux/amd64", "linux/arm64"]
}`;
  const out = await print([hcl(src)], ['app-release']);
  // compared as text: key order is part of what --print shows
  assert.equal(
    JSON.stringify(out, null, 2),
    `{
  "group": {
    "default": {
      "targets": [
        "app-release"
      ]
    }
  },
  "target": {
    "app-release": {
      "context": ".",
      "dockerfile": "app.Dockerfile",
      "args": {
        "BUILDKIT_CONTEXT_KEEP_GIT_DIR": "1",
        "BUILDX_EXPERIMENTAL": "0",
        "GO_VERSION": "1.20"
      },
      "labels": {
        "org.opencontainers.image.source": "https://github.com/username/myapp"
      },
      "tags": [
        "docker.io/username/myapp"
      ],
      "platforms": [
        "linux/amd64",
        "linux/arm64"
      ]
    }
  }
}`,
  );
});

test('reference: matrix forks a target and makes a group of it', async () => {
  const src = `
target "app" {
  name = "app-\${tgt}"
  matrix = {
    tgt = ["foo", "bar"]
  }
  target = tgt
}`;
  assert.equal(
    JSON.stringify(await print([hcl(src)], ['app']), null, 2),
    `{
  "group": {
    "app": {
      "targets": [
        "app-foo",
        "app-bar"
      ]
    },
    "default": {
      "targets": [
        "app"
      ]
    }
  },
  "target": {
    "app-bar": {
      "context": ".",
      "dockerfile": "Dockerfile",
      "target": "bar"
    },
    "app-foo": {
      "context": ".",
      "dockerfile": "Dockerfile",
      "target": "foo"
    }
  }
}`,
  );
});

test('reference: matrix with several axes and with map values', async () => {
  const multi = await print(
    [
      hcl(`
target "app" {
  name = "app-\${tgt}-\${replace(version, ".", "-")}"
  matrix = {
    tgt = ["foo", "bar"]
    version = ["1.0", "2.0"]
  }
  target = tgt
  args = {
    VERSION = version
  }
}`),
    ],
    ['app'],
  );
  // buildx walks the matrix keys in Go map order, so only the set of names is fixed
  assert.deepEqual([...multi.group!.app!.targets].sort(), ['app-bar-1-0', 'app-bar-2-0', 'app-foo-1-0', 'app-foo-2-0']);
  assert.deepEqual(multi.target['app-bar-2-0'], { context: '.', dockerfile: 'Dockerfile', args: { VERSION: '2.0' }, target: 'bar' });
  const maps = await print(
    [
      hcl(`
target "app" {
  name = "app-\${item.tgt}-\${replace(item.version, ".", "-")}"
  matrix = {
    item = [
      {
        tgt = "foo"
        version = "1.0"
      },
      {
        tgt = "bar"
        version = "2.0"
      }
    ]
  }
  target = item.tgt
  args = {
    VERSION = item.version
  }
}`),
    ],
    ['app'],
  );
  assert.deepEqual(Object.keys(maps.target), ['app-bar-2-0', 'app-foo-1-0']);
  assert.deepEqual(maps.target['app-foo-1-0']!.args, { VERSION: '1.0' });
});

test('reference: a group wins over a target of the same name', async () => {
  const out = await print([
    hcl(`
target "default" {
  dockerfile-inline = "FROM ubuntu"
}
group "default" {
  targets = ["alpine", "debian"]
}
target "alpine" {
  dockerfile-inline = "FROM alpine"
}
target "debian" {
  dockerfile-inline = "FROM debian"
}`),
  ]);
  assert.deepEqual(out.group, { default: { targets: ['alpine', 'debian'] } });
  assert.deepEqual(Object.keys(out.target), ['alpine', 'debian']);
  assert.equal(out.target.alpine!['dockerfile-inline'], 'FROM alpine');
});

test('reference: variables, env overrides, typed list variables, CSV and JSON overrides', async () => {
  const src = `
variable "TAG" {
  default = "latest"
}
variable "TAGS" {
  default = ["latest"]
  type = list(string)
}
target "webapp-dev" {
  dockerfile = "Dockerfile.webapp"
  tags = concat(["docker.io/username/webapp:\${TAG}"], [for tag in TAGS: "docker.io/username/webapp:\${tag}"])
}`;
  // repeated tags are printed once
  assert.deepEqual((await print([hcl(src)], ['webapp-dev'])).target['webapp-dev']!.tags, ['docker.io/username/webapp:latest']);
  const over = await print([hcl(src)], ['webapp-dev'], { env: { TAG: 'dev', TAGS: 'dev,latest,2' } });
  assert.deepEqual(over.target['webapp-dev']!.tags, ['docker.io/username/webapp:dev', 'docker.io/username/webapp:latest', 'docker.io/username/webapp:2']);
  const json = await print([hcl(src)], ['webapp-dev'], { env: { TAGS_JSON: '["with,comma"]' } });
  assert.deepEqual(json.target['webapp-dev']!.tags, ['docker.io/username/webapp:latest', 'docker.io/username/webapp:with,comma']);
});

test('typed and untyped primitive overrides, variables referring to variables, built-ins', async () => {
  const src = `
variable "N" { default = 3 }
variable "ON" { default = false }
variable "BASE" { default = "r.example/\${NAME}" }
variable "NAME" { default = "x" }
variable "V" { type = number }
target "t" {
  args = {
    N = N + 1
    ON = ON ? "yes" : "no"
    BASE = BASE
    V = V == null ? "unset" : V
    P = BAKE_LOCAL_PLATFORM
  }
}`;
  const a = (await print([hcl(src)], ['t'], { env: { N: '41', ON: 'true', NAME: 'y' } })).target.t!.args as Record<string, string>;
  assert.equal(a.N, '42');
  assert.equal(a.ON, 'yes');
  assert.equal(a.BASE, 'r.example/y');
  assert.equal(a.V, 'unset');
  assert.match(a.P!, /^linux\//);
  await assert.rejects(print([hcl(src)], ['t'], { env: { V: 'abc' } }), (e: unknown) => e instanceof InputError && /V.*number/.test(e.message));
});

test('user functions and stdlib calls in attributes', async () => {
  const src = `
function "increment" {
  params = [number]
  result = number + 1
}
function "tag" {
  params = [repo, version]
  result = "\${repo}:\${lower(version)}"
}
target "webapp-dev" {
  tags = [tag("docker.io/username/webapp", "LATEST")]
  args = {
    buildno = "\${increment(123)}"
    sum = "\${add(123, 1)}"
  }
}`;
  const t = (await print([hcl(src)], ['webapp-dev'])).target['webapp-dev']!;
  assert.deepEqual(t.args, { buildno: '124', sum: '124' });
  assert.deepEqual(t.tags, ['docker.io/username/webapp:latest']);
});

test('several files merge in order: tags are replaced, labels merge, a null arg keeps the earlier value', async () => {
  const a = hcl(`target "webapp" {
  context = "."
  tags = ["bar"]
  labels = { "com.example.foo" = "foo", "com.example.name" = "Alice" }
  args = { A = "1", B = "2" }
}`, 'a.hcl');
  const b = hcl(`target "webapp" {
  tags = ["foo"]
  labels = {
    "com.example.bar" = "bar"
    "com.example.name" = "Bob"
  }
  args = { B = null }
}`, 'b.hcl');
  const t = (await print([a, b], ['webapp'])).target.webapp!;
  assert.deepEqual(t.tags, ['foo']);
  assert.deepEqual(t.labels, { 'com.example.bar': 'bar', 'com.example.foo': 'foo', 'com.example.name': 'Bob' });
  assert.deepEqual(t.args, { A: '1', B: '2' });
});

test('JSON bake files read like their HCL twin', async () => {
  const json: BakeFile = {
    name: 'docker-bake.json',
    data: JSON.stringify({
      variable: { TAG: { default: 'latest' } },
      group: { default: { targets: ['webapp'] } },
      target: { webapp: { dockerfile: 'Dockerfile', tags: ['docker.io/username/webapp:${TAG}'], 'no-cache': true, output: ['type=docker'] } },
    }),
  };
  const twin = hcl(`variable "TAG" {
  default = "latest"
}
group "default" {
  targets = ["webapp"]
}
target "webapp" {
  dockerfile = "Dockerfile"
  tags = ["docker.io/username/webapp:\${TAG}"]
  no-cache = true
  output = [{ type = "docker" }]
}`);
  const a = await print([json]);
  assert.deepEqual(a, await print([twin]));
  assert.deepEqual(a.target.webapp, { context: '.', dockerfile: 'Dockerfile', tags: ['docker.io/username/webapp:latest'], output: [{ type: 'docker' }], 'no-cache': true });
  assert.deepEqual((await print([json], [], { env: { TAG: 'v2' } })).target.webapp!.tags, ['docker.io/username/webapp:v2']);
});

test('--set overrides with patterns, maps, lists and bools', async () => {
  const src = `
target "a" {
  tags = ["a:1"]
  args = { X = "1" }
  platforms = ["linux/arm64"]
}
target "b" {
  inherits = ["a"]
  tags = ["b:1"]
}
target "other" {}
group "default" { targets = ["a", "b"] }`;
  const out = await print([hcl(src)], ['a', 'b', 'other'], {
    set: ['*.args.Y=2', 'a.tags=a:2', 'a.tags=a:3', 'b.tags+=b:2', '*.platform=linux/amd64', 'b.no-cache=true', 'oth*.dockerfile=Other.Dockerfile', 'a.output=type=docker,dest=out.tar', 'a.labels.team=x'],
  });
  assert.deepEqual(out.target.a, {
    context: '.',
    dockerfile: 'Dockerfile',
    args: { X: '1', Y: '2' },
    labels: { team: 'x' },
    tags: ['a:2', 'a:3'],
    platforms: ['linux/amd64'],
    output: [{ type: 'docker', dest: 'out.tar' }],
  });
  // b inherits a, and a's overrides reach it before b's own attributes and overrides
  assert.deepEqual(out.target.b!.tags, ['b:1', 'b:2']);
  assert.deepEqual(out.target.b!.labels, { team: 'x' });
  assert.equal(out.target.b!['no-cache'], true);
  assert.equal(out.target.other!.dockerfile, 'Other.Dockerfile');
  await assert.rejects(print([hcl(src)], ['a'], { set: ['zzz*.tags=x'] }), /could not find any target matching 'zzz\*'/);
  await assert.rejects(print([hcl(src)], ['a'], { set: ['default.tags=x'] }), /could not find any target matching 'default'/);
  await assert.rejects(print([hcl(src)], ['a'], { set: ['a.bogus=x'] }), /unknown key: bogus/);
  await assert.rejects(print([hcl(src)], ['a'], { set: ['a.no-cache=maybe'] }), /invalid value maybe for boolean key no-cache/);
});

test('errors name the file and line', async () => {
  const check = async (files: BakeFile[], targets: string[], re: RegExp, file: string, line: number) => {
    await assert.rejects(loadBake(files, { env: {}, targets: targets.length ? targets : ['default'] }), (e: unknown) => {
      assert.ok(e instanceof SourceError, `expected SourceError, got ${String(e)}`);
      assert.match(e.message, re);
      assert.equal(e.file, file);
      assert.equal(e.line, line);
      assert.equal(e.exitCode, 2);
      return true;
    });
  };
  await check([hcl('target "x" {\n  tags = [\n}\n', 'bad.hcl')], [], /bad\.hcl:3:1: /, 'bad.hcl', 3);
  await check([hcl('# c\ntarget "default" {\n  dockerfile-inline = "FROM ${BASE_IMAGE}"\n}\n')], [], /unknown variable "BASE_IMAGE"/, 'docker-bake.hcl', 3);
  await check([hcl('target "a" {\n  colour = "red"\n}\n')], ['a'], /unsupported attribute "colour"/, 'docker-bake.hcl', 2);
  await check([{ name: 'x.json', data: '{\n "target": {\n  "a": {,}\n }\n}' }], [], /malformed JSON/, 'x.json', 3);
  await check([hcl('targte "a" {}\n')], [], /unknown block type "targte"/, 'docker-bake.hcl', 1);
  await check([hcl('variable "V" {\n  default = "x"\n  validation {\n    condition = V == "y"\n    error_message = "V must be y"\n  }\n}\ntarget "a" {}\n')], ['a'], /validation failed: V must be y/, 'docker-bake.hcl', 4);
  await check([hcl('target "a" {}\n\ngroup "g" {\n  targets = ["a", "nope"]\n}\n')], ['g'], /group "g" names unknown target "nope"/, 'docker-bake.hcl', 3);
  await check([hcl('target "a" {\n  contexts = { base = "target:missing" }\n}\n')], ['a'], /target "a": context refers to unknown target "missing"/, 'docker-bake.hcl', 1);
  await check([hcl('target "a" {\n  inherits = ["b"]\n}\ntarget "b" {\n  inherits = ["c"]\n}\n')], ['a'], /target "b" inherits unknown target "c"/, 'docker-bake.hcl', 4);
  await check([hcl('target "a" {\n  contexts = { x = "target:b" }\n}\ntarget "b" {\n  contexts = { y = "target:a" }\n}\n')], ['a'], /infinite loop from b to a/, 'docker-bake.hcl', 4);
  await check([hcl('target "a" {\n  output = ["type=local"]\n}\n')], ['a'], /target "a": dest is required for local exporter/, 'docker-bake.hcl', 1);
  // a name asked for on the command line has no position, but is still a one-line input error
  const plain = async (src: string, targets: string[], re: RegExp) => assert.rejects(loadBake([hcl(src)], { env: {}, targets }), (e: unknown) => e instanceof InputError && re.test(e.message));
  await plain('target "a" {}', ['zz'], /unknown target or group "zz" \(defined: a\)/);
});

test('an inheritance cycle is broken where it closes, as buildx does', async () => {
  const out = await print([hcl('target "a" {\n  inherits = ["b"]\n  tags = ["a"]\n}\ntarget "b" {\n  inherits = ["a"]\n  args = { B = "1" }\n}\n')], ['a']);
  assert.deepEqual(out.target.a, { context: '.', dockerfile: 'Dockerfile', args: { B: '1' }, tags: ['a'] });
});

test('default bake files are found and merged in buildx order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bake-files-'));
  try {
    fs.writeFileSync(path.join(dir, 'docker-bake.hcl'), 'target "default" {\n  tags = ["from-hcl"]\n}\n');
    fs.writeFileSync(path.join(dir, 'docker-bake.override.hcl'), 'target "default" {\n  tags = ["from-override"]\n}\n');
    fs.writeFileSync(path.join(dir, 'docker-bake.json'), '{"target": {"default": {"tags": ["from-json"], "args": {"J": "1"}}}}');
    const files = await readBakeFiles([], dir);
    assert.deepEqual(files.map((f) => f.name), ['docker-bake.json', 'docker-bake.hcl', 'docker-bake.override.hcl']);
    const out = await print(files);
    assert.deepEqual(out.target.default, { context: '.', dockerfile: 'Dockerfile', args: { J: '1' }, tags: ['from-override'] });
    await assert.rejects(readBakeFiles([], path.join(dir, 'nothing-here')), /no bake file found/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
