import type { ProgressEvent } from '../solver/types.js';
import { humanSize } from '../util/size.js';
import { liveBuildView, type LiveView, type Screen } from './progress-tty.js';

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'json', 'rawjson', 'quiet'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/**
 * The view for `mode`: `auto` is the live view on a terminal (not TERM=dumb) and plain lines elsewhere;
 * `rawjson` is `json` (buildx's name for its raw event stream).
 */
export function buildProgress(mode: ProgressMode, out: Screen & { isTTY?: boolean } = process.stderr): LiveView {
  const m = mode === 'auto' ? (out.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain') : mode === 'rawjson' ? 'json' : mode;
  if (m === 'tty') return liveBuildView(out);
  const print = progressPrinter(m, out as NodeJS.WritableStream);
  return { onEvent: print, close: () => undefined };
}

/**
 * Renders build events for a person (plain lines, step logs indented) or for a machine (one
 * JSON object per line). Output goes to stderr so stdout stays for results.
 */
export function progressPrinter(mode: 'plain' | 'json' | 'quiet', out: NodeJS.WritableStream = process.stderr): (e: ProgressEvent) => void {
  if (mode === 'quiet') return () => undefined;
  if (mode === 'json') return (e) => out.write(JSON.stringify(e) + '\n');
  const transfers = new Set<string>();
  const partial = new Map<string, string>();
  return (e) => {
    switch (e.kind) {
      case 'step-start':
        out.write(`#${e.stage} [${e.step}/${e.total}] ${e.text.split('\n')[0]}\n`);
        break;
      case 'step-log': {
        const id = `${e.stage}:${e.step}`;
        const lines = ((partial.get(id) ?? '') + e.data).split('\n');
        partial.set(id, lines.pop() ?? '');
        for (const l of lines) out.write(`#${e.stage} ${l}\n`);
        break;
      }
      case 'step-done': {
        const id = `${e.stage}:${e.step}`;
        const rest = partial.get(id);
        if (rest) out.write(`#${e.stage} ${rest}\n`);
        partial.delete(id);
        if (e.cached || e.durationMs >= 100) out.write(`#${e.stage} [${e.step}] ${e.cached ? 'CACHED' : `DONE ${(e.durationMs / 1000).toFixed(1)}s`}\n`);
        break;
      }
      case 'export':
        out.write(`#export ${e.what}\n`);
        break;
      case 'pull':
        out.write(`#pull ${e.ref}\n`);
        break;
      case 'push':
        out.write(`#push ${e.ref}@${e.digest}: ${e.uploaded} blob(s) uploaded, ${e.mounted} mounted, ${e.skipped} already there\n`);
        break;
      case 'transfer': {
        // A line when it starts and one when it ends: the counts between are for live views.
        const id = `${e.action}\0${e.id}`;
        const name = e.id.startsWith('sha256:') ? e.id.slice(0, 19) : e.id;
        if (!transfers.has(id) && !e.finished) out.write(`#${e.action} ${name}${e.total ? ` (${humanSize(e.total)})` : ''}\n`);
        transfers.add(id);
        if (e.finished) {
          transfers.delete(id);
          out.write(`#${e.action} ${name} done, ${humanSize(e.done)}\n`);
        }
        break;
      }
      default:
        break;
    }
  };
}

/** Sizes in the one format every command shows (util/size.ts). */
export { humanSize as formatSize } from '../util/size.js';
