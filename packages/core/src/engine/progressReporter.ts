import type { Clock, TimerHandle } from '../clock';
import type { JobProgress } from '../events/syncEvents';

export interface ProgressReporterOptions {
  /** Times the throttle and schedules the trailing emit. */
  clock: Clock;
  /** Least time between two emits, in ms (the engine's `progress.emitIntervalMs`). */
  intervalMs: number;
  /** Delivers one progress state to listeners. */
  emit: (progress: JobProgress) => void;
}

/**
 * Throttles one job's progress events: at most one per `intervalMs`, with a trailing emit so the
 * latest state is always delivered, and at once when forced (phase or status change, the end).
 */
export interface ProgressReporter {
  /** Emits now when the interval has passed or `force` is set; otherwise keeps it for the trailing emit. */
  report(progress: JobProgress, options?: { force?: boolean }): void;
  /** Emits what is pending now (before a terminal event) and stops the trailing timer. */
  flush(): void;
  /** Drops what is pending and clears the timer. */
  dispose(): void;
}

export function createProgressReporter(options: ProgressReporterOptions): ProgressReporter {
  const { clock, intervalMs, emit } = options;
  let lastEmitAt = Number.NEGATIVE_INFINITY;
  let pending: JobProgress | null = null;
  let timer: TimerHandle | null = null;

  const clearTimer = () => {
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
  };

  const emitNow = (progress: JobProgress) => {
    clearTimer();
    pending = null;
    lastEmitAt = clock.now();
    emit(progress);
  };

  return {
    report(progress, reportOptions = {}) {
      const now = clock.now();
      if (reportOptions.force || now - lastEmitAt >= intervalMs) {
        emitNow(progress);
        return;
      }
      pending = progress;
      if (timer === null) {
        timer = clock.setTimeout(
          () => {
            timer = null;
            if (pending) emitNow(pending);
          },
          lastEmitAt + intervalMs - now,
        );
      }
    },
    flush() {
      if (pending) emitNow(pending);
      clearTimer();
    },
    dispose() {
      pending = null;
      clearTimer();
    },
  };
}
