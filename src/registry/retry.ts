/** Retry policy for registry requests: exponential backoff with full jitter, bounded in attempts and time. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 6). */
  maxAttempts: number;
  /** First backoff (default 250 ms); doubles each attempt. */
  baseDelayMs: number;
  /** Cap for one backoff (default 10 s). */
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt (default 120 s). */
  totalMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 250, maxDelayMs: 10_000, totalMs: 120_000 };

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'HPE_INVALID_CONSTANT',
  'ERR_HTTP_CLIENT_ABORTED',
]);

/** A network-level failure worth another try (reset, refused, timeout, truncated response). */
export function isRetryableError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e) return false;
  if (e.code && RETRYABLE_CODES.has(e.code)) return true;
  if (e.message === 'socket hang up' || e.message === 'aborted' || /premature close/i.test(e.message ?? '')) return true;
  return false;
}

/**
 * A connection refused on this machine: nothing listens on that loopback port, and waiting does not start it
 * (a remote refusal may be a balancer between two backends, so that one is retried). Happy-eyeballs failures
 * come as an AggregateError whose attempts carry the addresses.
 */
export function refusedOnLoopback(err: unknown, registryIsLoopback = false): boolean {
  const e = err as (NodeJS.ErrnoException & { address?: string; errors?: { address?: string }[] }) | undefined;
  if (e?.code !== 'ECONNREFUSED') return false;
  const addresses = [e.address, ...(e.errors ?? []).map((x) => x.address)].filter((a): a is string => typeof a === 'string');
  if (addresses.length === 0) return registryIsLoopback;
  return addresses.every((a) => a === '::1' || a.startsWith('127.') || a === '::ffff:127.0.0.1');
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** Backoff before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponential cap. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // Half fixed, half random: spreads clients apart without ever retrying instantly.
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** Tracks one operation's attempts against a policy. */
export class RetryBudget {
  start = Date.now();
  attempt = 0;
  constructor(readonly policy: RetryPolicy) {}

  /** Work got through: later failures start a fresh streak (long transfers are not cut by the total). */
  progress(): void {
    this.attempt = 0;
    this.start = Date.now();
  }

  /**
   * Returns the delay before the next attempt, or undefined when the budget is spent. A server's
   * Retry-After wins over the computed backoff, within the time left.
   */
  next(retryAfterMs?: number): number | undefined {
    if (this.attempt >= this.policy.maxAttempts) return undefined;
    const elapsed = Date.now() - this.start;
    const left = this.policy.totalMs - elapsed;
    if (left <= 0) return undefined;
    const d = retryAfterMs ?? backoffDelay(this.policy, this.attempt);
    if (d > left) return undefined;
    return d;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
