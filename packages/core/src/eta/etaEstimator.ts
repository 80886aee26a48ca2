import type { Clock } from '../clock';
import { systemClock } from '../clock';

export interface EtaEstimatorOptions {
  /** Where "now" comes from when a call does not pass it (default: the system clock). */
  clock?: Clock;
  /**
   * Half-life of the throughput smoothing in ms (default 20,000): a sample this old weighs half as
   * much as a fresh one, however many updates arrived in between.
   */
  halfLifeMs?: number;
  /** Observed time (back-off excluded) needed before a rate and an ETA are shown, in ms (default 5,000). */
  minSignalMs?: number;
}

export interface EtaEstimate {
  /** Whole seconds left, at least 1; `null` while the total is unknown, during back-off or before enough signal. */
  etaSeconds: number | null;
  /** Smoothed items per second (one decimal), `null` before enough signal. */
  ratePerSec: number | null;
}

/**
 * Estimates the time left of one job from its durable progress.
 *
 * Two layers of smoothing. The rate is a time-based exponential moving average of throughput
 * (`alpha = 1 - 2^(-dt / halfLife)`), bias-corrected so the first seconds are a plain average
 * rather than dragged towards zero. The shown ETA is smoothed again: between updates it counts
 * down with wall time, and each update moves it part of the way towards the new raw estimate, so
 * it neither jumps with every batch nor stalls.
 *
 * During a back-off (`pause`) the ETA is `null` and the clock of the estimator stands still: the
 * wait is not read as slowness, and once the back-off ends the countdown continues from where it
 * was, without waiting for new signal. The rate stays shown during the wait. A quota wait with a
 * known end (`waitUntil`) is the same, except that the ETA stays shown and includes the wait.
 */
export interface EtaEstimator {
  /** Records the durable progress: `done` items of `total` (`null` = unknown). */
  update(done: number, total: number | null, now?: number): void;
  /**
   * Starts measuring from stored counters (a resumed job, a refreshed page): the next update
   * measures from `done`, never from zero.
   */
  seed(done: number, total: number | null, now?: number): void;
  /**
   * Also measures the pace over wall-clock time: `done` items were done at `since` (epoch ms), and
   * the rate used is the lower of the smoothed one and `(done now - done) / (now - since)`. For a job
   * run in time slices (`engine.work`): each slice is a new run, and the gaps between slices are part
   * of the job's real pace, which the smoothed rate of one slice alone would leave out. Once `since`
   * is `minSignalMs` ago, the ETA is shown at once, without waiting for a slice's own signal.
   */
  measureSince(done: number, since: number, now?: number): void;
  /** Forgets the rate, the wall-clock pace and the shown ETA (a phase change: the next phase has its own pace). */
  reset(): void;
  /** A back-off of `ms` starts now: the ETA is `null` until it ends and the wait is not counted. */
  pause(ms: number, now?: number): void;
  /**
   * The job is held back until `until` (epoch ms; a quota wait), or no longer (`null`). Like a pause
   * the wait is not read as slowness, but the ETA stays shown and includes it: the time to `until`
   * plus the remaining work at the measured rate. Progress ends it, as it ends a pause.
   */
  waitUntil(until: number | null, now?: number): void;
  estimate(now?: number): EtaEstimate;
}

const MIN_ETA_SECONDS = 1;

/** How much faster the shown ETA follows the raw one than the rate follows throughput. */
const DISPLAY_HALF_LIFE_RATIO = 0.25;

export function createEtaEstimator(options: EtaEstimatorOptions = {}): EtaEstimator {
  const clock = options.clock ?? systemClock;
  const halfLifeMs = positive(options.halfLifeMs, 20_000);
  const minSignalMs = Math.max(0, options.minSignalMs ?? 5_000);
  const displayHalfLifeMs = halfLifeMs * DISPLAY_HALF_LIFE_RATIO;

  let total: number | null = null;
  // The last sample the rate was measured from, in "active" time (wall time minus back-offs).
  let anchor: { done: number; at: number } | null = null;
  // Bias-corrected EMA: `weighted / weight` is the rate in items per ms.
  let weighted = 0;
  let weight = 0;
  let signalMs = 0;
  // The shown ETA in seconds at active time `at`; it counts down from there.
  let shown: { seconds: number; at: number } | null = null;
  // Wall-clock pace (`measureSince`): items done since `at` (epoch ms, gaps included), and the latest count.
  let wall: { done: number; at: number } | null = null;
  let latestDone: number | null = null;

  // Back-off bookkeeping: active time = wall time - excludedMs - (the running pause, if any).
  let excludedMs = 0;
  // `shown`: a quota wait, whose end is known, so the ETA includes it rather than going blank.
  let pause: { from: number; until: number; shown: boolean } | null = null;

  const settlePause = (now: number) => {
    if (pause && now >= pause.until) {
      excludedMs += pause.until - pause.from;
      pause = null;
    }
  };
  const endPause = (now: number) => {
    if (!pause) return;
    excludedMs += Math.max(0, Math.min(now, pause.until) - pause.from);
    pause = null;
  };
  const activeTime = (now: number) => {
    settlePause(now);
    return now - excludedMs - (pause ? now - pause.from : 0);
  };
  const smoothedRate = () => (weight > 0 ? weighted / weight : null);
  const wallRate = (now: number): number | null => {
    if (!wall || latestDone === null || now - wall.at < Math.max(1, minSignalMs)) return null;
    // Nothing done yet since `since` is no pace at all (not a rate of zero): wait for signal.
    return latestDone > wall.done ? (latestDone - wall.done) / (now - wall.at) : null;
  };
  /** Items per ms: the smoothed rate (once it has signal), never above the wall-clock pace when one is measured. */
  const rate = (now: number): number | null => {
    const smoothed = signalMs >= minSignalMs ? smoothedRate() : null;
    const paced = wallRate(now);
    if (smoothed === null) return paced;
    return paced === null ? smoothed : Math.min(smoothed, paced);
  };

  const countdown = (at: number): number | null =>
    shown ? Math.max(MIN_ETA_SECONDS, shown.seconds - (at - shown.at) / 1000) : null;

  return {
    update(done, nextTotal, now = clock.now()) {
      // Progress arrived: whatever back-off or wait was announced is over.
      endPause(now);
      total = nextTotal;
      latestDone = done;
      const at = activeTime(now);
      if (!anchor || done < anchor.done) {
        // No reference yet, or the counters restarted (mode switch): measure from here.
        anchor = { done, at };
        return;
      }
      const dt = at - anchor.at;
      // Items reported at the same instant are kept for the next sample rather than read as an infinite rate.
      if (dt <= 0) return;
      const instant = (done - anchor.done) / dt;
      const decay = 2 ** (-dt / halfLifeMs);
      weighted = weighted * decay + (1 - decay) * instant;
      weight = weight * decay + (1 - decay);
      signalMs += dt;
      anchor = { done, at };

      const perMs = rate(now);
      if (total === null || !perMs) {
        shown = null;
        return;
      }
      const raw = Math.max(MIN_ETA_SECONDS, Math.max(0, total - done) / perMs / 1000);
      const current = countdown(at);
      if (current === null) {
        shown = { seconds: raw, at };
        return;
      }
      const blend = 1 - 2 ** (-dt / displayHalfLifeMs);
      shown = { seconds: current + (raw - current) * blend, at };
    },

    seed(done, nextTotal, now = clock.now()) {
      total = nextTotal;
      latestDone = done;
      anchor = { done, at: activeTime(now) };
    },

    measureSince(done, since, now = clock.now()) {
      wall = { done, at: Math.min(since, now) };
      // A resumed slice shows the ETA the pace so far gives, from its first moment.
      const perMs = rate(now);
      if (total !== null && perMs && latestDone !== null && !pause) {
        const seconds = Math.max(MIN_ETA_SECONDS, Math.max(0, total - latestDone) / perMs / 1000);
        shown = { seconds, at: activeTime(now) };
      }
    },

    reset() {
      anchor = null;
      weighted = 0;
      weight = 0;
      signalMs = 0;
      shown = null;
      wall = null;
    },

    pause(ms, now = clock.now()) {
      if (!(ms > 0)) return;
      settlePause(now);
      if (pause) pause.until = Math.max(pause.until, now + ms);
      else pause = { from: now, until: now + ms, shown: false };
    },

    waitUntil(until, now = clock.now()) {
      settlePause(now);
      if (until === null) {
        if (pause?.shown) endPause(now);
        return;
      }
      if (!(until > now)) return;
      if (pause) {
        pause.until = Math.max(pause.until, until);
        pause.shown = true;
      } else pause = { from: now, until, shown: true };
    },

    estimate(now = clock.now()) {
      const at = activeTime(now);
      const perMs = rate(now);
      const ratePerSec = perMs !== null ? Math.round(perMs * 10_000) / 10 : null;
      if (total === null || ratePerSec === null || (pause && !pause.shown)) {
        return { etaSeconds: null, ratePerSec };
      }
      // During a wait the work's countdown stands still (active time does not move) and the time
      // left to wait is added to it, so the ETA goes down second by second through the wait.
      const waitSeconds = pause ? (pause.until - now) / 1000 : 0;
      const remaining = Math.max(0, total - (latestDone ?? 0));
      const work = countdown(at) ?? (pause && perMs ? remaining / perMs / 1000 : null);
      const seconds = work === null ? null : work + waitSeconds;
      // Rounded, not ceiled: float noise would otherwise show 181 for 180.000001.
      return {
        etaSeconds: seconds === null ? null : Math.max(MIN_ETA_SECONDS, Math.round(seconds)),
        ratePerSec,
      };
    },
  };
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}
