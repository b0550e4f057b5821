/**
 * `stratum bake --builder buildkit://A,buildkit://B`: two buildkitd processes (runc worker, separate roots and
 * sockets) and a loopback registry. A five-target catalog with dependencies (one untagged, so it goes through
 * --builder-registry) is baked on the nodes and, the same file, by the local engine; both push, and every
 * tagged image is unpacked with umoci and compared file by file (timestamps aside).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { BUILDCTL, buildkitSkip, startBuildkitd, type Buildkitd } from '../../helpers/buildkit.js';
import { stratum } from '../../helpers/cli.js';
import { describeTree, diffTrees } from '../../helpers/tree.js';
import { freePort, selfSignedCert, startRegistry, type RegistryInstance } from '../registry/harness.js';
import { run } from '../../../src/util/exec.js';
import type { BakeRun } from '../../../src/bake/index.js';

// Mount points a runtime leaves behind (BuildKit and runc differ on whether the empty targets stay).
const RUNTIME_FILES = new Set(['etc/hosts', 'etc/resolv.conf', 'etc/hostname', 'proc', 'sys', 'dev']);

const BAKE = `
variable "REG" {}
variable "P" {}
target "files" {
  context = "ctx"
  dockerfile-inline = "FROM scratch\\nCOPY a.txt /files/a.txt\\nCOPY tree/ /files/tree/\\n"
  tags = ["\${REG}/\${P}/files:1"]
}
target "lib" {
  context = "ctx"
  contexts = { files = "target:files" }
  dockerfile-inline = "FROM scratch\\nCOPY --from=files /files/tree /lib/tree\\nCOPY --chmod=755 b.sh /lib/b.sh\\n"
}
target "tool" {
  context = "ctx"
  contexts = { files = "target:files" }
  dockerfile-inline = "FROM \${REG}/debian:bookworm\\nCOPY --from=files /files /opt/files\\nRUN mkdir -p /opt/out && cp /opt/files/a.txt /opt/out/b.txt && chmod 640 /opt/out/b.txt && echo built > /opt/out/run.txt\\n"
  tags = ["\${REG}/\${P}/tool:1"]
}
target "app" {
  context = "ctx"
  contexts = { lib = "target:lib", tool = "target:tool" }
  dockerfile-inline = "FROM scratch\\nCOPY --from=lib /lib /app/lib\\nCOPY --from=tool /opt/out /app/out\\nENV MODE=app\\n"
  tags = ["\${REG}/\${P}/app:1"]
}
target "final" {
  context = "ctx"
  contexts = { app = "target:app" }
  dockerfile-inline = "FROM app\\nCOPY c.txt /c.txt\\n"
  tags = ["\${REG}/\${P}/final:1"]
}
group "default" { targets = ["files", "tool", "app", "final"] }
`;
const TAGGED = ['files', 'tool', 'app', 'final'];

describe('bake --builder on two BuildKit nodes', { skip: buildkitSkip, timeout: 6 * 60_000 }, () => {
  let tmp: string;
  let reg: RegistryInstance | undefined;
  const nodes: Buildkitd[] = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stratum-bk-builder-'));
    const ctx = path.join(tmp, 'ctx');
    fs.mkdirSync(path.join(ctx, 'tree/sub'), { recursive: true });
    fs.writeFileSync(path.join(ctx, 'a.txt'), 'a\n', { mode: 0o600 });
    fs.writeFileSync(path.join(ctx, 'b.sh'), '#!/bin/sh\necho b\n');
    fs.writeFileSync(path.join(ctx, 'c.txt'), 'c\n');
    fs.writeFileSync(path.join(ctx, 'tree/one.txt'), 'one\n', { mode: 0o640 });
    fs.writeFileSync(path.join(ctx, 'tree/sub/two.txt'), 'two\n');
    fs.symlinkSync('one.txt', path.join(ctx, 'tree/link'));
    fs.writeFileSync(path.join(tmp, 'docker-bake.hcl'), BAKE);
    reg = await startRegistry();
    // BuildKit cannot reach Docker Hub here: the Debian base reaches the nodes through the test registry
    const store = path.join(tmp, 'store');
    await ensureDebianBase(store, `${reg.host}/debian:bookworm`);
    const pushed = await stratum(['push', `${reg.host}/debian:bookworm`, '--insecure-registry', reg.host], { root: store });
    assert.equal(pushed.code, 0, pushed.stderr);
    for (const n of ['a', 'b']) nodes.push(await startBuildkitd(path.join(tmp, `node-${n}`), { registries: [reg.host] }));
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    await reg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('builds the catalog over both nodes, pinned by digest, with the files of a local build', async () => {
    const host = reg!.host;
    const builder = nodes.map((n) => `buildkit://${n.addr}`).join(',');
    const meta = path.join(tmp, 'bk-meta.json');
    const bk = await stratum(
      ['bake', '--progress', 'plain', '--push', '--builder', builder, '--builder-registry', `${host}/intermediate`, '--insecure-registry', host, '--metadata-file', meta, '--var', `REG=${host}`, '--var', 'P=bk'],
      { root: path.join(tmp, 'bk-store'), cwd: tmp, env: { STRATUM_BUILDCTL: BUILDCTL } },
    );
    assert.equal(bk.code, 0, `bake --builder: ${bk.stderr.slice(-3000)}\n${bk.stdout.slice(-3000)}`);
    const local = await stratum(['bake', '--progress', 'plain', '--push', '--insecure-registry', host, '--var', `REG=${host}`, '--var', 'P=local'], { root: path.join(tmp, 'store'), cwd: tmp });
    assert.equal(local.code, 0, `local bake: ${local.stderr.slice(-3000)}`);

    // every target ran on a node its log names, and both nodes took some
    const runDir = path.join(tmp, 'bk-store', 'bake');
    const bakeRun = JSON.parse(fs.readFileSync(path.join(runDir, fs.readFileSync(path.join(runDir, 'last'), 'utf8').trim(), 'run.json'), 'utf8')) as BakeRun;
    assert.equal(bakeRun.targets.length, 5);
    const ranOn = new Map<string, string>();
    for (const t of bakeRun.targets) {
      assert.equal(t.status, 'done', t.name);
      const log = fs.readFileSync(t.logFile, 'utf8');
      const node = nodes.find((n) => log.includes(`building on BuildKit node ${n.addr}`));
      assert.ok(node, `${t.name}: its log names no node:\n${log}`);
      ranOn.set(t.name, node.addr);
      assert.ok(t.steps.length > 0, `${t.name}: steps recorded`);
    }
    assert.equal(new Set(ranOn.values()).size, 2, `both nodes build: ${JSON.stringify([...ranOn])}`);
    process.stdout.write(`BuildKit placement: ${[...ranOn].map(([t, addr]) => `${t} on node ${nodes.findIndex((n) => n.addr === addr) ? 'b' : 'a'}`).join(', ')}\n`);
    assert.match(bk.stderr, /building on BuildKit node unix:\/\//, "plain progress names the node");
    // the RUN step's output and the layers' history reached stratum
    const tool = bakeRun.targets.find((t) => t.name === 'tool')!;
    assert.ok(tool.steps.some((s) => s.text.startsWith('RUN ')), 'RUN step recorded');
    assert.ok(tool.result!.layers.some((l) => l.createdBy.includes('mkdir -p /opt/out')), 'layer history from the pushed config');

    // dependencies reached their dependents from the registry, pinned by digest
    const appLog = fs.readFileSync(bakeRun.targets.find((t) => t.name === 'app')!.logFile, 'utf8');
    assert.match(appLog, new RegExp(`context tool = docker-image://${host.replace(/\./g, '\\.')}/bk/tool@sha256:[0-9a-f]{64}`));
    assert.match(appLog, new RegExp(`context lib = docker-image://${host.replace(/\./g, '\\.')}/intermediate/bake-lib@sha256:[0-9a-f]{64}`));

    const metadata = JSON.parse(fs.readFileSync(meta, 'utf8')) as Record<string, Record<string, unknown>>;
    for (const name of TAGGED) {
      const m = metadata[name]!;
      const inspect = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/bk/${name}:1`]);
      assert.equal(`sha256:${createHash('sha256').update(inspect.stdout).digest('hex')}`, m['containerimage.digest'], `${name}: the registry serves the digest the metadata names`);
    }
    // the untagged dependency went to --builder-registry
    assert.match(String(metadata.lib!['image.name']), new RegExp(`^${host.replace(/\./g, '\\.')}/intermediate/bake-lib:`));

    for (const name of TAGGED) {
      const trees = [];
      for (const side of ['bk', 'local']) {
        const layout = path.join(tmp, `oci-${side}-${name}`);
        await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${host}/${side}/${name}:1`, `oci:${layout}:t`]);
        const dest = path.join(tmp, `root-${side}-${name}`);
        await run('umoci', ['raw', 'unpack', '--image', `${layout}:t`, dest]);
        trees.push(await describeTree(dest, (rel) => RUNTIME_FILES.has(rel)));
      }
      assert.deepEqual(diffTrees(trees[0]!, trees[1]!), [], `${name}: files (BuildKit first, local second)`);
    }
  });

  it('a second bake --push --builder of the unchanged catalog builds only the untagged dependency', async () => {
    const host = reg!.host;
    const builder = nodes.map((n) => `buildkit://${n.addr}`).join(',');
    const before = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/bk/final:1`]);
    const again = await stratum(['bake', '--progress', 'plain', '--push', '--builder', builder, '--builder-registry', `${host}/intermediate`, '--insecure-registry', host, '--var', `REG=${host}`, '--var', 'P=bk'], {
      root: path.join(tmp, 'bk-store'),
      cwd: tmp,
      env: { STRATUM_BUILDCTL: BUILDCTL },
    });
    assert.equal(again.code, 0, again.stderr.slice(-3000));
    const runDir = path.join(tmp, 'bk-store', 'bake');
    const second = JSON.parse(fs.readFileSync(path.join(runDir, fs.readFileSync(path.join(runDir, 'last'), 'utf8').trim(), 'run.json'), 'utf8')) as BakeRun;
    // BuildKit pushed each image with its input digest annotation, so the skip check finds them
    assert.deepEqual(Object.fromEntries(second.targets.map((t) => [t.name, t.status])), { files: 'up-to-date', lib: 'done', tool: 'up-to-date', app: 'up-to-date', final: 'up-to-date' });
    const after = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/bk/final:1`]);
    assert.equal(after.stdout, before.stdout, 'the manifest is unchanged');
  });

  it('stratum build --builder builds one Dockerfile on a node and pushes it; what it cannot carry is refused', async () => {
    const host = reg!.host;
    const df = path.join(tmp, 'Dockerfile.single');
    fs.writeFileSync(df, 'FROM scratch\nCOPY a.txt /a.txt\n');
    const meta = path.join(tmp, 'single-meta.json');
    const r = await stratum(['build', path.join(tmp, 'ctx'), '-f', df, '--builder', `buildkit://${nodes[1]!.addr}`, '-t', `${host}/bk/single:1`, '--push', '--insecure-registry', host, '--progress', 'plain', '--metadata-file', meta], {
      root: path.join(tmp, 'bk-store'),
      env: { STRATUM_BUILDCTL: BUILDCTL },
    });
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    assert.match(r.stderr, new RegExp(`building on BuildKit node ${nodes[1]!.addr}`));
    const digest = (JSON.parse(fs.readFileSync(meta, 'utf8')) as Record<string, string>)['containerimage.digest'];
    const inspect = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${host}/bk/single:1`]);
    assert.equal(`sha256:${createHash('sha256').update(inspect.stdout).digest('hex')}`, digest);
    assert.match(r.stdout, new RegExp(`pushed ${host.replace(/\./g, '\\.')}/bk/single:1@${digest}`));

    const refused = await stratum(['build', path.join(tmp, 'ctx'), '-f', df, '--builder', `buildkit://${nodes[0]!.addr}`, '-o', `type=oci,dest=${path.join(tmp, 'x.tar')}`], { root: path.join(tmp, 'bk-store'), env: { STRATUM_BUILDCTL: BUILDCTL } });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /output type=oci is not supported with --builder/);
  });

  it('reaches a tcp:// node over mutual TLS with --builder-tls-ca/cert/key', async () => {
    const host = reg!.host;
    const certs = (n: string) => {
      const d = path.join(tmp, `tls-${n}`);
      fs.mkdirSync(d);
      return selfSignedCert(d);
    };
    const tls = { port: await freePort(), server: await certs('server'), client: await certs('client') };
    const node = await startBuildkitd(path.join(tmp, 'node-tls'), { registries: [host], tls });
    nodes.push(node);
    const df = path.join(tmp, 'Dockerfile.tls');
    fs.writeFileSync(df, 'FROM scratch\nCOPY c.txt /c.txt\n');
    const args = ['build', path.join(tmp, 'ctx'), '-f', df, '--builder', `buildkit://${node.addr}`, '-t', `${host}/bk/tls:1`, '--push', '--insecure-registry', host, '--progress', 'plain'];
    const opts = { root: path.join(tmp, 'bk-store'), env: { STRATUM_BUILDCTL: BUILDCTL } };
    const r = await stratum([...args, '--builder-tls-ca', tls.server.cert, '--builder-tls-cert', tls.client.cert, '--builder-tls-key', tls.client.key], opts);
    assert.equal(r.code, 0, r.stderr.slice(-3000));
    assert.match(r.stdout, new RegExp(`pushed ${host.replace(/\./g, '\\.')}/bk/tls:1@sha256:`));
    // without the client certificate the node refuses the connection, and the error says which node
    const bare = await stratum([...args, '--builder-tls-ca', tls.server.cert], opts);
    assert.equal(bare.code, 1, bare.stderr);
    assert.match(bare.stderr, new RegExp(`BuildKit node ${node.addr}`));
  });
});
