import type { ProgressEvent } from '../solver/types.js';

export type ProgressMode = 'auto' | 'plain' | 'json' | 'quiet';

/**
 * Renders build events for a person (plain lines, step logs indented) or for a machine (one
 * JSON object per line). Output goes to stderr so stdout stays for results.
 */
export function progressPrinter(mode: ProgressMode, out: NodeJS.WritableStream = process.stderr): (e: ProgressEvent) => void {
  if (mode === 'quiet') return () => undefined;
  if (mode === 'json') return (e) => out.write(JSON.stringify(e) + '\n');
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
        out.write(`#push ${e.ref}: ${e.uploaded} blob(s) uploaded, ${e.mounted} mounted, ${e.skipped} already there\n`);
        break;
      default:
        break;
    }
  };
}

/** Sizes in the one format every command shows (util/size.ts). */
export { humanSize as formatSize } from '../util/size.js';
