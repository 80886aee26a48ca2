import type { RetryNotice } from '../engine/retryPolicy';
import type { SyncErrorCode } from '../errors';
import type { Job, JobCounters, LogInput, SyncCheckpoint } from './job';
import { processedCount } from './job';

const numberFormat = new Intl.NumberFormat('en-US');

/** "12,345": counts in log lines and views. */
export const formatCount = (value: number): string => numberFormat.format(value);

/**
 * "850 ms", "12 s", "4 min 5 s", "4 min", "2 h 3 min", "2 h" for a duration in milliseconds (the
 * one duration format of syncjob: log lines, summaries, views; callers convert seconds). A zero
 * smaller unit is left out, so a value rounded to the minute reads "12 min".
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
}

/** "12,000 of 44,000 done" (or "0 of 44,000 done, 5,000 listed" while listing) for log lines. */
export function doneText(counters: JobCounters): string {
  const processed = processedCount(counters);
  const done =
    counters.total === null
      ? `${formatCount(processed)} done`
      : `${formatCount(processed)} of ${formatCount(counters.total)} done`;
  // While listing, nothing is "done" yet but the listing itself is progress worth telling.
  return processed === 0 && counters.listed > 0 ? `${done}, ${formatCount(counters.listed)} listed` : done;
}

// ── A run's log lines ──────────────────────────────────────────────────────────────────────────

/**
 * The first line of a run: a fresh start, a resume from the checkpoint, a restart without one, or
 * (`sliced`, `engine.work`) the next time slice of the same job.
 */
export function runStartLine(
  job: Job,
  checkpoint: SyncCheckpoint | null,
  counters: JobCounters,
  sliced: boolean,
): LogInput {
  const kind = `${job.mode} sync`;
  if (checkpoint && sliced && checkpoint.jobId === job.id) {
    return {
      level: 'info',
      message: `Time slice: resuming ${kind} from checkpoint (${doneText(counters)})`,
      data: { attempt: job.attempt, resumed: true, slice: true },
    };
  }
  if (checkpoint) {
    return {
      level: 'info',
      message: `Attempt ${job.attempt}: resuming ${kind} from checkpoint (${doneText(counters)})`,
      data: { attempt: job.attempt, resumed: true },
    };
  }
  if (job.attempt > 1) {
    return {
      level: 'info',
      message: `Attempt ${job.attempt}: starting ${kind} from the beginning (no checkpoint was saved)`,
      data: { attempt: job.attempt, resumed: false },
    };
  }
  return {
    level: 'info',
    message: `Sync started: ${kind} (attempt ${job.attempt})`,
    data: { attempt: job.attempt, resumed: false },
  };
}

/** "50% done: 22,000 of 44,000 messages". */
export function milestoneLine(milestone: number, counters: JobCounters & { total: number }): LogInput {
  return {
    level: 'info',
    message: `${milestone}% done: ${formatCount(processedCount(counters))} of ${formatCount(counters.total)} messages`,
    data: { milestone },
  };
}

/** "messages.list page 1 failed (RATE_LIMITED: …), attempt 1 of 21; retrying in 30 s (Retry-After)". */
export function retryLine(notice: RetryNotice): LogInput {
  return {
    level: 'warn',
    message: `${notice.label} failed (${notice.code}: ${notice.message}), attempt ${notice.attempt} of ${notice.attempts}; retrying in ${formatDuration(notice.delayMs)}${notice.fromRetryAfter ? ' (Retry-After)' : ''}`,
    data: {
      label: notice.label,
      code: notice.code,
      attempt: notice.attempt,
      attempts: notice.attempts,
      delayMs: notice.delayMs,
    },
  };
}

/** The summary of a completed run; `ratePerSec` is this run's pace (not the job's over its attempts). */
export function completedLine(counters: JobCounters, durationMs: number, ratePerSec: number): LogInput {
  return {
    level: 'info',
    message: `Sync completed: ${formatCount(counters.stored)} stored, ${formatCount(counters.skipped)} skipped, ${formatCount(counters.deleted)} deleted, ${formatCount(counters.failed)} failed in ${formatDuration(durationMs)} (${ratePerSec} messages/s)`,
    data: { counters: { ...counters }, durationMs, ratePerSec },
  };
}

export function cancelledLine(counters: JobCounters): LogInput {
  return {
    level: 'info',
    message: `Sync cancelled: ${doneText(counters)}. Stored messages and the checkpoint are kept; a new sync continues from there.`,
  };
}

export function failedLine(cause: { code: SyncErrorCode; message: string; retryable: boolean }): LogInput {
  return {
    level: 'error',
    message: `Sync failed (${cause.code}): ${cause.message}`,
    data: { code: cause.code, retryable: cause.retryable },
  };
}

/** Why a run was aborted because the engine stops. */
export const SHUTDOWN_MESSAGE = 'The engine is stopping; the job is released for another worker.';

/** Why a run was aborted because its time slice (`engine.work`) is over. */
export const SLICE_END_MESSAGE = 'The time slice is over; the job is handed back for the next one.';

/** What a failed job says (in `job.error`, its log, HTTP, SSE, webhooks) when the cause is not a `SyncError`. */
export const UNEXPECTED_FAILURE_MESSAGE =
  'The sync failed because of an unexpected error. Details are in the server log.';
