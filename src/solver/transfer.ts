import type { ProgressEvent, TransferAction } from './types.js';

export interface ByteMeter {
  add(bytes: number): void;
  /** Reports the final count (always, however soon it comes). */
  end(): void;
}

/**
 * Counts the bytes of one long transfer and reports them at most every `intervalMs`: a base layer unpacks in
 * thousands of chunks, and a view redrawn per chunk would cost more than the unpacking.
 */
export function byteMeter(
  emit: ((e: ProgressEvent) => void) | undefined,
  action: TransferAction,
  id: string,
  total?: number,
  intervalMs = 100,
): ByteMeter {
  let done = 0;
  let last = 0;
  const report = (finished: boolean) =>
    emit?.({ kind: 'transfer', action, id, done, ...(total !== undefined ? { total } : {}), ...(finished ? { finished } : {}), time: Date.now() });
  return {
    add(bytes) {
      done += bytes;
      const now = Date.now();
      if (now - last >= intervalMs) {
        last = now;
        report(false);
      }
    },
    end: () => report(true),
  };
}
