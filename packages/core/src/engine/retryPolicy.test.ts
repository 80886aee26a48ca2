import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../clock';
import { SyncError } from '../errors';
import type { RetryNotice } from './retryPolicy';
import { createRetryPolicy } from './retryPolicy';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createRetryPolicy', () => {
  it('backs off exponentially with jitter, within the bounds', () => {
    const low = createRetryPolicy({
      clock: systemClock,
      minDelayMs: 1_000,
      maxDelayMs: 60_000,
      random: () => 0,
    });
    const high = createRetryPolicy({
      clock: systemClock,
      minDelayMs: 1_000,
      maxDelayMs: 60_000,
      random: () => 0.999,
    });
    expect([1, 2, 3, 4].map(low.backoffMs)).toEqual([1_000, 1_000, 2_000, 4_000]);
    expect([1, 2, 3, 4].map(high.backoffMs)).toEqual([1_499, 2_998, 5_996, 11_992]);
    expect(high.backoffMs(20)).toBe(60_000);
  });

  it('retries only retryable errors and waits max(back-off, Retry-After) on the clock', async () => {
    const policy = createRetryPolicy({ clock: systemClock, minDelayMs: 1_000, random: () => 0.5 });
    const notices: RetryNotice[] = [];
    const failures = [
      new SyncError('RATE_LIMITED', 'slow down', { retryAfterMs: 45_000 }),
      new SyncError('NETWORK', 'reset'),
    ];
    const operation = vi.fn(async () => {
      const failure = failures.shift();
      if (failure) throw failure;
      return 'ok';
    });
    const result = policy.run(operation, { label: 'op', onRetry: (n) => notices.push(n) });
    await vi.advanceTimersByTimeAsync(44_999);
    expect(operation).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(operation).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(result).resolves.toBe('ok');
    expect(notices.map((n) => [n.code, n.attempt, n.delayMs, n.fromRetryAfter])).toEqual([
      ['RATE_LIMITED', 1, 45_000, true],
      ['NETWORK', 2, 2_000, false],
    ]);

    const permanent = vi.fn(async () => {
      throw new SyncError('REAUTH_REQUIRED', 'sign in again');
    });
    await expect(policy.run(permanent, { label: 'op' })).rejects.toMatchObject({ code: 'REAUTH_REQUIRED' });
    expect(permanent).toHaveBeenCalledTimes(1);
  });

  it('stops waiting when the signal aborts, with the signal’s reason', async () => {
    const policy = createRetryPolicy({ clock: systemClock });
    const controller = new AbortController();
    const result = policy.run(
      async () => {
        throw new SyncError('NETWORK', 'down');
      },
      { label: 'op', signal: controller.signal },
    );
    const settled = expect(result).rejects.toMatchObject({ code: 'CANCELLED' });
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(new SyncError('CANCELLED', 'cancelled'));
    await settled;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rides out a burst of rate-limit refusals longer than the ordinary retry budget', async () => {
    const policy = createRetryPolicy({
      clock: systemClock,
      retries: 3,
      rateLimitRetries: 10,
      minDelayMs: 100,
      maxDelayMs: 100,
    });
    let refusals = 8;
    const quotaBound = vi.fn(async () => {
      if (refusals-- > 0) throw new SyncError('RATE_LIMITED', 'quota', { retryAfterMs: 500 });
      return 'fetched';
    });
    const notices: RetryNotice[] = [];
    const result = policy.run(quotaBound, { label: 'batch', onRetry: (n) => notices.push(n) });
    await vi.advanceTimersByTimeAsync(8 * 500);
    await expect(result).resolves.toBe('fetched');
    expect(quotaBound).toHaveBeenCalledTimes(9);
    expect(notices.every((n) => n.attempts === 11)).toBe(true);

    // A network failure still stops after the ordinary budget (3 retries: 4 attempts).
    const broken = vi.fn(async () => {
      throw new SyncError('NETWORK', 'reset');
    });
    const failing = expect(policy.run(broken, { label: 'list' })).rejects.toMatchObject({ code: 'NETWORK' });
    await vi.advanceTimersByTimeAsync(10 * 100);
    await failing;
    expect(broken).toHaveBeenCalledTimes(4);

    // Past the rate-limit budget the refusal is final (10 retries: 11 attempts).
    const refused = vi.fn(async () => {
      throw new SyncError('RATE_LIMITED', 'quota');
    });
    const exhausted = expect(policy.run(refused, { label: 'get' })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
    });
    await vi.advanceTimersByTimeAsync(20 * 100);
    await exhausted;
    expect(refused).toHaveBeenCalledTimes(11);
  });
});
