/**
 * Runs `fn` over `items` with at most `limit` running at once, keeping the results in order. The first failure
 * stops new items from starting (and calls `onFailure`, so running ones can be told to stop); it is thrown once
 * the running ones have ended, so nothing is still at work after the call returns.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, onFailure?: () => void): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (e) {
        // The first failure is the cause; the others may be the cancellations it set off.
        if (!failure) {
          failure = { error: e };
          onFailure?.();
        }
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}
