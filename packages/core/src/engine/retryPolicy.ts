import pRetry from 'p-retry';
import type { Clock } from '../clock';
import { sleep } from '../clock';
import type { SyncErrorCode } from '../errors';
import { SyncError } from '../errors';

export interface RetryPolicyOptions {
  /** Runs the waits between attempts (so fake timers drive them in tests). */
  clock: Clock;
  /** Retries after the first attempt (default 6). */
  retries?: number;
  /**
   * Retries of a rate-limit answer (`RATE_LIMITED`, default 20). Quota is a wait, not a fault: a
   * quota-bound sync must ride out a burst of refusals instead of failing after a few of them.
   */
  rateLimitRetries?: number;
  /** First back-off in ms (default 1,000). */
  minDelayMs?: number;
  /** Longest back-off in ms (default 60,000). A server's `Retry-After` may ask for longer and is honoured. */
  maxDelayMs?: number;
  /** Jitter source in [0, 1) (default `Math.random`); tests pin it. */
  random?: () => number;
}

/** What the policy tells its caller before it waits for a retry. */
export interface RetryNotice {
  label: string;
  code: SyncErrorCode;
  message: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  /** Attempts in all (`retries + 1`). */
  attempts: number;
  /** The wait before the next attempt, in ms. */
  delayMs: number;
  /** True when the wait comes from the server's `Retry-After`. */
  fromRetryAfter: boolean;
}

export interface RetryRunOptions {
  label: string;
  /** Retries after the first attempt (default: the policy's). */
  retries?: number;
  /** Aborts the wait and the retries; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each wait (the engine logs the retry and pauses the ETA). */
  onRetry?: (notice: RetryNotice) => void;
}

export interface RetryPolicy {
  /** Runs `operation` until it succeeds, fails with a non-retryable error, or the retries are spent. */
  run<T>(operation: (attempt: number) => Promise<T>, options: RetryRunOptions): Promise<T>;
  /** The back-off before retry `n` (1-based), jitter included, without `Retry-After`. */
  backoffMs(retry: number): number;
}

/**
 * The engine's retry policy on `p-retry`: only errors that `SyncError.fromUnknown` calls retryable
 * are retried, with exponential back-off and jitter between `minDelayMs` and `maxDelayMs`, or the
 * server's `Retry-After` when it asks for longer.
 *
 * p-retry decides *whether* to retry; the wait itself is ours (p-retry's own timer is disabled with
 * `minTimeout: 0`) so it runs on the injected clock, honours `Retry-After`, and aborts with the
 * signal.
 */
export function createRetryPolicy(options: RetryPolicyOptions): RetryPolicy {
  const { clock } = options;
  const defaultRetries = options.retries ?? 6;
  const rateLimitRetries = Math.max(0, options.rateLimitRetries ?? 20);
  const minDelayMs = Math.max(0, options.minDelayMs ?? 1_000);
  const maxDelayMs = Math.max(minDelayMs, options.maxDelayMs ?? 60_000);
  const random = options.random ?? Math.random;

  const backoffMs = (retry: number): number => {
    const exponential = minDelayMs * 2 ** Math.max(0, retry - 1);
    // Jitter spreads retries of many workers hitting the same quota; the range is [0.5, 1.5) × exponential.
    const jittered = exponential * (0.5 + random());
    return Math.round(Math.min(maxDelayMs, Math.max(minDelayMs, jittered)));
  };

  return {
    backoffMs,
    run(operation, runOptions) {
      const retries = runOptions.retries ?? defaultRetries;
      const { signal } = runOptions;
      // The retry budget depends on what failed: rate limits get their own, larger one.
      const budgetOf = (error: SyncError) =>
        error.code === 'RATE_LIMITED' ? Math.max(retries, rateLimitRetries) : retries;
      const willRetry = (error: SyncError, retriesConsumed: number) =>
        error.retryable && retriesConsumed < budgetOf(error);
      return pRetry(operation, {
        retries: Math.max(retries, rateLimitRetries),
        minTimeout: 0,
        signal,
        shouldRetry: ({ error, retriesConsumed }) => willRetry(SyncError.fromUnknown(error), retriesConsumed),
        onFailedAttempt: async ({ error, attemptNumber, retriesConsumed }) => {
          const syncError = SyncError.fromUnknown(error);
          if (!willRetry(syncError, retriesConsumed)) return;
          const backoff = backoffMs(retriesConsumed + 1);
          const retryAfter = syncError.retryAfterMs ?? 0;
          const delayMs = Math.max(backoff, retryAfter);
          runOptions.onRetry?.({
            label: runOptions.label,
            code: syncError.code,
            message: syncError.message,
            attempt: attemptNumber,
            attempts: budgetOf(syncError) + 1,
            delayMs,
            fromRetryAfter: retryAfter > backoff,
          });
          await sleep(delayMs, { clock, signal });
        },
      });
    },
  };
}
