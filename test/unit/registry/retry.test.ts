import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, DEFAULT_RETRY, isRetryableError, isRetryableStatus, parseRetryAfter, refusedOnLoopback } from '../../../src/registry/index.js';

test('Retry-After as seconds or HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000);
  const now = Date.parse('2024-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('Mon, 01 Jan 2024 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
});

test('backoff grows exponentially, is capped, and jitters within [cap/2, cap]', () => {
  const p = { ...DEFAULT_RETRY, baseDelayMs: 100, maxDelayMs: 1000 };
  assert.equal(backoffDelay(p, 1, () => 0), 50);
  assert.equal(backoffDelay(p, 1, () => 1), 100);
  assert.equal(backoffDelay(p, 3, () => 1), 400);
  assert.equal(backoffDelay(p, 10, () => 1), 1000);
  assert.equal(backoffDelay(p, 10, () => 0), 500);
});

test('what is retried: 429, 5xx, resets and timeouts; not 4xx auth/not-found', () => {
  for (const s of [429, 500, 502, 503, 504, 408]) assert.equal(isRetryableStatus(s), true, String(s));
  for (const s of [400, 401, 403, 404, 416, 501]) assert.equal(isRetryableStatus(s), false, String(s));
  assert.equal(isRetryableError(Object.assign(new Error('x'), { code: 'ECONNRESET' })), true);
  assert.equal(isRetryableError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })), true);
  assert.equal(isRetryableError(new Error('socket hang up')), true);
  assert.equal(isRetryableError(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), false);
  assert.equal(isRetryableError(new Error('other')), false);
});

test('a connection refused on this machine is not retried; one refused elsewhere is', () => {
  const refused = (address?: string) => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', ...(address ? { address } : {}) });
  assert.equal(refusedOnLoopback(refused('127.0.0.1')), true);
  assert.equal(refusedOnLoopback(refused('::1')), true);
  assert.equal(refusedOnLoopback(refused('192.0.2.7')), false);
  // Happy eyeballs: every attempt went to loopback.
  assert.equal(refusedOnLoopback(Object.assign(new Error('x'), { code: 'ECONNREFUSED', errors: [refused('::1'), refused('127.0.0.1')] })), true);
  // No address to go by: the registry's name decides.
  assert.equal(refusedOnLoopback(refused(), true), true);
  assert.equal(refusedOnLoopback(refused(), false), false);
  assert.equal(refusedOnLoopback(Object.assign(new Error('x'), { code: 'ECONNRESET', address: '127.0.0.1' })), false);
});
