/* eslint-disable no-control-regex -- the tests read terminal escape codes */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgress, progressPrinter } from '../../../src/cli/progress.js';
import { liveBuildView } from '../../../src/cli/progress-tty.js';
import { byteMeter } from '../../../src/solver/transfer.js';
import type { ProgressEvent } from '../../../src/solver/types.js';

/** A terminal that keeps what was written, and what is left on it once the cursor moves are applied. */
function fakeTerminal(columns = 80) {
  let raw = '';
  return {
    columns,
    write(s: string) {
      raw += s;
    },
    get raw() {
      return raw;
    },
    /** The lines as a person sees them: `ESC[nF ESC[J` moves up n lines and clears below. */
    screen(): string[] {
      const lines: string[] = [];
      for (const part of raw.split(/(\x1b\[\d+F\x1b\[J)/)) {
        const up = /\x1b\[(\d+)F/.exec(part);
        if (up) lines.splice(lines.length - Number(up[1]));
        else lines.push(...part.split('\n').slice(0, -1));
      }
      return lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    },
  };
}

test('the live view: running steps with their last line, finished ones collapsed, transfers with bytes', () => {
  const term = fakeTerminal();
  let t = 1000;
  const view = liveBuildView(term, 60_000, () => t);
  const ev = (e: ProgressEvent) => view.onEvent(e);
  ev({ kind: 'transfer', action: 'unpack', id: `sha256:${'ab'.repeat(32)}`, done: 3 << 20, total: 58 << 20, time: t });
  ev({ kind: 'step-start', stage: 'build', step: 1, total: 2, text: 'RUN make\n  all', time: t });
  ev({ kind: 'step-log', stage: 'build', step: 1, data: 'cc -c a.c\ncc -c b.c\nlinking \x1b[31mred\x1b[0m', time: t });
  t = 3500;
  view.onEvent({ kind: 'step-done', stage: 'build', step: 1, cached: false, time: t, durationMs: 2500 });
  ev({ kind: 'step-start', stage: 'build', step: 2, total: 2, text: 'COPY x /x', time: t });
  ev({ kind: 'step-done', stage: 'build', step: 2, cached: true, time: t, durationMs: 0 });
  ev({ kind: 'transfer', action: 'unpack', id: `sha256:${'ab'.repeat(32)}`, done: 58 << 20, total: 58 << 20, finished: true, time: 4000 });
  t = 4200;
  view.close();
  const screen = term.screen();
  assert.deepEqual(screen, [
    ' => [build 1/2] RUN make all 2.5s',
    ' => [build 2/2] COPY x /x CACHED',
    ' => unpack abababababab 58 MiB 3.0s',
    '[+] Building 3.2s (2/2) FINISHED',
  ]);
  assert.ok(!/\x1b\[(?!\d+F|J|[0-9;]*m)/.test(term.raw), 'no escape codes but the view\'s own');
});

test('the live view redraws in place: the running step, its clock and its latest output line', async () => {
  const term = fakeTerminal(60);
  let t = 0;
  const view = liveBuildView(term, 5, () => t);
  view.onEvent({ kind: 'step-start', stage: 'stage-0', step: 1, total: 1, text: 'RUN ./configure && make -j2 && make install DESTDIR=/opt/somewhere/long', time: 0 });
  view.onEvent({ kind: 'step-log', stage: 'stage-0', step: 1, data: 'checking for gcc... yes\r\nprogress 10%\rprogress 90%', time: 0 });
  t = 1500;
  await new Promise((r) => setTimeout(r, 30));
  const mid = term.screen();
  assert.equal(mid[0], '[+] Building 1.5s (0/1)');
  assert.equal(mid[1]!.length, 59, 'cut to the terminal width');
  assert.match(mid[1]!, /^ => \[stage-0 1\/1\] RUN \.\/configure && make .*… 1\.5s$/, 'the clock stays in view');
  assert.equal(mid[2], '    progress 90%', 'a carriage return replaces the line, as on a terminal');
  view.close(false);
  assert.deepEqual(term.screen().slice(-2), [' => [stage-0 1/1] RUN ./configure && make… (did not finish)', '[+] Building 1.5s (0/1) FAILED']);
});

test('a build that stops before its first step leaves no view behind', () => {
  const term = fakeTerminal();
  liveBuildView(term, 60_000).close(false);
  assert.equal(term.raw, '');
});

test('plain progress: a transfer is a line when it starts and one when it ends', () => {
  let out = '';
  const print = progressPrinter('plain', { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream);
  const meter = byteMeter(print, 'unpack', `sha256:${'cd'.repeat(32)}`, 10 << 20, 0);
  for (let i = 0; i < 10; i++) meter.add(1 << 20);
  meter.end();
  assert.equal(out, `#unpack sha256:cdcdcdcdcdcd (10 MiB)\n#unpack sha256:cdcdcdcdcdcd done, 10 MiB\n`);
});

test('a byte meter reports at most once per interval, and always at the end', () => {
  const seen: ProgressEvent[] = [];
  const meter = byteMeter((e) => seen.push(e), 'compress', 'RUN x', undefined, 60_000);
  for (let i = 0; i < 1000; i++) meter.add(10);
  meter.end();
  assert.equal(seen.length, 2);
  assert.deepEqual(seen.map((e) => e.kind === 'transfer' && [e.done, e.finished ?? false]), [[10, false], [10_000, true]]);
});

test('progress modes: rawjson is json, quiet prints nothing, auto off a terminal is plain', () => {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true), isTTY: false };
  const e: ProgressEvent = { kind: 'export', what: 'layers', time: 1 };
  buildProgress('rawjson', sink).onEvent(e);
  assert.deepEqual(JSON.parse(out), e);
  out = '';
  buildProgress('quiet', sink).onEvent(e);
  assert.equal(out, '');
  buildProgress('auto', sink).onEvent(e);
  assert.equal(out, '#export layers\n');
});
