/**
 * `stratum build` on a real terminal: the command runs inside tmux (a pseudo-terminal 120x40), and the screen is
 * read at a few moments while it works — the base unpacking with its byte counts, a RUN step with its clock and
 * its last output line, the time moving on, then the finished view and the summary.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureDebianBase } from '../../helpers/base.js';
import { REPO_ROOT } from '../../helpers/cli.js';
import { run } from '../../../src/util/exec.js';

const TSX = new URL(import.meta.resolve('tsx')).pathname;
const MAIN = path.join(REPO_ROOT, 'src/cli/main.ts');

const DOCKERFILE = `FROM localhost/debian:bookworm
RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "tick $i"; sleep 0.5; done
RUN echo done > /done
`;

describe('build shows a live view on a terminal', { timeout: 5 * 60_000 }, () => {
  let tmp: string;
  const socket = `stratum-test-${process.pid}`;
  const tmux = (...args: string[]) => run('tmux', ['-L', socket, ...args]);
  const screen = async () => (await tmux('capture-pane', '-p', '-t', 'build')).stdout;

  /** Reads the screen until `pred` holds (or fails with the last screen shown). */
  async function waitForScreen(what: string, pred: (s: string) => boolean, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await screen();
      if (pred(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the screen never showed ${what}; it showed:\n${last}`);
  }

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stratum-live-'));
    await ensureDebianBase(path.join(tmp, 'root')); // blobs only: the build unpacks the base, in view
    await mkdir(path.join(tmp, 'ctx'));
    await writeFile(path.join(tmp, 'ctx', 'Dockerfile'), DOCKERFILE);
  });
  after(async () => {
    await tmux('kill-server').catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  });

  it('unpacks, runs and finishes in view, then prints the summary', async () => {
    const cmd = `node --import ${TSX} ${MAIN} --root ${tmp}/root build ${tmp}/ctx -t localhost/live:1; echo "EXIT=$?"; sleep 600`;
    await tmux('new-session', '-d', '-s', 'build', '-x', '120', '-y', '40', '-e', 'TERM=xterm-256color', cmd);

    // The base layer (58 MiB of blob) is unpacked with its bytes shown against the total.
    const unpacking = await waitForScreen('the base unpacking', (s) => /=> unpack [0-9a-f]{12} [\d.]+ [KMG]?i?B \/ [\d.]+ MiB/.test(s));
    assert.match(unpacking, /\[\+\] Building \d+\.\ds/);

    // A running step: its label and clock, and below it the last line it printed.
    const running = await waitForScreen('a RUN step with its output', (s) => /=> \[stage-0 1\/2\] RUN for i in .* \d+\.\ds/.test(s) && /tick [3-9]/.test(s));
    const clock = (s: string) => Number(/=> \[stage-0 1\/2\] RUN .* (\d+\.\d)s/.exec(s)![1]);
    const tick = (s: string) => Number(/tick (\d+)/.exec(s)![1]);
    assert.equal(running.match(/tick \d+/g)!.length, 1, `only the last output line is shown:\n${running}`);
    // The view is redrawn in place: the clock moves and the output line is replaced by a newer one.
    const later = await waitForScreen('the step moving on', (s) => /tick (\d+)/.test(s) && tick(s) > tick(running) + 1 && /=> \[stage-0 1\/2\]/.test(s));
    assert.ok(clock(later) > clock(running), `the clock moved: ${clock(running)} -> ${clock(later)}`);
    assert.equal(later.match(/\[\+\] Building/g)!.length, 1, `one header, redrawn in place:\n${later}`);

    // Finished: each step collapsed to one line with its time, the final header, then the summary on stdout.
    const end = await waitForScreen('the end of the build', (s) => /EXIT=\d+/.test(s));
    assert.match(end, /EXIT=0/);
    assert.match(end, /=> unpack [0-9a-f]{12} 58 MiB \d+\.\ds/);
    assert.match(end, /=> \[stage-0 1\/2\] RUN for i in .* \d+\.\ds/);
    assert.match(end, /=> \[stage-0 2\/2\] RUN echo done > \/done \d+\.\ds/);
    assert.match(end, /\[\+\] Building \d+\.\ds \(2\/2\) FINISHED/);
    assert.doesNotMatch(end, /tick \d+/, 'finished steps are collapsed: their output is gone');
    assert.match(end, /image sha256:[0-9a-f]{64}\ntagged localhost\/live:1\nsteps 2 \(0 cached\)/);
    const finishedAt = end.indexOf('FINISHED');
    assert.ok(finishedAt < end.indexOf('image sha256:'), 'the summary comes after the view');
  });

  it('a failing step is left on screen, marked, then the error with its output', async () => {
    await writeFile(path.join(tmp, 'ctx', 'Dockerfile'), 'FROM localhost/debian:bookworm\nRUN echo "about to fail"; echo "the reason: no widget" >&2; exit 7\n');
    await tmux('kill-session', '-t', 'build');
    const cmd = `node --import ${TSX} ${MAIN} --root ${tmp}/root build ${tmp}/ctx; echo "EXIT=$?"; sleep 600`;
    await tmux('new-session', '-d', '-s', 'build', '-x', '120', '-y', '40', '-e', 'TERM=xterm-256color', cmd);
    const end = await waitForScreen('the failed build', (s) => /EXIT=\d+/.test(s));
    assert.match(end, /EXIT=1/);
    assert.match(end, /=> \[stage-0 1\/1\] RUN echo "about to fail".* \(did not finish\)\n\[\+\] Building \d+\.\ds \(0\/1\) FAILED\n/);
    // stdout and stderr reach the log through two pipes: their lines may come in either order.
    const error = /error: .*Dockerfile:2: RUN echo "about to fail".*\nprocess exited with code 7; last output:\n((?:.+\n){2})EXIT=1/.exec(end);
    assert.ok(error, `the error and the step's output follow the view:\n${end}`);
    assert.deepEqual(error[1]!.trimEnd().split('\n').sort(), ['about to fail', 'the reason: no widget']);
  });
});
