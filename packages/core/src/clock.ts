/** An opaque timer handle, as returned by `Clock.setTimeout`. */
export type TimerHandle = unknown;

/**
 * Time, injected. Everything in syncjob that reads the time or waits goes through a clock, so tests
 * run on fake timers and a store can use its own notion of "now".
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The real clock. It looks the globals up on every call rather than capturing them at import, so
 * `vi.useFakeTimers()` installed after import still applies.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on `clock`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, options: { clock?: Clock; signal?: AbortSignal } = {}): Promise<void> {
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal?.reason);
    };
    const handle = clock.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// One-entry memos: a write converts its own `now` several times over (the new row, the job it
// returns, its lines), and parses back what it just formatted (a lease's expiry), so the same
// instant comes back to back far more often than not.
let lastMs = Number.NaN;
let lastMsIso = '';
let lastIso = '';
let lastIsoMs = Number.NaN;

/** Epoch milliseconds as an ISO-8601 UTC string; throws a `RangeError` for a non-finite time. */
export const toIso = (epochMs: number): string => {
  if (epochMs !== lastMs) {
    lastMsIso = new Date(epochMs).toISOString();
    lastMs = epochMs;
    // What `toISOString` writes parses back to the same instant (to the whole millisecond).
    if (Number.isInteger(epochMs)) {
      lastIso = lastMsIso;
      lastIsoMs = epochMs;
    }
  }
  return lastMsIso;
};

/** An ISO-8601 string as epoch milliseconds (`NaN` when it is not a date). */
export const fromIso = (iso: string): number => {
  if (iso !== lastIso) {
    lastIsoMs = Date.parse(iso);
    lastIso = iso;
  }
  return lastIsoMs;
};
