import type { Clock, TimerHandle } from '@syncjob/core';
import { systemClock } from '@syncjob/core';

export interface QuotaLimiterOptions {
  /** Units the provider admits in any window of `windowMs` (Gmail: the per-user units per minute). */
  unitsPerWindow: number;
  /** Length of the provider's moving window in ms (default 60,000; an emulator at speed N uses 60,000 / N). */
  windowMs?: number;
  /**
   * Share of the budget this limiter plans to spend (default 0.98). The rest absorbs what it cannot
   * see: clock skew and requests of other clients of the same user.
   */
  headroom?: number;
  /**
   * How much longer than `windowMs` a spent unit is counted after its answer arrived (default 0.5 %
   * of the window), for clock granularity. The window of a call starts when its answer arrives, not
   * when it was sent: the provider charged it somewhere in between, so only then is its expiry known
   * to be safe.
   */
  marginMs?: number;
  /** Calls in flight at most, batch parts counting one each (default 50, Gmail's per-user concurrency). */
  maxInFlight?: number;
  /**
   * Slices of the window the budget is paced over (default 20: at Google's real minute, bursts of
   * 3 s worth of units). Units are granted at an even rate of the planned budget per window, with at
   * most one slice's worth (`budget / pacingSlices`) at once after an idle spell. Without pacing the
   * whole window's budget goes in one burst and nothing moves until it frees: a stalled progress bar,
   * and bursts Google may refuse if it enforces at a finer grain than the minute. `1` paces over
   * the whole window (in effect the bare moving window). The moving window stays the hard cap either
   * way. A request dearer than a slice is admitted alone once a full slice has built up, so it never
   * waits forever; the pace then pays its debt off before the next grant.
   */
  pacingSlices?: number;
  /** Lowest share of the budget rate-limit answers can push the limiter down to (default 0.5). */
  minShare?: number;
  /** Share regained per window without a rate-limit answer (default 0.1). */
  recoveryPerWindow?: number;
  /** Time source (default the system clock). */
  clock?: Clock;
  /** Called when a rate-limit answer pauses every caller, with the pause in ms. */
  onPause?: (ms: number) => void;
}

export interface QuotaLimiterStats {
  /** Units granted so far. */
  unitsSpent: number;
  /** Calls granted so far. */
  calls: number;
  /** Rate-limit answers reported. */
  rateLimited: number;
  /** Current share of the budget (1 = full headroom). */
  share: number;
}

interface Waiter {
  units: number;
  calls: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Spends quota units the way Gmail counts them: a moving window of `windowMs` in which at most
 * `unitsPerWindow` may be spent (a token bucket alone would admit up to twice that in one window
 * after an idle spell). Within that hard cap, grants are paced by a token bucket filling at the
 * planned budget per window and holding one slice of it (`pacingSlices`), so work flows evenly
 * instead of in window-sized bursts followed by long stalls. Callers wait, first come first served,
 * until their units fit under the planned share, the pace allows them, and their calls fit under
 * `maxInFlight`.
 *
 * On a rate-limit answer every caller pauses for the server's `Retry-After` and the share drops by
 * 15 % (additive-increase, multiplicative-decrease); it grows back by `recoveryPerWindow` each
 * window without one.
 */
export class QuotaLimiter {
  readonly unitsPerWindow: number;
  readonly windowMs: number;
  readonly maxInFlight: number;
  readonly pacingSlices: number;
  readonly #headroom: number;
  readonly #marginMs: number;
  readonly #minShare: number;
  readonly #recovery: number;
  readonly #clock: Clock;
  readonly #onPause: ((ms: number) => void) | undefined;

  /** Spent units in time order: expiry times and units, consumed from `#head`. */
  #expiries: number[] = [];
  #units: number[] = [];
  #head = 0;
  /** Units of answered calls still in the window plus units of calls not answered yet. */
  #spent = 0;
  #inFlight = 0;
  /** Pacing bucket: units available now (negative after an oversized grant) as of `#tokensAt`. */
  #tokens = 0;
  #tokensAt = 0;
  #waiters: Waiter[] = [];
  #timer: TimerHandle | null = null;
  #timerAt = 0;
  #pauseUntil = 0;
  /** The share right after the last cut, and when it happened. */
  #cutShare = 1;
  #cutAt = Number.NEGATIVE_INFINITY;
  #stats = { unitsSpent: 0, calls: 0, rateLimited: 0 };

  constructor(options: QuotaLimiterOptions) {
    if (!(options.unitsPerWindow > 0)) throw new RangeError('unitsPerWindow must be a positive number');
    this.unitsPerWindow = options.unitsPerWindow;
    this.windowMs = Math.max(1, options.windowMs ?? 60_000);
    this.maxInFlight = Math.max(1, Math.floor(options.maxInFlight ?? 50));
    this.pacingSlices = Math.max(1, Math.floor(options.pacingSlices ?? 20));
    this.#headroom = Math.min(1, Math.max(0.1, options.headroom ?? 0.98));
    this.#marginMs = Math.max(0, options.marginMs ?? this.windowMs * 0.005);
    this.#minShare = Math.min(1, Math.max(0.05, options.minShare ?? 0.5));
    this.#recovery = Math.max(0, options.recoveryPerWindow ?? 0.1);
    this.#clock = options.clock ?? systemClock;
    this.#onPause = options.onPause;
    // Starts full: the first slice's worth goes at once, as it would after any idle spell.
    this.#tokensAt = this.#clock.now();
    this.#tokens = this.#sliceUnits(this.#tokensAt);
  }

  /** The share of the budget planned now, in (0, 1]. */
  share(now = this.#clock.now()): number {
    const regained = ((now - this.#cutAt) / this.windowMs) * this.#recovery;
    return Math.min(1, this.#cutShare + Math.max(0, regained));
  }

  /** Units spent in the current window (as this limiter counts them). */
  spent(now = this.#clock.now()): number {
    this.#expire(now);
    return this.#spent;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get stats(): QuotaLimiterStats {
    return { ...this.#stats, share: this.share() };
  }

  /**
   * Waits until `units` fit in the window and `calls` fit in flight, then spends them. Call `release`
   * with the same numbers once the answer arrived: that starts the units' window.
   */
  acquire(units: number, calls = 1, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { units, calls, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(signal.reason);
          this.#pump();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /** Gives back `calls` in-flight slots once their answer arrived, and starts the window of their `units`. */
  release(calls = 1, units = 0): void {
    this.#inFlight = Math.max(0, this.#inFlight - calls);
    if (units > 0) {
      this.#expiries.push(this.#clock.now() + this.windowMs + this.#marginMs);
      this.#units.push(units);
    }
    this.#pump();
  }

  /** `acquire`, run `task`, `release`. */
  async run<T>(units: number, calls: number, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(units, calls, signal);
    try {
      return await task();
    } finally {
      this.release(calls, units);
    }
  }

  /**
   * Reports a rate-limit answer: every caller waits `retryAfterMs` (default a tenth of the window)
   * and the share drops. Answers arriving during the pause (the rest of a burst) only extend it.
   */
  rateLimited(retryAfterMs?: number): void {
    const now = this.#clock.now();
    this.#stats.rateLimited += 1;
    const waitMs = Math.max(0, retryAfterMs ?? this.windowMs / 10);
    if (now >= this.#pauseUntil) {
      this.#cutShare = Math.max(this.#minShare, this.share(now) * 0.85);
      this.#cutAt = now;
    }
    if (now + waitMs > this.#pauseUntil) {
      this.#pauseUntil = now + waitMs;
      this.#onPause?.(waitMs);
    }
    this.#pump();
  }

  /** Units the window may hold now: the budget times headroom and the current share. */
  #limit(now: number): number {
    return this.unitsPerWindow * this.#headroom * this.share(now);
  }

  /** The pace: the planned budget spread over the window as the provider counts it (with its margin). */
  #ratePerMs(now: number): number {
    return this.#limit(now) / (this.windowMs + this.#marginMs);
  }

  /** What the pacing bucket holds at most: one slice of the planned budget. */
  #sliceUnits(now: number): number {
    return this.#limit(now) / this.pacingSlices;
  }

  /** Fills the pacing bucket for the time since the last fill, up to one slice; returns its units. */
  #refill(now: number): number {
    // A rate-limit pause is not idle time to make up for afterwards: nothing builds up during it.
    const from = Math.max(this.#tokensAt, Math.min(now, this.#pauseUntil));
    if (now > from) {
      this.#tokens = Math.min(this.#sliceUnits(now), this.#tokens + (now - from) * this.#ratePerMs(now));
    }
    this.#tokensAt = Math.max(this.#tokensAt, now);
    return this.#tokens;
  }

  #expire(now: number): void {
    while (this.#head < this.#expiries.length && this.#expiries[this.#head]! <= now) {
      this.#spent -= this.#units[this.#head]!;
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#expiries.length) {
      this.#expiries = this.#expiries.slice(this.#head);
      this.#units = this.#units.slice(this.#head);
      this.#head = 0;
    }
  }

  /** When `units` more would fit, given what is spent now; `now` when only answers in flight can free them. */
  #fitsAt(units: number, limit: number, now: number): number {
    let freed = 0;
    for (let i = this.#head; i < this.#expiries.length; i++) {
      freed += this.#units[i]!;
      if (this.#spent - freed + units <= limit) return this.#expiries[i]!;
    }
    // An oversized call goes once the window is empty: when nothing is in flight, the last expiry
    // empties it and no `release` would come to pump again.
    const last = this.#expiries.length - 1;
    if (last >= this.#head && this.#spent - freed <= 0) return this.#expiries[last]!;
    return now;
  }

  #pump(): void {
    const now = this.#clock.now();
    this.#expire(now);
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters[0]!;
      if (now < this.#pauseUntil) {
        this.#wakeAt(this.#pauseUntil);
        return;
      }
      // An oversized call still runs alone, rather than never.
      if (this.#inFlight > 0 && this.#inFlight + waiter.calls > this.maxInFlight) return;
      const limit = this.#limit(now);
      if (this.#spent > 0 && this.#spent + waiter.units > limit) {
        const at = this.#fitsAt(waiter.units, limit, now);
        // Otherwise only calls still in flight hold the units back: their `release` pumps again.
        if (at > now) this.#wakeAt(at);
        return;
      }
      // A request dearer than a slice needs only a full slice: it goes alone and leaves a debt.
      const tokens = this.#refill(now);
      const needed = Math.min(waiter.units, this.#sliceUnits(now));
      if (tokens < needed) {
        this.#wakeAt(now + Math.max(1, Math.ceil((needed - tokens) / this.#ratePerMs(now))));
        return;
      }
      this.#tokens -= waiter.units;
      this.#waiters.shift();
      if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
      this.#spent += waiter.units;
      this.#inFlight += waiter.calls;
      this.#stats.unitsSpent += waiter.units;
      this.#stats.calls += waiter.calls;
      waiter.resolve();
    }
  }

  #wakeAt(at: number): void {
    if (this.#timer !== null && this.#timerAt <= at) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = null;
        this.#pump();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }
}
