/** Progress views for a bake run: live (TTY), plain timestamped lines (CI), JSON lines (machines). */
import type { BakeEvent } from './schedule.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'rawjson' | 'quiet';

export interface ProgressView {
  onEvent(e: BakeEvent): void;
  /** Stops timers and leaves the terminal clean. */
  close(): void;
}

interface Out {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function createProgress(mode: ProgressMode, out: Out = process.stderr): ProgressView {
  const m = mode === 'auto' ? (out.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain') : mode;
  if (m === 'json' || m === 'rawjson') return jsonProgress(out);
  if (m === 'tty') return ttyProgress(out);
  if (m === 'quiet') return { onEvent: () => undefined, close: () => undefined };
  return plainProgress(out);
}

function clock(t: number): string {
  const d = new Date(t);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

export function jsonProgress(out: Out): ProgressView {
  return {
    onEvent(e) {
      const { kind, time, ...rest } = e;
      out.write(JSON.stringify({ time: new Date(time).toISOString(), kind, ...rest }) + '\n');
    },
    close: () => undefined,
  };
}

/** One line per event, `HH:MM:SS.mmm [target] …`, so interleaved parallel builds stay readable. */
export function plainProgress(out: Out): ProgressView {
  const starts = new Map<string, number>();
  const partial = new Map<string, string>();
  const line = (time: number, target: string, text: string) => out.write(`${clock(time)} [${target}] ${text}\n`);
  return {
    onEvent(e) {
      switch (e.kind) {
        case 'run-start':
          out.write(`${clock(e.time)} bake ${e.runId}: ${e.targets.length} target(s), up to ${e.jobs} at a time\n`);
          break;
        case 'target-start':
          starts.set(e.target, e.time);
          line(e.time, e.target, 'start');
          break;
        case 'progress': {
          const p = e.event;
          if (p.kind === 'step-start') line(e.time, e.target, `#${p.step}/${p.total} ${p.stage ? `${p.stage}: ` : ''}${p.text}`);
          else if (p.kind === 'step-done') line(e.time, e.target, `#${p.step} ${p.cached ? 'CACHED' : `done ${secs(p.durationMs)}`}`);
          else if (p.kind === 'export') line(e.time, e.target, `export ${p.what}`);
          else if (p.kind === 'push') line(e.time, e.target, `push ${p.ref}@${p.digest} (${p.uploaded} uploaded, ${p.mounted} mounted, ${p.skipped} already there)`);
          else if (p.kind === 'step-log') {
            const buf = (partial.get(e.target) ?? '') + p.data;
            const lines = buf.split('\n');
            partial.set(e.target, lines.pop()!);
            for (const l of lines) line(e.time, e.target, `#${p.step} ${l.replace(/\r/g, '')}`);
          }
          break;
        }
        case 'target-done': {
          const rest = partial.get(e.target);
          if (rest) line(e.time, e.target, rest);
          partial.delete(e.target);
          const took = starts.has(e.target) ? ` in ${secs(e.time - starts.get(e.target)!)}` : '';
          if (e.status === 'done') line(e.time, e.target, `done${took} ${e.result?.manifestDigest ?? ''}`.trimEnd());
          else if (e.status === 'failed') line(e.time, e.target, `FAILED${took}: ${e.error ?? ''}`);
          else line(e.time, e.target, `skipped: ${e.reason ?? ''}`);
          break;
        }
        case 'run-done':
          out.write(`${clock(e.time)} bake ${e.ok ? 'finished' : 'FAILED'}\n`);
          break;
      }
    },
    close: () => undefined,
  };
}

/** A redrawn block of one line per running target; finished targets scroll above it. */
export function ttyProgress(out: Out, intervalMs = 120): ProgressView {
  const running = new Map<string, { start: number; step: string }>();
  let total = 0;
  let finished = 0;
  let drawn = 0;
  let dirty = false;
  const permanent: string[] = [];
  const width = () => Math.max(40, (out.columns ?? 100) - 1);
  const cut = (s: string) => (s.length > width() ? s.slice(0, width() - 1) + '…' : s);
  const draw = () => {
    if (!dirty) return;
    dirty = false;
    let s = drawn ? `\x1b[${drawn}F\x1b[J` : '';
    for (const p of permanent.splice(0)) s += p + '\n';
    const now = Date.now();
    const lines = [`\x1b[1m[+] bake ${finished}/${total}\x1b[0m`];
    for (const [t, r] of running) lines.push(cut(`  \x1b[36m${t}\x1b[0m ${secs(now - r.start).padStart(6)}  ${r.step}`));
    s += lines.join('\n') + '\n';
    drawn = lines.length;
    out.write(s);
  };
  const timer = setInterval(() => {
    dirty = true;
    draw();
  }, intervalMs);
  timer.unref();
  return {
    onEvent(e) {
      switch (e.kind) {
        case 'run-start':
          total = e.targets.length;
          break;
        case 'target-start':
          running.set(e.target, { start: e.time, step: 'starting' });
          break;
        case 'progress': {
          const r = running.get(e.target);
          const p = e.event;
          if (r && p.kind === 'step-start') r.step = `#${p.step}/${p.total} ${p.text.replace(/\s+/g, ' ')}`;
          else if (r && p.kind === 'export') r.step = `export ${p.what}`;
          else if (r && p.kind === 'push') r.step = `pushed ${p.ref}`;
          break;
        }
        case 'target-done': {
          const r = running.get(e.target);
          running.delete(e.target);
          finished++;
          const took = r ? ` ${secs(e.time - r.start)}` : '';
          if (e.status === 'done') permanent.push(cut(`\x1b[32m✔\x1b[0m ${e.target}${took}`));
          else if (e.status === 'failed') permanent.push(cut(`\x1b[31m✘ ${e.target}${took}: ${(e.error ?? '').split('\n')[0]}\x1b[0m`));
          else if (e.status === 'up-to-date') permanent.push(cut(`\x1b[32m=\x1b[0m ${e.target} skipped: ${e.reason ?? 'up to date'}`));
          else permanent.push(cut(`\x1b[33m- ${e.target} skipped: ${e.reason ?? ''}\x1b[0m`));
          break;
        }
        case 'run-done':
          break;
      }
      dirty = true;
    },
    close() {
      clearInterval(timer);
      dirty = true;
      draw();
    },
  };
}
