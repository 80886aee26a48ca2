import type { Clock } from '../clock';
import { systemClock } from '../clock';
import type { AccountKey } from '../job/job';
import { defaultPrincipalKey } from './streamSlots';

/** The state-changing actions of the HTTP API, each of which may start provider work. */
export type SyncAction = 'start' | 'cancel' | 'retry';

/** `true`: go ahead; `false` or `{ retryAfterSeconds }`: refused with 429 `RATE_LIMITED`. */
export type RateLimitVerdict = boolean | { retryAfterSeconds: number };

/** The `rateLimit` option of `createSyncHandler`: asked after authorization, before the engine acts. */
export type RateLimit<TPrincipal> = (
  principal: TPrincipal,
  action: SyncAction,
  account: AccountKey,
) => RateLimitVerdict | Promise<RateLimitVerdict>;

export interface ActionRateLimiterOptions<TPrincipal> {
  /** Actions refilled per minute and principal. Required. */
  perMinute: number;
  /** Actions a principal may take at once after a quiet spell (the bucket size; default `perMinute`). */
  burst?: number;
  /** The actions counted (default all: a start/cancel loop spends from one bucket). */
  actions?: readonly SyncAction[];
  /** The principal's identity (default: a string or number as it is, an object as its JSON). */
  key?: (principal: TPrincipal) => string;
  /** Injected time (default: the system clock). */
  clock?: Pick<Clock, 'now'>;
}

/** Buckets kept before full (idle) ones are dropped. */
const SWEEP_AT = 10_000;

/**
 * A token bucket per principal for `createSyncHandler({ rateLimit })`: each action takes a token,
 * `perMinute` tokens come back per minute, up to `burst`. Kept in this process's memory: with
 * several web processes, each counts alone (use your own store-backed limiter for a shared budget).
 */
export function createActionRateLimiter<TPrincipal>(
  options: ActionRateLimiterOptions<TPrincipal>,
): RateLimit<TPrincipal> {
  const perMinute = options.perMinute;
  if (!(perMinute > 0)) throw new TypeError('createActionRateLimiter: perMinute must be a positive number.');
  const burst = Math.max(1, options.burst ?? perMinute);
  const counted = new Set<SyncAction>(options.actions ?? ['start', 'cancel', 'retry']);
  const keyOf = options.key ?? defaultPrincipalKey;
  const clock = options.clock ?? systemClock;
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const level = (bucket: { tokens: number; at: number }, now: number) =>
    Math.min(burst, bucket.tokens + (now - bucket.at) * perMs);

  return (principal, action) => {
    if (!counted.has(action)) return true;
    const now = clock.now();
    if (buckets.size >= SWEEP_AT) {
      for (const [key, bucket] of buckets) if (level(bucket, now) >= burst) buckets.delete(key);
    }
    const key = keyOf(principal);
    const bucket = buckets.get(key) ?? { tokens: burst, at: now };
    const tokens = level(bucket, now);
    if (tokens < 1) {
      buckets.set(key, { tokens, at: now });
      return { retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perMs / 1000)) };
    }
    buckets.set(key, { tokens: tokens - 1, at: now });
    return true;
  };
}
