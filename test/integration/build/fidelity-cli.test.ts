/** `stratum build` flags and outputs as `docker buildx build` has them: each builds and checks the real effect. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { REPO_ROOT, stratum } from '../../helpers/cli.js';
import { gitDaemon, makeRepo } from '../../helpers/git.js';
import { run } from '../../../src/util/exec.js';
import { startRegistry, type RegistryInstance } from '../registry/harness.js';

describe('build: buildx flags', { timeout: 15 * 60_000 }, () => {
  let tmp: string;
  let root: string;
  let reg: RegistryInstance;

  const ctxDir = async (name: string, files: Record<string, string>) => {
    const dir = path.join(tmp, name);
    await mkdir(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) await writeFile(path.join(dir, f), text);
    return dir;
  };

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-fidelity-cli-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root);
    reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('-o - writes a tar of the result to stdout; --metadata-file and --iidfile name the image; --annotation lands on the manifest', async () => {
    const ctx = await ctxDir('stdout', { 'Dockerfile': 'FROM scratch\nCOPY a.txt /dir/a.txt\n', 'a.txt': 'a\n' });
    const meta = path.join(tmp, 'meta.json');
    const iid = path.join(tmp, 'iid');
    const tarFile = path.join(tmp, 'out.tar');
    // The CLI's stdout is captured as text by the helper; a shell redirect keeps the bytes.
    const child = spawn('sh', ['-c', `node --import tsx src/cli/main.ts --root "$1" build "$2" -o - -t localhost/fid:1 --metadata-file "$3" --iidfile "$4" --annotation org.opencontainers.image.title=fid --annotation manifest:x=y --progress quiet > "$5"`, 'sh', root, ctx, meta, iid, tarFile], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, stderr);
    assert.deepEqual((await run('tar', ['-tf', tarFile])).stdout.trim().split('\n').filter((l) => !l.endsWith('/')), ['dir/a.txt']);
    const m = JSON.parse(await readFile(meta, 'utf8')) as Record<string, unknown>;
    const digest = stderr.trim().split('\n').at(-1)!;
    assert.equal(m['containerimage.digest'], digest);
    assert.equal(m['image.name'], 'localhost/fid:1');
    const desc = m['containerimage.descriptor'] as { digest: string; mediaType: string; size: number };
    assert.equal(desc.digest, digest);
    assert.equal(desc.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(await readFile(iid, 'utf8'), m['containerimage.config.digest']);
    const oci = path.join(tmp, 'ann-oci');
    const r = await stratum(['build', ctx, '-q', '--annotation', 'org.opencontainers.image.title=fid', '--annotation', 'manifest:x=y', '-o', `type=oci,dest=${oci},tar=false`], { root });
    assert.equal(r.code, 0, r.stderr);
    const manifest = JSON.parse((await run('skopeo', ['inspect', '--raw', `oci:${oci}`])).stdout) as { annotations?: Record<string, string>; config: { digest: string } };
    assert.deepEqual(manifest.annotations, { 'org.opencontainers.image.title': 'fid', x: 'y' });
    assert.equal(r.stdout.trim(), digest, 'the same image: annotations were part of it both times');
  });

  it('-f - reads the Dockerfile from stdin', async () => {
    const ctx = await ctxDir('stdin', { 'b.txt': 'b\n' });
    const local = path.join(tmp, 'stdin-out');
    const r = await stratum(['build', ctx, '-f', '-', '-q', '-o', local], { root, input: 'FROM scratch\nCOPY b.txt /b\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(path.join(local, 'b'), 'utf8'), 'b\n');
  });

  it('--add-host entries are in /etc/hosts for RUN; --secret env= and id alone reach RUN --mount=type=secret', async () => {
    const ctx = await ctxDir('run', {
      Dockerfile:
        'FROM localhost/debian:bookworm\n' +
        'RUN cp /etc/hosts /hosts\n' +
        'RUN --mount=type=secret,id=tok --mount=type=secret,id=FID_PLAIN --mount=type=secret,id=fromfile cat /run/secrets/tok /run/secrets/FID_PLAIN /run/secrets/fromfile > /secrets\n',
    });
    await writeFile(path.join(tmp, 'fromfile'), 'file-value\n');
    const local = path.join(tmp, 'run-out');
    const r = await stratum(
      ['build', ctx, '-q', '-o', local, '--add-host', 'db.internal:10.1.2.3', '--add-host', 'v6host=fd00::5', '--secret', 'id=tok,env=FID_TOKEN', '--secret', 'id=FID_PLAIN', '--secret', `id=fromfile,src=${path.join(tmp, 'fromfile')}`],
      { root, env: { FID_TOKEN: 'env-value\n', FID_PLAIN: 'plain-value\n' } },
    );
    assert.equal(r.code, 0, r.stderr);
    const hosts = await readFile(path.join(local, 'hosts'), 'utf8');
    assert.match(hosts, /^10\.1\.2\.3\tdb\.internal$/m);
    assert.match(hosts, /^fd00::5\tv6host$/m);
    assert.match(hosts, /localhost/, 'the usual entries stay');
    assert.equal(await readFile(path.join(local, 'secrets'), 'utf8'), 'env-value\nplain-value\nfile-value\n');
  });

  it('-o type=registry and type=image,push=true push; "name=a,b" lists several names; type=image,name= tags', async () => {
    const ctx = await ctxDir('push', { Dockerfile: 'FROM scratch\nCOPY c.txt /c.txt\n', 'c.txt': 'pushed\n' });
    const flags = ['--insecure-registry', reg.host, '-q'];
    const a = `${reg.host}/fid/a:1`;
    const b = `${reg.host}/fid/b:1`;
    const r1 = await stratum(['build', ctx, ...flags, '-o', `type=registry,"name=${a},${b}"`], { root });
    assert.equal(r1.code, 0, r1.stderr);
    const digest = r1.stdout.trim();
    for (const ref of [a, b]) {
      const info = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout) as { Digest: string };
      assert.equal(info.Digest, digest, ref);
    }
    const c = `${reg.host}/fid/c:1`;
    const r2 = await stratum(['build', ctx, ...flags, '-o', `type=image,name=${c},push=true`], { root });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal((JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${c}`])).stdout) as { Digest: string }).Digest, digest);
    // type=image without push: the name is a tag in the local store, usable as a FROM.
    const r3 = await stratum(['build', ctx, ...flags, '-o', 'type=image,name=localhost/fid-named:1'], { root });
    assert.equal(r3.code, 0, r3.stderr);
    const user = await ctxDir('push-user', { Dockerfile: 'FROM localhost/fid-named:1\n' });
    const named = path.join(tmp, 'named-out');
    const r4 = await stratum(['build', user, '-q', '--pull=never', '-o', named], { root });
    assert.equal(r4.code, 0, r4.stderr);
    assert.equal(await readFile(path.join(named, 'c.txt'), 'utf8'), 'pushed\n');
  });

  it('--pull pulls a FROM image again even when the store has it; without it the stored one is used', async () => {
    const producer = path.join(tmp, 'producer-store');
    const ref = `${reg.host}/fid/base:1`;
    const make = async (text: string) => {
      const ctx = await ctxDir(`base-${text}`, { Dockerfile: 'FROM scratch\nCOPY v.txt /v.txt\n', 'v.txt': `${text}\n` });
      const r = await stratum(['build', ctx, '-q', '--insecure-registry', reg.host, '-o', `type=registry,name=${ref}`], { root: producer });
      assert.equal(r.code, 0, r.stderr);
    };
    await make('one');
    const user = await ctxDir('pull-user', { Dockerfile: `FROM ${ref}\n` });
    const out = (n: string) => path.join(tmp, `pull-${n}`);
    const build = (n: string, extra: string[]) => stratum(['build', user, '-q', '--insecure-registry', reg.host, '-o', out(n), ...extra], { root });
    assert.equal((await build('1', [])).code, 0);
    assert.equal(await readFile(path.join(out('1'), 'v.txt'), 'utf8'), 'one\n');
    await make('two');
    const stale = await build('2', []);
    assert.equal(stale.code, 0, stale.stderr);
    assert.equal(await readFile(path.join(out('2'), 'v.txt'), 'utf8'), 'one\n', 'missing (the default) keeps the stored image');
    // buildx's form: --pull takes no value, so the context after it is still the context.
    const fresh = await stratum(['build', '-q', '--insecure-registry', reg.host, '-o', out('3'), '--pull', user], { root });
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(await readFile(path.join(out('3'), 'v.txt'), 'utf8'), 'two\n');
  });

  it('builds from a git context (URL#ref:subdir) and from an http tar.gz context', async () => {
    const src = await ctxDir('git-src/sub', { Dockerfile: 'FROM scratch\nCOPY g.txt /g.txt\n', 'g.txt': 'from git\n' });
    const repos = path.join(tmp, 'repos');
    await makeRepo(path.dirname(src), path.join(repos, 'ctx.git'), 'v1');
    const daemon = await gitDaemon(repos);
    try {
      const local = path.join(tmp, 'git-out');
      const r = await stratum(['build', `${daemon.url}/ctx.git#v1:sub`, '-q', '-o', local], { root });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await readFile(path.join(local, 'g.txt'), 'utf8'), 'from git\n');
    } finally {
      daemon.stop();
    }
    const tarDir = await ctxDir('tar-src', { Dockerfile: 'FROM scratch\nCOPY t.txt /t.txt\n', 't.txt': 'from tar\n' });
    const tgz = path.join(tmp, 'ctx.tar.gz');
    await run('tar', ['-czf', tgz, '-C', tarDir, '.']);
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/gzip' });
      createReadStream(tgz).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const local = path.join(tmp, 'tar-out');
      const r = await stratum(['build', `http://127.0.0.1:${port}/ctx.tar.gz`, '-q', '-o', local], { root });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await readFile(path.join(local, 't.txt'), 'utf8'), 'from tar\n');
    } finally {
      server.close();
    }
  });

  it('--no-cache-filter rebuilds the named stage only', async () => {
    const ctx = await ctxDir('ncf', { Dockerfile: 'FROM localhost/debian:bookworm AS a\nRUN echo a > /a\nFROM a AS b\nRUN echo b > /b\n' });
    assert.equal((await stratum(['build', ctx, '--progress', 'plain'], { root })).code, 0);
    const r = await stratum(['build', ctx, '--progress', 'plain', '--no-cache-filter', 'b'], { root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^steps 2 \(1 cached\)/m);
  });

  it('refuses what it cannot do with one line and exit 2', async () => {
    const ctx = await ctxDir('refuse', { Dockerfile: 'FROM scratch\n' });
    const cases: [string[], RegExp][] = [
      [['--platform', 'linux/amd64,linux/arm64'], /--platform linux\/amd64,linux\/arm64: one platform per build/],
      [['--annotation', 'index:a=b'], /--annotation index:a=b: only manifest annotations/],
      [['--allow', 'device'], /--allow device: expected one of/],
      [['--ssh', `default=${path.join(tmp, 'no.sock')}`], /--ssh default=.*does not exist/],
      [['--ssh', `k=${path.join(ctx, 'Dockerfile')}`], /is not an agent socket/],
      [['--add-host', 'db:host-gateway'], /--add-host db:host-gateway: host-gateway is not supported/],
      [['-o', 'type=local,dest=-'], /cannot go to stdout/],
      [['--pull=sometimes'], /--pull=sometimes: expected/],
      [['-o', '-', '-o', 'type=oci,dest=-'], /only one output can go to stdout/],
    ];
    for (const [args, msg] of cases) {
      const r = await stratum(['build', ctx, ...args], { root });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
