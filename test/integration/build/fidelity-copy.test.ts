import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum } from '../../helpers/cli.js';
import { git, gitDaemon, makeRepo } from '../../helpers/git.js';
import { run } from '../../../src/util/exec.js';

// COPY and ADD as BuildKit does them, each case learned from BuildKit's frontend/dockerfile integration tests
// (dockerfile_copy_test.go, dockerfile_parents_test.go, exclude_patterns_test.go, dockerfile_add*_test.go) and
// checked the way they check it: the files, modes, owners and link targets of the built tree.

type Files = Record<string, string | { mode?: number; content?: string; link?: string; dir?: true }>;

let tmp: string;
let root: string;
let n = 0;

async function writeTree(dir: string, files: Files): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    if (typeof spec === 'string') await writeFile(p, spec);
    else if (spec.link !== undefined) await symlink(spec.link, p);
    else if (spec.dir) await mkdir(p, { recursive: true, mode: spec.mode });
    else await writeFile(p, spec.content ?? '', { mode: spec.mode });
    if (typeof spec !== 'string' && spec.mode !== undefined && spec.link === undefined) await run('chmod', [spec.mode.toString(8), p]);
  }
}

/** Builds `dockerfile` with a context holding `files`; the result tree is under `out`. */
async function build(dockerfile: string, files: Files = {}, args: string[] = [], setup?: (ctx: string) => Promise<void>) {
  const dir = path.join(tmp, `case-${++n}`);
  const ctx = path.join(dir, 'ctx');
  const out = path.join(dir, 'out');
  await mkdir(ctx, { recursive: true });
  await writeTree(ctx, files);
  await writeFile(path.join(ctx, 'Dockerfile'), dockerfile);
  if (setup) await setup(ctx);
  const r = await stratum(['build', ctx, '--progress', 'plain', '-o', `type=local,dest=${out}`, ...args], { root });
  return { ...r, out, ctx, read: (p: string) => readFile(path.join(out, p), 'utf8'), st: (p: string) => lstat(path.join(out, p)) };
}

async function built(dockerfile: string, files: Files = {}, args: string[] = [], setup?: (ctx: string) => Promise<void>) {
  const r = await build(dockerfile, files, args, setup);
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  return r;
}

const exists = (p: string) => lstat(p).then(() => true, () => false);
const mode = async (r: { st: (p: string) => Promise<import('node:fs').Stats> }, p: string) => ((await r.st(p)).mode & 0o7777).toString(8).padStart(4, '0');

describe('COPY and ADD as BuildKit does them', { timeout: 20 * 60_000 }, () => {
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-fidelity-copy-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('COPY/ADD --exclude leaves out what the patterns match inside each source (testExcludedFilesOnCopy)', async () => {
    const files: Files = {
      'dir1/file-101.png': '2', 'dir1/file-102.txt': '3', 'dir1/file-103.jpeg': '4',
      'dir2/file-201.pdf': '6', 'dir2/file-202.jpeg': '7', 'dir2/file-203.png': '8',
      'dir3/file-301.mp3': '9', 'dir3/file-302.mpeg': '10',
      'dir4/file-401.txt': '11', 'dir4/file-402.txt': { link: 'file-401.txt' },
    };
    const r = await built(`FROM scratch
COPY --exclude=*/*.png --exclude=*/*.jpeg --exclude=Dockerfile . /1
ADD --exclude=*.mp3 dir3/ /3/
COPY --exclude=*.mp3 --exclude=*.jpeg --exclude=*.png --exclude=*.pdf --exclude=*.txt dir* /4/
ADD --exclude=* dir* /6/
`, files);
    for (const p of ['1/dir1/file-101.png', '1/dir1/file-103.jpeg', '1/dir2/file-202.jpeg', '1/dir2/file-203.png', '1/Dockerfile', '3/file-301.mp3', '4/file-101.png', '4/file-401.txt', '4/file-402.txt']) {
      assert.equal(await exists(path.join(r.out, p)), false, `${p} is excluded`);
    }
    assert.equal(await r.read('1/dir1/file-102.txt'), '3');
    assert.equal(await r.read('1/dir3/file-302.mpeg'), '10');
    assert.equal(await readlink(path.join(r.out, '1/dir4/file-402.txt')), 'file-401.txt');
    assert.equal(await r.read('3/file-302.mpeg'), '10');
    assert.equal(await r.read('4/file-302.mpeg'), '10');
    assert.deepEqual(await readdir(path.join(r.out, '6')), []);
  });

  it('COPY --parents keeps the parent directories, from the ./ pivot when there is one (testCopyParents, testCopyRelativeParents)', async () => {
    const tree: Files = {
      'foo1/foo2/bar': 'testing', 'foo1/foo2/baz': 'testing2',
      'test/a/b/c/d/foo': '', 'test/a/b/c/d/e/bay': '', 'test/a/b2/c/d/e/bar': '', 'test/a/b/c2/d/e/baz': '', 'test/a/b/c2/d/e2/baz': '',
    };
    const r = await built(`FROM scratch AS base
COPY test /test

FROM scratch
COPY --parents foo1/foo2/bar /
COPY --parents foo1/foo2/ba* /t/
COPY --from=base --parents /test/a/b/./c/d /middle/
COPY --from=base --parents /test/a/b/c/d/. /end/
COPY --from=base --parents ./test/a/b/c/d /start/
COPY --from=base --parents /test/a/./b/./c /double/
COPY --from=base --parents /test/a/./*/c /wildcard/
COPY --from=base --parents /test/a/b*/./c/**/e /doublewildcard/
COPY --from=base --parents /test/a/b/c*/./d/**/baz /test/a/b*/./c/**/bar /doubleinputs/
`, { ...tree, 'foo1': { dir: true, mode: 0o700 }, 'foo1/foo2': { dir: true, mode: 0o700 } });
    assert.equal(await r.read('foo1/foo2/bar'), 'testing');
    assert.equal(await mode(r, 'foo1'), '0700', 'a parent takes its source directory\'s mode');
    assert.equal(await r.read('t/foo1/foo2/bar'), 'testing');
    assert.equal(await r.read('t/foo1/foo2/baz'), 'testing2');
    const isDir = async (p: string) => (await lstat(path.join(r.out, p)).catch(() => undefined))?.isDirectory() ?? false;
    const isFile = async (p: string) => (await lstat(path.join(r.out, p)).catch(() => undefined))?.isFile() ?? false;
    assert.ok(await isDir('middle/c/d/e'));
    assert.ok(await isFile('middle/c/d/foo'));
    assert.ok(!(await exists(path.join(r.out, 'middle/a'))) && !(await exists(path.join(r.out, 'middle/e'))));
    assert.ok(await isDir('end/test/a/b/c/d/e'));
    assert.ok(await isFile('end/test/a/b/c/d/foo'));
    assert.ok(await isFile('start/test/a/b/c/d/foo'));
    assert.ok(await isDir('double/b/c/d/e'));
    assert.ok(await isFile('double/b/c/d/foo'));
    assert.ok(await isDir('wildcard/b/c/d/e'));
    assert.ok(await isFile('wildcard/b2/c/d/e/bar'));
    assert.ok(await isFile('doublewildcard/c/d/e/bay'));
    assert.ok(await isFile('doublewildcard/c/d/e/bar'));
    assert.ok(await isFile('doubleinputs/d/e/baz'));
    assert.ok(!(await exists(path.join(r.out, 'doubleinputs/d/e/bay'))));
    assert.ok(await isFile('doubleinputs/d/e2/baz'));
    assert.ok(await isFile('doubleinputs/c/d/e/bar'));
  });

  it('COPY --parents of a missing path without wildcards fails, naming it', async () => {
    const r = await build('FROM scratch\nCOPY --parents nope/x /out/\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Dockerfile:2: COPY: "nope\/x" not found in the build context/);
  });

  describe('archives and URLs', () => {
    let server: Server;
    let base: string;
    let tarDir: string;
    before(async () => {
      tarDir = path.join(tmp, 'tars');
      await writeTree(path.join(tarDir, 'src'), { 'inner/packed.txt': 'packed\n', 'inner/run.sh': { content: '#!/bin/sh\n', mode: 0o755 } });
      await run('tar', ['-czf', path.join(tarDir, 'files.tgz'), '-C', path.join(tarDir, 'src'), 'inner']);
      server = createHttpServer((req, res) => {
        readFile(path.join(tarDir, 'files.tgz')).then((b) => res.end(b), () => res.writeHead(404).end());
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const addr = server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    after(() => server?.close());

    it('ADD --unpack=false copies a local archive as it is; ADD --unpack=true extracts a URL; a URL is not extracted by default', async () => {
      const r = await built(`FROM scratch
ADD files.tgz /default/
ADD --unpack=false files.tgz /kept/
ADD --unpack=true ${base}/files.tgz /fromurl/
ADD ${base}/files.tgz /urlkept/
ADD ${base}/ /unnamed/
`, {}, [], async (ctx) => run('cp', [path.join(tarDir, 'files.tgz'), path.join(ctx, 'files.tgz')]).then(() => undefined));
      assert.equal(await r.read('default/inner/packed.txt'), 'packed\n');
      assert.ok((await r.st('kept/files.tgz')).isFile());
      assert.ok(!(await exists(path.join(r.out, 'kept/inner'))));
      assert.equal(await r.read('fromurl/inner/packed.txt'), 'packed\n');
      assert.equal(await mode(r, 'fromurl/inner/run.sh'), '0755');
      assert.ok((await r.st('urlkept/files.tgz')).isFile());
      assert.equal(await mode(r, 'urlkept/files.tgz'), '0600');
      assert.equal(await mode(r, 'unnamed/__unnamed__'), '0600', 'a URL naming no file is __unnamed__ (testDockerfileADDFromURL)');
    });

    it('ADD --chown on a local archive gives every extracted entry the owner (testDockerfileAddChownArchive)', async () => {
      const r = await built('FROM scratch\nADD --chown=1234:5678 files.tgz /x/\n', {}, [], async (ctx) => run('cp', [path.join(tarDir, 'files.tgz'), path.join(ctx, 'files.tgz')]).then(() => undefined));
      for (const p of ['x', 'x/inner', 'x/inner/packed.txt', 'x/inner/run.sh']) {
        const st = await r.st(p);
        assert.deepEqual([st.uid, st.gid], [1234, 5678], p);
      }
      assert.equal(await mode(r, 'x/inner/run.sh'), '0755');
    });

    it('ADD of an archive keeps a symlink to ../x and writes through /var/run -> /run, inside the root', async () => {
      const src = path.join(tarDir, 'links');
      await writeTree(src, { 'lnk': { link: '../x' }, 'var/run/app.pid': '42\n' });
      await run('ln', [path.join(src, 'var/run/app.pid'), path.join(src, 'var/run/app.pid.link')]);
      await run('tar', ['-cf', path.join(tarDir, 'links.tar'), '-C', src, 'lnk', 'var/run/app.pid', 'var/run/app.pid.link']);
      const r = await built(`FROM scratch
COPY rootdir/ /
ADD links.tar /
`, { 'rootdir/run/.keep': '', 'rootdir/var/run': { link: '/run' } }, [], async (ctx) => run('cp', [path.join(tarDir, 'links.tar'), path.join(ctx, 'links.tar')]).then(() => undefined));
      assert.equal(await readlink(path.join(r.out, 'lnk')), '../x');
      assert.equal(await readlink(path.join(r.out, 'var/run')), '/run');
      assert.equal(await r.read('run/app.pid'), '42\n');
      assert.equal((await r.st('run/app.pid.link')).ino, (await r.st('run/app.pid')).ino, 'the hard link lands beside its target');
    });

    it('ADD unpacks each archive a wildcard matches, a v7 tar too, and copies a compressed file that holds no tar (testDockerfileAddArchiveWildcard)', async () => {
      const r = await built('FROM scratch\nADD *.tar /dest\nADD data.json.gz /\n', {}, [], async (ctx) => {
        await writeTree(path.join(tarDir, 'wild'), { foo: 'content0', bar: 'content1', 'data.json': '{}' });
        await run('tar', ['-cf', path.join(ctx, 't.tar'), '-C', path.join(tarDir, 'wild'), 'foo']);
        await run('tar', ['--format=v7', '-cf', path.join(ctx, 'b.tar'), '-C', path.join(tarDir, 'wild'), 'bar']);
        await run('gzip', ['-k', path.join(tarDir, 'wild/data.json')]);
        await run('cp', [path.join(tarDir, 'wild/data.json.gz'), ctx]);
      });
      assert.equal(await r.read('dest/foo'), 'content0');
      assert.equal(await r.read('dest/bar'), 'content1');
      assert.ok((await r.st('data.json.gz')).isFile());
    });
  });

  it('--chmod: symbolic modes apply to each file\'s own mode (testChmodNonOctal); octal modes and 0; created parents get an octal mode (testCopyChmod)', async () => {
    const r = await built(`FROM scratch AS base
COPY input/ /input/

FROM scratch
COPY --from=base --chmod=go-w /input/file /f1
COPY --from=base --chmod=u=rw,g=r,o=r /input/file /f2
COPY --from=base --chmod=a+X /input/file /f3
COPY --from=base --chmod=a+X /input/exe /f4
COPY --from=base --chmod=go-w /input/dirs/d1 /
COPY --from=base --chmod=u+rw,g+r,o-x,o+w /input/dirs/d2 /
COPY --from=base --chmod=a+X /input/dirs/d3 /
COPY --chmod=0644 foo /foo
COPY --chmod=777 bar /baz
COPY --chmod=0 foo /foobis
COPY --chmod=777 foo /parent/foo
COPY --chmod=770 foo /parent/sub/foo
COPY --chmod=u+x foo /symparent/foo
`, {
      'input/file': { content: '', mode: 0o666 },
      'input/exe': { content: '', mode: 0o744 },
      'input/dirs/d1/d1': { dir: true, mode: 0o124 },
      'input/dirs/d2/d2': { dir: true, mode: 0o124 },
      'input/dirs/d3/d3': { dir: true, mode: 0o124 },
      foo: { content: 'foo-contents', mode: 0o600 },
      bar: { content: 'bar-contents', mode: 0o700 },
    });
    const want: Record<string, string> = {
      f1: '0644', f2: '0644', f3: '0666', f4: '0755', d1: '0104', d2: '0766', d3: '0135',
      foo: '0644', baz: '0777', foobis: '0000', parent: '0777', 'parent/sub': '0770', 'parent/foo': '0777', symparent: '0755', 'symparent/foo': '0700',
    };
    for (const [p, m] of Object.entries(want)) assert.equal(await mode(r, p), m, p);
  });

  it('--chmod that is neither octal nor symbolic is refused with the line (testCopyInvalidChmod)', async () => {
    for (const bad of ['64a', '10000', 'u+q']) {
      const r = await build(`FROM scratch\nCOPY --chmod=${bad} foo /\n`, { foo: 'x' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`Dockerfile:2: COPY: invalid chmod parameter: '${bad.replace('+', '\\+')}'`));
    }
  });

  it('a symlink source is followed and lands under its own name (testCopySymlinks, testCopyFollowAllSymlinks)', async () => {
    const r = await built(`FROM scratch
COPY foo /
COPY sub/l* alllinks/
COPY dir/sub bar
`, {
      bar: 'bar-contents', foo: { link: 'bar' },
      'sub/lfile': 'lfile-contents', 'sub/l0': { link: 'subfile' }, 'sub/subfile': 'subfile-contents',
      'sub/l1': { link: 'second' }, 'sub/second': { link: 'baz' }, 'sub/baz': 'baz-contents',
      'dir/sub': { link: '../bar' },
    });
    assert.ok((await r.st('foo')).isFile());
    assert.equal(await r.read('foo'), 'bar-contents');
    assert.equal(await r.read('alllinks/l0'), 'subfile-contents');
    assert.equal(await r.read('alllinks/lfile'), 'lfile-contents');
    assert.equal(await r.read('alllinks/l1'), 'baz-contents');
    assert.equal(await r.read('bar'), 'bar-contents');
  });

  it('a socket in the context becomes an empty regular file (testCopySocket); a FIFO stays one', async () => {
    const sock = createNetServer();
    try {
      const r = await built('FROM scratch\nCOPY . /\n', {}, [], async (ctx) => {
        await new Promise<void>((resolve) => sock.listen(path.join(ctx, 'socket.sock'), resolve));
        await run('mkfifo', ['-m', '0640', path.join(ctx, 'fifo')]);
      });
      const st = await r.st('socket.sock');
      assert.ok(st.isFile());
      assert.equal(st.size, 0);
      // a FIFO is made again, as BuildKit's context transfer and copy do
      const fifo = await r.st('fifo');
      assert.ok(fifo.isFIFO());
      assert.equal(fifo.mode & 0o7777, 0o640);
    } finally {
      sock.close();
    }
  });

  it('an empty destination is the working directory (testCopyLinkEmptyDestDir, testEmptyDestDir)', async () => {
    const r = await built(`FROM localhost/debian:bookworm
WORKDIR /var/www
ENV empty=""
COPY --link testfile $empty
COPY other $empty
`, { testfile: 'contents0', other: 'contents1' });
    assert.equal(await r.read('var/www/testfile'), 'contents0');
    assert.equal(await r.read('var/www/other'), 'contents1');
  });

  it('owners: kept from a stage, --chown on what the copy makes, an existing target left alone; sources through symlinks (testCopyChownExistingDir, testCopyThroughSymlink*)', async () => {
    const r = await built(`FROM localhost/debian:bookworm AS source
RUN touch /file && chown 100:200 /file && mkdir -p /dir/subdir && touch /dir/subdir/nestedfile \\
 && chown 100:200 /dir && chown 101:201 /dir/subdir && chown 102:202 /dir/subdir/nestedfile \\
 && mkdir -p /out/sub && ln -s /out/sub /sub && ln -s out/sub /sub2 && printf data > /sub/foo

FROM scratch AS base
COPY --from=source --chown=500:600 /out/sub/ /existingdir/
COPY --from=source /out/sub/foo /existingdir/existingfile

FROM base AS plain
COPY --from=source /file .
COPY --from=source /dir /dir
COPY --from=source /dir/. /existingdir
COPY --from=source /sub/foo /through/
COPY --from=source /sub2/foo /through/bar

FROM base
COPY --from=source --chown=300:400 /file .
COPY --from=source --chown=300:400 /dir /dir
COPY --from=source --chown=300:400 /dir/. /existingdir
COPY --from=plain / /plain/
`);
    const owner = async (p: string) => {
      const st = await r.st(p);
      return `${st.uid}:${st.gid}`;
    };
    const want: Record<string, string> = {
      'plain/file': '100:200', 'plain/dir': '0:0', 'plain/dir/subdir': '101:201', 'plain/dir/subdir/nestedfile': '102:202',
      'plain/existingdir': '500:600', 'plain/existingdir/foo': '500:600', 'plain/existingdir/existingfile': '0:0', 'plain/existingdir/subdir': '101:201', 'plain/existingdir/subdir/nestedfile': '102:202',
      file: '300:400', dir: '300:400', 'dir/subdir': '300:400', 'dir/subdir/nestedfile': '300:400',
      existingdir: '500:600', 'existingdir/subdir': '300:400', 'existingdir/subdir/nestedfile': '300:400',
    };
    for (const [p, o] of Object.entries(want)) assert.equal(await owner(p), o, p);
    assert.equal(await r.read('plain/through/foo'), 'data');
    assert.equal(await r.read('plain/through/bar'), 'data');
  });

  it('wildcards and directory sources land as in BuildKit (testCopyWildcards)', async () => {
    const r = await built(`FROM scratch
COPY *.go /gofiles/
COPY f*.go foo2.go
COPY sub/* /subdest/
COPY sub/*/dir2/foo /subdest2/
COPY sub/*/dir2/foo /subdest3/bar
COPY . all/
COPY sub/dir1/ subdest4
COPY sub/dir1/. subdest5
COPY sub/dir1 subdest6
`, { 'foo.go': 'foo-contents', 'bar.go': 'bar-contents', 'sub/dir1/dir2/foo': 'foo-contents' });
    const want: Record<string, string> = {
      'gofiles/foo.go': 'foo-contents', 'gofiles/bar.go': 'bar-contents', 'foo2.go': 'foo-contents', 'subdest/dir2/foo': 'foo-contents',
      'subdest2/foo': 'foo-contents', 'subdest3/bar': 'foo-contents', 'all/foo.go': 'foo-contents',
      'subdest4/dir2/foo': 'foo-contents', 'subdest5/dir2/foo': 'foo-contents', 'subdest6/dir2/foo': 'foo-contents',
    };
    for (const [p, c] of Object.entries(want)) assert.equal(await r.read(p), c, p);
  });

  it('a wildcard that matches nothing adds nothing and is no error (testEmptyWildcard)', async () => {
    const r = await built('FROM scratch\nCOPY foo nomatch* /\nCOPY package.json yarn.lock* /app/\nCOPY nothing* /none/\n', { foo: 'contents0', 'package.json': '{}' });
    assert.equal(await r.read('foo'), 'contents0');
    assert.deepEqual(await readdir(path.join(r.out, 'app')), ['package.json']);
    assert.ok(!(await exists(path.join(r.out, 'none'))));
  });

  describe('git sources', () => {
    let daemon: Awaited<ReturnType<typeof gitDaemon>>;
    let commit: string;
    let tagObject: string;
    before(async () => {
      const repos = path.join(tmp, 'repos');
      await mkdir(repos);
      await writeTree(path.join(tmp, 'subsrc'), { 's.txt': 'from the submodule\n' });
      await makeRepo(path.join(tmp, 'subsrc'), path.join(repos, 'sub.git'));
      daemon = await gitDaemon(repos);
      const work = path.join(tmp, 'mainwork');
      await writeTree(work, { 'top.txt': 'top\n', 'docs/guide.md': 'guide\n', 'ctxdir/Dockerfile': 'FROM scratch\nCOPY . /ctx/\n', 'ctxdir/hello.txt': 'hello\n' });
      await git(['init', '-q', '-b', 'main', work]);
      await git(['-C', work, 'submodule', '-q', 'add', `${daemon.url}/sub.git`, 'mod']);
      await git(['-C', work, 'add', '-A']);
      await git(['-C', work, '-c', 'commit.gpgSign=false', 'commit', '-q', '-m', 'main']);
      await git(['-C', work, '-c', 'tag.gpgSign=false', 'tag', '-a', '-m', 'v1', 'v1']);
      await git(['clone', '-q', '--bare', work, path.join(repos, 'main.git')]);
      commit = (await git(['-C', work, 'rev-parse', 'HEAD'])).stdout.trim();
      tagObject = (await git(['-C', work, 'rev-parse', 'v1'])).stdout.trim();
    });
    after(() => daemon?.stop());

    it('checks submodules out, and reads ?ref= ?tag= ?branch= ?subdir= ?submodules=false', async () => {
      const u = `${daemon.url}/main.git`;
      const r = await built(`FROM scratch
ADD ${u}#main /full/
ADD ${u}?ref=v1&subdir=docs /docs/
ADD ${u}?tag=v1 /tag/
ADD ${u}?branch=main&submodules=false /nosub/
ADD ${u}?commit=${commit.slice(0, 12)} /pinned/
`);
      assert.equal(await r.read('full/top.txt'), 'top\n');
      assert.equal(await r.read('full/mod/s.txt'), 'from the submodule\n');
      assert.ok(!(await exists(path.join(r.out, 'full/.git'))) && !(await exists(path.join(r.out, 'full/mod/.git'))));
      assert.deepEqual(await readdir(path.join(r.out, 'docs')), ['guide.md']);
      assert.equal(await r.read('tag/mod/s.txt'), 'from the submodule\n');
      assert.deepEqual(await readdir(path.join(r.out, 'nosub/mod')), []);
      assert.equal(await r.read('pinned/top.txt'), 'top\n');
    });

    it('names a commit only as the remote does: no short id as a ref, no tag as a branch (testGitQueryString)', async () => {
      const u = `${daemon.url}/main.git`;
      for (const src of [`${u}?ref=${commit.slice(0, 8)}`, `${u}#${commit.slice(0, 8)}`, `${u}?branch=v1`, `${u}?tag=v1&commit=${'1'.repeat(40)}`]) {
        const r = await build(`FROM scratch\nADD ${src} /x/\n`);
        assert.notEqual(r.code, 0, src);
        assert.match(r.stderr, /the repository does not contain it|expected checksum to match/, src);
      }
      const ok = await built(`FROM scratch\nADD ${u}?ref=${commit} /x/\nADD ${u}?tag=v1#refs/tags/v1 /y/\n`);
      assert.equal(await ok.read('x/top.txt'), 'top\n');
      assert.equal(await ok.read('y/top.txt'), 'top\n');
    });

    it('a git build context takes the query form too', async () => {
      const out = path.join(tmp, 'git-context-out');
      const r = await stratum(['build', `${daemon.url}/main.git?branch=main&subdir=ctxdir`, '--progress', 'plain', '-o', `type=local,dest=${out}`], { root });
      assert.equal(r.code, 0, r.stderr.slice(-3000));
      assert.equal(await readFile(path.join(out, 'ctx/hello.txt'), 'utf8'), 'hello\n');
    });

    it('ADD --checksum on a git source verifies the commit (or annotated tag) it names', async () => {
      const u = `${daemon.url}/main.git`;
      const ok = await built(`FROM scratch\nADD --checksum=${commit} ${u}#v1 /a/\nADD --checksum=${tagObject.slice(0, 10)} ${u}#v1 /b/\n`);
      assert.equal(await ok.read('a/top.txt'), 'top\n');
      const bad = await build(`FROM scratch\nADD --checksum=${'0'.repeat(40)} ${u}#v1 /a/\n`);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, new RegExp(`expected checksum to match 0{40}, got ${commit}`));
      const mismatch = await build(`FROM scratch\nADD --checksum=abc ${u}?checksum=def /a/\n`);
      assert.equal(mismatch.code, 2, mismatch.stderr);
      assert.match(mismatch.stderr, /Dockerfile:2: ADD: checksum mismatch "abc" != "def"/);
    });
  });
});
