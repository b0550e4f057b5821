/**
 * The live view of one build on a terminal: a block redrawn in place, one line per running step (its elapsed time
 * and the last line it printed) and per running transfer (bytes done of total); finished steps scroll above it,
 * collapsed to one line.
 */
import type { ProgressEvent } from '../solver/types.js';
import { humanSize } from '../util/size.js';

export interface Screen {
  write(s: string): unknown;
  columns?: number;
}

export interface LiveView {
  onEvent(e: ProgressEvent): void;
  /** Draws the final state and stops redrawing; the terminal is left with the cursor below the view. */
  close(ok?: boolean): void;
}

interface Running {
  label: string;
  start: number;
  last: string;
  partial: string;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
// Output of a step may carry its own colours and cursor moves; inside our block they would break the redraw.
// eslint-disable-next-line no-control-regex
const plainText = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');

export function liveBuildView(out: Screen, intervalMs = 100, now: () => number = Date.now): LiveView {
  const started = now();
  const steps = new Map<string, Running>();
  const transfers = new Map<string, { action: string; id: string; done: number; total?: number; start: number }>();
  const above: string[] = [];
  let doneSteps = 0;
  let knownSteps = 0;
  const totals = new Map<string, number>();
  let drawn = 0;
  let closed = false;
  // A pseudo-terminal nobody sized reports 0 columns.
  const width = () => Math.max(40, (out.columns || 100) - 1);
  const cut = (s: string) => (s.length > width() ? s.slice(0, width() - 1) + '…' : s);
  // Cut first, colour after: a cut must not drop the code that ends the colour.
  const paint = (code: string, s: string) => `\x1b[${code}m${cut(s)}\x1b[0m`;
  // A line whose end (a clock, CACHED, a byte count) must stay in view: the text before it gives way.
  const fit = (text: string, end: string) => {
    const room = width() - end.length - 1;
    return `${text.length > room ? text.slice(0, Math.max(0, room - 1)) + '…' : text} ${end}`;
  };
  const short = (id: string) => (id.startsWith('sha256:') ? id.slice(7, 19) : id);

  const draw = () => {
    let s = drawn ? `\x1b[${drawn}F\x1b[J` : '';
    for (const l of above.splice(0)) s += l + '\n';
    const t = now();
    const lines = [`\x1b[1m[+] Building ${secs(t - started)} (${doneSteps}/${knownSteps})\x1b[0m`];
    for (const r of steps.values()) {
      lines.push(fit(` => ${r.label}`, secs(t - r.start)));
      if (r.last) lines.push(paint('2', `    ${r.last}`));
    }
    for (const x of transfers.values()) {
      const amount = x.total ? `${humanSize(x.done)} / ${humanSize(x.total)}` : humanSize(x.done);
      lines.push(fit(` => ${x.action} ${short(x.id)}`, `${amount} ${secs(t - x.start)}`));
    }
    if (closed) lines.shift();
    s += lines.map((l) => l + '\n').join('');
    drawn = lines.length;
    out.write(s);
  };
  const timer = setInterval(draw, intervalMs);
  timer.unref();

  const stepId = (stage: string, step: number) => `${stage}\0${step}`;
  return {
    onEvent(e) {
      switch (e.kind) {
        case 'step-start': {
          if (!totals.has(e.stage)) knownSteps += e.total;
          totals.set(e.stage, e.total);
          steps.set(stepId(e.stage, e.step), { label: `[${e.stage} ${e.step}/${e.total}] ${oneLine(plainText(e.text))}`, start: e.time, last: '', partial: '' });
          break;
        }
        case 'step-log': {
          const r = steps.get(stepId(e.stage, e.step));
          if (!r) break;
          const lines = plainText((r.partial + e.data).replace(/\r(?!\n)/g, '\n')).split('\n');
          r.partial = lines.pop() ?? '';
          const latest = r.partial.trim() || lines.filter((l) => l.trim()).pop();
          if (latest) r.last = latest.trim();
          break;
        }
        case 'step-done': {
          const id = stepId(e.stage, e.step);
          const r = steps.get(id);
          steps.delete(id);
          doneSteps++;
          if (r) above.push(paint('34', fit(` => ${r.label}`, e.cached ? 'CACHED' : secs(e.durationMs))));
          break;
        }
        case 'transfer': {
          const id = `${e.action}\0${e.id}`;
          const x = transfers.get(id);
          if (e.finished) {
            transfers.delete(id);
            const took = x ? ` ${secs(e.time - x.start)}` : '';
            above.push(paint('34', fit(` => ${e.action} ${short(e.id)}`, `${humanSize(e.done)}${took}`)));
          } else if (x) {
            x.done = e.done;
          } else {
            transfers.set(id, { action: e.action, id: e.id, done: e.done, total: e.total, start: e.time });
          }
          break;
        }
        case 'pull':
          above.push(cut(` => pull ${e.ref}`));
          break;
        case 'export':
          above.push(cut(` => export ${e.what}`));
          break;
        case 'push':
          above.push(cut(` => push ${e.ref}@${e.digest}: ${e.uploaded} uploaded, ${e.mounted} mounted, ${e.skipped} already there`));
          break;
        default:
          break;
      }
    },
    close(ok = true) {
      if (closed) return;
      clearInterval(timer);
      // Steps still running here are where the build stopped (their output is in the error that follows).
      for (const r of steps.values()) above.push(paint('31', fit(` => ${r.label}`, '(did not finish)')));
      steps.clear();
      transfers.clear();
      // A build that stopped before its first step (bad input) has nothing to sum up.
      if (knownSteps || drawn > 1) above.push(`\x1b[1m[+] Building ${secs(now() - started)} (${doneSteps}/${knownSteps}) ${ok ? 'FINISHED' : 'FAILED'}\x1b[0m`);
      closed = true;
      draw();
    },
  };
}
