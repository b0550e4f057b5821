/**
 * RUN, mounts and Dockerfile semantics as BuildKit has them (its frontend/dockerfile/*_test.go cases, written anew):
 * each case builds with the real engine and reads what the build wrote, or checks the one-line refusal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { stratum, type CliResult } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';
import { ContentStore, ImageStore } from '../../../src/store/index.js';

const BASE = 'localhost/debian:bookworm';

describe('RUN and Dockerfile fidelity with BuildKit', { timeout: 20 * 60_000, concurrency: false }, () => {
  let tmp: string;
  let root: string;
  let n = 0;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-fidelity-run-'));
    root = path.join(tmp, 'store');
    await ensureDebianBase(root);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  interface Built extends CliResult {
    ctx: string;
    out: string;
    read: (p: string) => Promise<string>;
    exists: (p: string) => Promise<boolean>;
    tag: string;
  }

  /** Builds `dockerfile` (with `files` in its context) into a local directory, tagged; returns what it wrote. */
  async function build(
    dockerfile: string,
    args: string[] = [],
    files: Record<string, string> = {},
    env?: NodeJS.ProcessEnv,
    setup?: (ctx: string) => Promise<void>,
  ): Promise<Built> {
    const ctx = path.join(tmp, `ctx${++n}`);
    const out = path.join(tmp, `out${n}`);
    await mkdir(ctx, { recursive: true });
    for (const [f, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(ctx, f)), { recursive: true });
      await writeFile(path.join(ctx, f), text);
    }
    await writeFile(path.join(ctx, 'Dockerfile'), dockerfile);
    await setup?.(ctx);
    const tag = `localhost/fidelity-run:${n}`;
    const r = await stratum(['build', ctx, '-t', tag, '--progress', 'plain', '-o', `type=local,dest=${out}`, ...args], { root, env });
    return {
      ...r,
      ctx,
      out,
      tag,
      read: (p) => readFile(path.join(out, p), 'utf8'),
      exists: async (p) => (await stat(path.join(out, p)).catch(() => undefined)) !== undefined,
    };
  }

  const ok = (r: CliResult) => assert.equal(r.code, 0, r.stderr.slice(-3000));
  /** A refusal: the exit code, and one line (the last on stderr) matching `re`. */
  const refused = (r: CliResult, code: number, re: RegExp) => {
    assert.equal(r.code, code, r.stderr.slice(-3000));
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    assert.match(last, re);
  };

  async function imageConfig(tag: string): Promise<{ config: { Env?: string[] }; history?: { created_by?: string }[] }> {
    const content = new ContentStore(root);
    const desc = await new ImageStore(content).resolve(tag);
    assert.ok(desc, `${tag} is stored`);
    const manifest = await content.readManifest(desc.digest);
    return (await content.readConfig(manifest.config.digest)) as unknown as { config: { Env?: string[] }; history?: { created_by?: string }[] };
  }

  describe('RUN --mount=type=secret', () => {
    let secretFile: string;
    before(async () => {
      secretFile = path.join(tmp, 'secret.txt');
      await writeFile(secretFile, 'pw');
    });

    it('gives the file the mode, uid and gid asked for, and leaves no stub behind', async () => {
      const b = await build(
        `FROM ${BASE}
RUN --mount=type=secret,required=false,mode=741,uid=100,gid=102,target=/mysecret stat -c "%u %g %f" /mysecret > /stat && cat /mysecret > /content
RUN [ ! -e /mysecret ] && echo gone > /gone
`,
        ['--secret', `id=mysecret,src=${secretFile}`],
      );
      ok(b);
      assert.equal(await b.read('stat'), '100 102 81e1\n');
      assert.equal(await b.read('content'), 'pw');
      assert.equal(await b.read('gone'), 'gone\n');
    });

    it('env= sets the variable and mounts no file; with a target it does both; nothing reaches the image', async () => {
      const b = await build(
        `FROM ${BASE}
RUN --mount=type=secret,id=mysecret,env=SECRET_ENV echo "$SECRET_ENV" > /env && { [ ! -e /run/secrets/mysecret ] && echo nofile > /nofile; }
RUN --mount=type=secret,id=mysecret,target=/run/secrets/secret,env=SECRET_ENV echo "$SECRET_ENV $(cat /run/secrets/secret)" > /both
RUN echo "[$SECRET_ENV]" > /after
`,
        ['--secret', `id=mysecret,src=${secretFile}`],
      );
      ok(b);
      assert.equal(await b.read('env'), 'pw\n');
      assert.equal(await b.read('nofile'), 'nofile\n');
      assert.equal(await b.read('both'), 'pw pw\n');
      assert.equal(await b.read('after'), '[]\n');
      const cfg = await imageConfig(b.tag);
      assert.ok(!(cfg.config.Env ?? []).some((e) => e.startsWith('SECRET_ENV')));
    });

    it('source= names the secret (as id= does)', async () => {
      const b = await build(`FROM ${BASE}\nRUN --mount=type=secret,source=mysecret,target=/s cat /s > /content\n`, ['--secret', `id=mysecret,src=${secretFile}`]);
      ok(b);
      assert.equal(await b.read('content'), 'pw');
    });

    it('an optional secret not given mounts nothing; a required one fails naming it', async () => {
      const b = await build(`FROM ${BASE}\nRUN --mount=type=secret,id=absent,env=ABSENT { [ ! -e /run/secrets/absent ] && [ -z "\${ABSENT+x}" ]; } && echo ok > /ok\n`);
      ok(b);
      assert.equal(await b.read('ok'), 'ok\n');
      const r = await build(`FROM ${BASE}\nRUN --mount=type=secret,required,id=mysecret true\n`);
      refused(r, 2, /Dockerfile:2: .*secret mysecret: not found/);
    });
  });

  describe('RUN --security and --network=host need entitlements', () => {
    it('--security=insecure is refused without --allow security.insecure', async () => {
      const r = await build(`FROM ${BASE}\nRUN --security=insecure true\n`);
      refused(r, 2, /Dockerfile:2: RUN --security=insecure: entitlement security\.insecure is not allowed/);
    });

    it('--security=insecure with the entitlement has every capability and may mount', async () => {
      const b = await build(
        `FROM ${BASE}
RUN --security=sandbox grep CapEff /proc/self/status > /sandbox
RUN --security=insecure grep CapEff /proc/self/status > /insecure && mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted > /mounted
`,
        ['--allow', 'security.insecure'],
      );
      ok(b);
      // Docker's default set, as BuildKit's sandbox.
      assert.equal((await b.read('sandbox')).trim(), 'CapEff:\t00000000a80425fb');
      const caps = BigInt('0x' + (await b.read('insecure')).trim().split('\t')[1]);
      assert.ok((caps & (1n << 21n)) !== 0n, 'CAP_SYS_ADMIN in the insecure step');
      assert.equal(await b.read('mounted'), 'mounted\n');
    });

    it('--network=host is refused without --allow network.host, and runs with it', async () => {
      const r = await build(`FROM ${BASE}\nRUN --network=host true\n`);
      refused(r, 2, /Dockerfile:2: RUN --network=host: entitlement network\.host is not allowed/);
      const b = await build(`FROM ${BASE}\nRUN --network=host echo ok > /ok\n`, ['--allow', 'network.host']);
      ok(b);
      assert.equal(await b.read('ok'), 'ok\n');
    });
  });

  it('predefined proxy args reach RUN without an ARG line and stay out of the image', async () => {
    const b = await build(
      `FROM ${BASE}
RUN env | grep -i _proxy | sort > /proxies
ARG NOT_PREDEFINED
RUN echo "[$NOT_PREDEFINED]" > /other
`,
      ['--build-arg', 'HTTP_PROXY=http://proxy.example:3128', '--build-arg', 'no_proxy=localhost', '--build-arg', 'ALL_PROXY=socks5://p:1080'],
    );
    ok(b);
    // Both cases of each, as BuildKit's proxy env sets them.
    assert.equal(
      await b.read('proxies'),
      'ALL_PROXY=socks5://p:1080\nHTTP_PROXY=http://proxy.example:3128\nNO_PROXY=localhost\nall_proxy=socks5://p:1080\nhttp_proxy=http://proxy.example:3128\nno_proxy=localhost\n',
    );
    assert.equal(await b.read('other'), '[]\n');
    const cfg = await imageConfig(b.tag);
    const text = JSON.stringify(cfg);
    assert.doesNotMatch(text, /proxy\.example|socks5/);
  });

  it('unquoted COPY heredocs handle \\<newline>, \\\\ and \\$ as BuildKit; quoted ones keep them', async () => {
    const doc = (name: string, quoted: boolean, body: string) => `COPY <<${quoted ? '"EOF"' : 'EOF'} ${name}\n${body}\nEOF\n`;
    const b = await build(
      'FROM scratch\n' +
        doc('quotefile', false, '"quotes in file"') +
        doc('slashfile1', false, '\\') +
        doc('slashfile2', false, '\\\\') +
        doc('slashfile3', false, '\\$') +
        doc('rawslashfile1', true, '\\') +
        doc('rawslashfile2', true, '\\\\') +
        doc('rawslashfile3', true, '\\$'),
    );
    ok(b);
    const want: Record<string, string> = {
      quotefile: '"quotes in file"\n',
      slashfile1: '\n',
      slashfile2: '\\\n',
      slashfile3: '$\n',
      rawslashfile1: '\\\n',
      rawslashfile2: '\\\\\n',
      rawslashfile3: '\\$\n',
    };
    for (const [f, text] of Object.entries(want)) assert.equal(await b.read(f), text, f);
  });

  it('WORKDIR works on an image without /etc/passwd', async () => {
    const b = await build('FROM scratch\nWORKDIR /app/sub\nCOPY <<EOF f\nx\nEOF\n');
    ok(b);
    assert.equal(await b.read('app/sub/f'), 'x\n');
    assert.equal((await stat(path.join(b.out, 'app/sub'))).isDirectory(), true);
  });

  it('a .dockerignore line that is only "!" is refused with its file:line', async () => {
    const r = await build('FROM scratch\nCOPY . /\n', [], { '.dockerignore': '# comment\n*.tmp\n!\n' });
    refused(r, 2, /\.dockerignore:3: illegal exclusion pattern: "!"$/);
  });

  it('ONBUILD COPY --from and RUN --mount from= a stage only the trigger names schedule that stage', async () => {
    const b = await build(`FROM ${BASE} AS src
RUN echo from-src > /hi
FROM ${BASE} AS trig
ONBUILD COPY --from=src /hi /hi
ONBUILD RUN --mount=from=src,target=/m cp /m/hi /hi2
FROM trig
RUN cat /hi /hi2 > /both
`);
    ok(b);
    assert.equal(await b.read('both'), 'from-src\nfrom-src\n');
  });

  describe('named build contexts', () => {
    it('one named as a stage replaces the whole stage', async () => {
      const b = await build(
        `FROM nothing.invalid/none:1 AS base
RUN exit 1
FROM base
RUN echo replaced > /r && test -f /etc/debian_version
`,
        ['--build-context', `base=docker-image://${BASE}`],
      );
      ok(b);
      assert.equal(await b.read('r'), 'replaced\n');
    });

    it('docker-image://scratch is the empty image', async () => {
      const b = await build('FROM empty\nCOPY <<EOF /f\nx\nEOF\n', ['--build-context', 'empty=docker-image://scratch']);
      ok(b);
      assert.equal(await b.read('f'), 'x\n');
      assert.equal(await b.exists('etc'), false);
    });

    it('a directory reads its own .dockerignore (not the main one), also when it replaces a stage', async () => {
      const extra = path.join(tmp, 'extra-ctx');
      await mkdir(extra, { recursive: true });
      await writeFile(path.join(extra, 'a.txt'), 'a\n');
      await writeFile(path.join(extra, 'b.secret'), 'b\n');
      await writeFile(path.join(extra, '.dockerignore'), '*.secret\n');
      const b = await build(
        `FROM ${BASE} AS extra
RUN exit 1
FROM ${BASE}
COPY --from=extra / /extra/
RUN --mount=from=extra,target=/m ls /m > /listing
`,
        ['--build-context', `extra=${extra}`],
        { '.dockerignore': 'a.txt\n' },
      );
      ok(b);
      assert.equal(await b.read('extra/a.txt'), 'a\n');
      assert.equal(await b.exists('extra/b.secret'), false);
      assert.doesNotMatch(await b.read('listing'), /b\.secret/);
      const r = await build(`FROM ${BASE} AS extra\nFROM extra\nRUN true\n`, ['--build-context', `extra=${extra}`]);
      refused(r, 2, /Dockerfile:2: FROM extra: build context "extra" is a local directory and cannot be used as a base image/);
    });
  });

  it('--platform darwin/ppc64le builds when only FROM --platform=$BUILDPLATFORM stages run; a RUN for it fails', async () => {
    const b = await build(
      `FROM --platform=$BUILDPLATFORM ${BASE} AS build
ARG TARGETPLATFORM
RUN echo "for $TARGETPLATFORM on $(uname -m)" > /out
FROM scratch
COPY --from=build /out /out
`,
      ['--platform', 'darwin/ppc64le'],
    );
    ok(b);
    assert.match(await b.read('out'), /^for darwin\/ppc64le on /);
    const cfg = (await imageConfig(b.tag)) as unknown as { os: string; architecture: string };
    assert.equal(`${cfg.os}/${cfg.architecture}`, 'darwin/ppc64le');
    const r = await build(`FROM ${BASE}\nRUN true\n`, ['--platform', 'darwin/ppc64le']);
    refused(r, 2, /Dockerfile:2: RUN cannot run for darwin\/ppc64le on this linux\/\w+ machine/);
  });

  it('RUN --mount=type=ssh forwards the agent: ssh-add -l inside RUN lists its key; mode, uid and gid apply', async () => {
    const agentDir = path.join(tmp, 'agent');
    await mkdir(agentDir);
    const sock = path.join(agentDir, 'sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !(await stat(sock).catch(() => undefined)); i++) await new Promise((r) => setTimeout(r, 50));
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fidelity-key', '-f', path.join(agentDir, 'key')]);
      await run('ssh-add', [path.join(agentDir, 'key')], { env: { ...process.env, SSH_AUTH_SOCK: sock } });
      // The host's ssh-add and the libraries it needs, so the RUN uses the real client.
      const sshBin = async (ctx: string) => {
        const dir = path.join(ctx, 'sshbin');
        await mkdir(dir);
        const ldd = (await run('ldd', ['/usr/bin/ssh-add'])).stdout;
        for (const lib of [...ldd.matchAll(/=> (\/\S+)/g)].map((m) => m[1] as string)) await copyFile(lib, path.join(dir, path.basename(lib)));
        await copyFile('/usr/bin/ssh-add', path.join(dir, 'ssh-add'));
      };
      const b = await build(
        `FROM ${BASE}
RUN --mount=type=bind,source=sshbin,target=/sshbin --mount=type=ssh LD_LIBRARY_PATH=/sshbin /sshbin/ssh-add -l > /keys && echo "$SSH_AUTH_SOCK" > /sock
RUN --mount=type=ssh,id=other,mode=741,uid=100,gid=102 stat -c "%u %g %f" "$SSH_AUTH_SOCK" > /stat
RUN --mount=type=ssh,id=missing [ ! -e /run/buildkit/ssh_agent.0 ] && echo none > /none
`,
        ['--ssh', 'default', '--ssh', `other=${sock}`],
        {},
        { SSH_AUTH_SOCK: sock },
        sshBin,
      );
      ok(b);
      assert.match(await b.read('keys'), /fidelity-key \(ED25519\)/);
      assert.equal(await b.read('sock'), '/run/buildkit/ssh_agent.0\n');
      assert.equal(await b.read('stat'), '100 102 c1e1\n');
      assert.equal(await b.read('none'), 'none\n');
      const r = await build(`FROM ${BASE}\nRUN --mount=type=ssh,required=true true\n`, [], {}, { SSH_AUTH_SOCK: '' });
      refused(r, 2, /Dockerfile:2: .*no SSH key "default" forwarded from the client/);
    } finally {
      agent.kill();
    }
  });
});
