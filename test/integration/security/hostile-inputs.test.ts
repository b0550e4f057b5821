import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';
import { makeTar, writeLayout } from './helpers.js';

const BASE = 'localhost/debian:bookworm';

/** Inputs a Dockerfile author or an image maker controls, each turned against the engine. */
describe('hostile inputs', { timeout: 15 * 60_000 }, () => {
  let tmp: string;
  let root: string;

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'stratum-hostile-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root, BASE);
  });
  after(async () => {
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function context(name: string, dockerfile: string, files: Record<string, string | Buffer> = {}): Promise<string> {
    const dir = path.join(tmp, name);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
    for (const [f, c] of Object.entries(files)) {
      await fsp.mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await fsp.writeFile(path.join(dir, f), c);
    }
    return dir;
  }

  const build = (args: string[]) => stratum(['build', '--progress', 'quiet', ...args], { root });

  it('-o . writes into the project directory and keeps every file that was there', async () => {
    const project = await context('project', 'FROM scratch\nCOPY out.txt /out.txt\nCOPY sub/new.txt /sub/new.txt\n', {
      'out.txt': 'from the build\n',
      'sub/new.txt': 'new\n',
      'keep.me': 'the user\'s own file\n',
      'sub/mine.txt': 'also mine\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
    });
    const r = await stratum(['build', '--progress', 'quiet', '.', '-o', '.'], { root, cwd: project });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await fsp.readFile(path.join(project, 'keep.me'), 'utf8'), "the user's own file\n");
    assert.equal(await fsp.readFile(path.join(project, 'sub/mine.txt'), 'utf8'), 'also mine\n');
    assert.equal(await fsp.readFile(path.join(project, '.git/HEAD'), 'utf8'), 'ref: refs/heads/main\n');
    assert.equal(await fsp.readFile(path.join(project, 'sub/new.txt'), 'utf8'), 'new\n');
    // The same through type=local and an OCI directory: what was there stays.
    const dest = path.join(tmp, 'dest');
    await fsp.mkdir(dest);
    await fsp.writeFile(path.join(dest, 'precious'), 'x');
    assert.equal((await build([project, '-o', `type=local,dest=${dest}`])).code, 0);
    assert.equal((await build([project, '-o', `type=oci,dest=${dest},tar=false`])).code, 0);
    assert.equal(await fsp.readFile(path.join(dest, 'precious'), 'utf8'), 'x');
    assert.ok((await fsp.stat(path.join(dest, 'index.json'))).isFile());
    // A tar output never takes the place of a directory.
    const t = await build([project, '-o', `type=oci,dest=${dest},tar=true`]);
    assert.equal(t.code, 2, t.stderr);
    assert.match(t.stderr, /is a directory/);
    assert.equal(await fsp.readFile(path.join(dest, 'precious'), 'utf8'), 'x');
  });

  it('a symlink in the output directory is replaced, never followed out of it', async () => {
    const ctx = await context('symlink-out', 'FROM scratch\nCOPY f /victim/f\n', { f: 'payload\n' });
    const dest = path.join(tmp, 'symdest');
    const outside = path.join(tmp, 'outside');
    await fsp.mkdir(dest);
    await fsp.mkdir(outside);
    await fsp.symlink(outside, path.join(dest, 'victim'));
    assert.equal((await build([ctx, '-o', `type=local,dest=${dest}`])).code, 0);
    assert.deepEqual(await fsp.readdir(outside), []);
    assert.equal(await fsp.readFile(path.join(dest, 'victim/f'), 'utf8'), 'payload\n');
  });

  it('a bind mount of the context shows what .dockerignore lets through, as COPY does (the main and a named context)', async () => {
    const ctx = await context(
      'bind-ignore',
      [
        `FROM ${BASE}`,
        'RUN --mount=type=bind,target=/ctx ls -A /ctx > /listing && ! test -e /ctx/.env && cat /ctx/app.txt',
        'RUN --mount=type=bind,target=/named,from=extra ls -A /named > /named-listing',
        'RUN --mount=type=bind,source=.env,target=/x true',
        '',
      ].join('\n'),
      { '.env': 'SECRET=hunter2\n', '.dockerignore': '.env\nsecrets/\n', 'app.txt': 'app\n', 'secrets/key': 'k\n' },
    );
    const extra = await context('extra-ctx', '', { 'visible.txt': 'v\n', 'token': 't\n', '.dockerignore': 'token\nDockerfile\n' });
    const r = await build([ctx, '--build-context', `extra=${extra}`]);
    assert.equal(r.code, 2, 'source=.env names an ignored file');
    assert.match(r.stderr, /\.env.*not found in the build context/);
    const ok = await context('bind-ignore-ok', (await fsp.readFile(path.join(ctx, 'Dockerfile'), 'utf8')).replace(/^RUN --mount=type=bind,source=\.env.*\n/m, ''), {
      '.env': 'SECRET=hunter2\n',
      '.dockerignore': '.env\nsecrets/\n',
      'app.txt': 'app\n',
      'secrets/key': 'k\n',
    });
    const out = path.join(tmp, 'bind-out');
    const b = await build([ok, '--build-context', `extra=${extra}`, '-o', `type=local,dest=${out}`]);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual((await fsp.readFile(path.join(out, 'listing'), 'utf8')).trim().split('\n').sort(), ['.dockerignore', 'Dockerfile', 'app.txt']);
    assert.deepEqual((await fsp.readFile(path.join(out, 'named-listing'), 'utf8')).trim().split('\n').sort(), ['.dockerignore', 'visible.txt']);
  });

  it('ADD of an archive makes .wh. entries plain files; the image keeps /etc and nothing above the destination goes', async () => {
    const tar = makeTar([
      { path: '.wh.etc', content: 'plain\n' },
      { path: 'sub/', type: 'dir' },
      { path: 'sub/.wh..', content: '' },
      { path: 'sub/.wh..wh..opq', content: '' },
      { path: 'ok.txt', content: 'fine\n' },
    ]);
    const ctx = await context('wh', `FROM ${BASE}\nADD evil.tar /srv/app/\nRUN test -f /etc/passwd && test -f /srv/app/.wh.etc && test -f /srv/app/ok.txt\n`, { 'evil.tar': tar });
    const r = await build([ctx, '-t', 'localhost/wh:1']);
    // The files arrive, but an image layer cannot carry them: .wh. names mean deletions there.
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot put \/srv\/app\/.wh.etc in an image layer: names beginning with .wh. are reserved/);
    // In a stage that makes no layer, the files are there and /etc survived them.
    const unpack = await context(
      'wh-stage',
      `FROM ${BASE} AS unpack\nADD evil.tar /srv/app/\nRUN test -f /etc/passwd && ls -A /srv/app /srv/app/sub > /listing\nFROM scratch\nCOPY --from=unpack /listing /listing\n`,
      { 'evil.tar': tar },
    );
    const out = path.join(tmp, 'wh-out');
    const n = await build([unpack, '-o', `type=local,dest=${out}`]);
    assert.equal(n.code, 0, n.stderr);
    const listing = await fsp.readFile(path.join(out, 'listing'), 'utf8');
    for (const name of ['.wh.etc', 'ok.txt', '.wh..', '.wh..wh..opq']) assert.ok(listing.split('\n').includes(name), `${name} in ${listing}`);
  });

  it('a layer whose whiteout names its parent or a path outside is refused, naming the layer and entry', async () => {
    for (const [name, entry] of [
      ['dotdot', 'etc/.wh..'],
      ['dot', 'etc/.wh.'],
      ['climb', '../.wh.etc'],
    ] as const) {
      const layout = path.join(tmp, `wh-layer-${name}`);
      await writeLayout(layout, { layers: [makeTar([{ path: 'etc/', type: 'dir' }, { path: entry, content: '' }])] });
      const ctx = await context(`wh-layer-ctx-${name}`, 'FROM img\nLABEL a=b\n');
      const r = await build([ctx, '--build-context', `img=oci-layout://${layout}:latest`]);
      assert.equal(r.code, 2, `${entry}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`layer sha256:[0-9a-f]{64}: refusing entry "${entry.replace(/\./g, '\\.')}"`));
    }
  });

  it('unpacks PAX sparse archives (GNU 1.0 and 0.1) with their holes, refuses 0.0 and paths past PATH_MAX', async () => {
    const src = path.join(tmp, 'sparse-src');
    await fsp.mkdir(src);
    const file = path.join(src, 'holey');
    await fsp.writeFile(file, '');
    await fsp.truncate(file, 8 << 20);
    const fh = await fsp.open(file, 'r+');
    await fh.write(Buffer.from('middle'), 0, 6, 3 << 20);
    await fh.write(Buffer.from('end'), 0, 3, (8 << 20) - 3);
    await fh.close();
    const files: Record<string, Buffer> = {};
    for (const v of ['1.0', '0.1', '0.0']) {
      const out = path.join(tmp, `sparse-${v}.tar`);
      await run('tar', ['-S', `--sparse-version=${v}`, '--format=posix', '-C', src, '-cf', out, 'holey']);
      files[`s${v}.tar`] = await fsp.readFile(out);
    }
    const ctx = await context('sparse', `FROM ${BASE}\nADD s1.0.tar /one/\nADD s0.1.tar /zero-one/\n`, files);
    const out = path.join(tmp, 'sparse-out');
    const r = await build([ctx, '-o', `type=local,dest=${out}`]);
    assert.equal(r.code, 0, r.stderr);
    const want = await fsp.readFile(file);
    assert.ok((await fsp.readFile(path.join(out, 'one/holey'))).equals(want), 'format 1.0 unpacks to the same bytes');
    assert.ok((await fsp.readFile(path.join(out, 'zero-one/holey'))).equals(want), 'format 0.1 unpacks to the same bytes');
    assert.ok(!(await fsp.readdir(out)).some((n) => n.startsWith('GNUSparseFile')));

    const old = await context('sparse-old', `FROM ${BASE}\nADD s0.0.tar /zero/\n`, { 's0.0.tar': files['s0.0.tar']! });
    const o = await build([old]);
    assert.equal(o.code, 2, o.stderr);
    assert.match(o.stderr, /refusing entry ".*holey": it is a GNU sparse file in format 0\.0/);

    const long = makeTar([{ path: `${'d'.repeat(200)}/`.repeat(21) + 'f', content: 'x' }]);
    const l = await build([await context('pathmax', `FROM ${BASE}\nADD long.tar /x/\n`, { 'long.tar': long })]);
    assert.equal(l.code, 2, l.stderr);
    assert.match(l.stderr, /longer than the 4096 bytes a Linux path may have/);
    assert.equal(l.stderr.trim().split('\n').length, 1);
  });

  it('malformed image configs and manifests get one line each and exit 2', async () => {
    const layer = makeTar([{ path: 'f', content: 'x' }]);
    const cases: [string, Parameters<typeof writeLayout>[1], RegExp][] = [
      ['no-rootfs', { layers: [layer], rawConfig: { architecture: 'amd64', os: 'linux' } }, /image config sha256:[0-9a-f]+: rootfs is missing, not an object/],
      ['numeric-user', { layers: [layer], config: { config: { User: 0 } } }, /config\.User is number 0, not a string/],
      ['diffids-string', { layers: [layer], rawConfig: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: 'sha256:x' } } }, /rootfs\.diff_ids is string .*not a list/],
      ['layers-object', { layers: [layer], rawManifest: (m) => ({ ...m, layers: { a: 1 } }) }, /manifest sha256:[0-9a-f]+: layers is an object, not a list/],
      ['manifests-object', { layers: [layer], rawIndex: (i) => ({ ...i, manifests: { a: 1 } }) }, /index\.json/],
      ['too-few-diffids', { layers: [layer, layer], diffIDs: [] }, /has 2 layers but its config lists 0 diff_ids/],
    ];
    for (const [name, img, want] of cases) {
      const layout = path.join(tmp, `bad-${name}`);
      await writeLayout(layout, img);
      const ctx = await context(`bad-ctx-${name}`, 'FROM img\nLABEL a=b\n');
      const r = await build([ctx, '--build-context', `img=oci-layout://${layout}`]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, want, name);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line`);
    }
  });

  it('an unterminated quote in ENV, ARG or LABEL is file:line and exit 2, before anything runs', async () => {
    for (const [i, ins] of ['ENV A="unterminated', "ARG B='open", 'LABEL c="x'].entries()) {
      const ctx = await context(`quote-${i}`, `FROM ${BASE}\nRUN echo should-not-run\n${ins}\n`);
      const r = await build([ctx]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /Dockerfile:3:1: .*unexpected end of statement while looking for matching (double|single)-quote/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
  });
});
