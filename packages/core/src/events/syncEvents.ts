import type { SyncErrorCode } from '../errors';
import type { AccountKey, Job, LogEntry, TerminalJobStatus } from '../job/job';
import { isTerminalStatus } from '../job/job';

/**
 * ONE protocol end to end: the engine emits these events, the HTTP layer sends them as SSE frames
 * and polling answers, and the browser client folds them with `applyEvent`. Browser-safe.
 */

/** The progress fields of a job, sent often and cheaply. */
export type JobProgress = Pick<
  Job,
  | 'phase'
  | 'mode'
  | 'counters'
  | 'categoryCounts'
  | 'percent'
  | 'ratePerSec'
  | 'etaSeconds'
  | 'currentItem'
  | 'waiting'
  | 'updatedAt'
>;

/** The progress fields of a job as the store returned it (durable), optionally with a fresher ETA. */
export function progressOf(
  job: Job,
  estimate?: { etaSeconds: number | null; ratePerSec: number | null },
): JobProgress {
  return {
    phase: job.phase,
    mode: job.mode,
    counters: job.counters,
    categoryCounts: job.categoryCounts,
    percent: job.percent,
    ratePerSec: estimate ? estimate.ratePerSec : job.ratePerSec,
    etaSeconds: estimate ? estimate.etaSeconds : job.etaSeconds,
    currentItem: job.currentItem,
    waiting: job.waiting,
    updatedAt: job.updatedAt,
  };
}

/** The whole job, first thing on a new connection (and each polling answer). */
export interface SnapshotEvent {
  type: 'snapshot';
  jobId: string;
  job: Job;
}

/** A status change (queued → running, attempt resumed, interrupted …) with the whole job. */
export interface StatusEvent {
  type: 'status';
  jobId: string;
  job: Job;
}

/** Throttled progress: several per second at most, always on phase changes and at the end. */
export interface ProgressEvent {
  type: 'progress';
  jobId: string;
  progress: JobProgress;
}

/** One new log line. */
export interface LogEvent {
  type: 'log';
  jobId: string;
  entry: LogEntry;
}

/** The job finished. `job.status` says how. */
export interface TerminalEvent<TStatus extends TerminalJobStatus = TerminalJobStatus> {
  type: TStatus;
  jobId: string;
  job: Job;
}

export type CompletedEvent = TerminalEvent<'completed'>;
export type FailedEvent = TerminalEvent<'failed'>;
export type CancelledEvent = TerminalEvent<'cancelled'>;
export type InterruptedEvent = TerminalEvent<'interrupted'>;

export type SyncEvent =
  | SnapshotEvent
  | StatusEvent
  | ProgressEvent
  | LogEvent
  | CompletedEvent
  | FailedEvent
  | CancelledEvent
  | InterruptedEvent;

export type SyncEventType = SyncEvent['type'];

/**
 * One pass of the scheduler (`engine.schedule`). An engine event only, not part of a job's stream
 * (it has no `jobId`), so `applyEvent` and the wire protocol do not carry it.
 */
export interface CycleEvent {
  type: 'cycle';
  /** When the cycle began (ISO 8601). */
  startedAt: string;
  durationMs: number;
  /** `interval` (the `every` timer), `slotFreed` (a scheduled job of this process ended) or `manual` (`runNow`). */
  reason: 'interval' | 'slotFreed' | 'manual';
  /** Accounts of the scheduled sources the store knows. */
  accounts: number;
  /** Of those, accounts not synced within `staleAfter`. */
  stale: number;
  /** Accounts a job was started for, in the order they were started. */
  started: AccountKey[];
  /** Stale accounts left for a later cycle, by reason. */
  skipped: {
    /** A job is already queued or running for the account. */
    active: number;
    /** The account's latest job failed with `REAUTH_REQUIRED` and nothing newer was started. */
    reauthRequired: number;
    /** Every scheduled slot (`concurrency`) was taken. */
    noSlot: number;
    /** A full sync of a new account, left for the next day: the project's daily budget is spent. */
    dailyBudget: number;
  };
  /** Set when the cycle could not complete (e.g. the store was unreachable). */
  error: { code: SyncErrorCode; message: string } | null;
}

/** Provider quota a running job spent, as its source reported it (`ctx.reportQuotaUnits`). */
export interface QuotaEvent {
  type: 'quota';
  jobId: string;
  source: string;
  accountId: string;
  units: number;
}

/** The engine's typed event map (eventemitter3): event name → listener. */
export interface SyncEngineEvents {
  status: (event: StatusEvent) => void;
  progress: (event: ProgressEvent) => void;
  log: (event: LogEvent) => void;
  completed: (event: CompletedEvent) => void;
  failed: (event: FailedEvent) => void;
  cancelled: (event: CancelledEvent) => void;
  interrupted: (event: InterruptedEvent) => void;
  /** A scheduler cycle ended (see `CycleEvent`). */
  cycle: (event: CycleEvent) => void;
  /** A running job's source spent provider quota (see `QuotaEvent`). */
  quota: (event: QuotaEvent) => void;
}

/** What an observer of one job holds. */
export interface JobViewState {
  job: Job | null;
  /** Log lines in seq order, each exactly once (the oldest are dropped past `maxLogs`). */
  logs: readonly LogEntry[];
  /** The highest log seq seen: the resume point of a stream (`Last-Event-ID`). */
  lastSeq: number;
}

export const emptyJobViewState: JobViewState = Object.freeze({
  job: null,
  logs: Object.freeze([]),
  lastSeq: 0,
});

export interface ApplyEventOptions {
  /** Keep at most this many log lines (default 10,000). */
  maxLogs?: number;
}

const DEFAULT_MAX_LOGS = 10_000;

/** Builds the event that tells a job's terminal status, or `null` while it is not terminal. */
export function terminalEventOf(job: Job): TerminalEvent | null {
  if (!isTerminalStatus(job.status)) return null;
  return { type: job.status, jobId: job.id, job } as TerminalEvent;
}

/** True for the event types that end a job's stream. */
export const isTerminalEvent = (event: SyncEvent): event is TerminalEvent =>
  event.type === 'completed' ||
  event.type === 'failed' ||
  event.type === 'cancelled' ||
  event.type === 'interrupted' ||
  ((event.type === 'status' || event.type === 'snapshot') && isTerminalStatus(event.job.status));

/**
 * Folds one event into the state. Pure: returns the same object when the event changes nothing
 * (duplicates, stale or foreign events), so observers can compare snapshots by identity.
 *
 * Rules: events of another job are ignored once a job is known; a log line is kept once (by seq);
 * a finished job never goes back to running (a late progress or status frame is ignored); a
 * snapshot replaces the job unless it is older than what we hold.
 */
export function applyEvent(
  state: JobViewState,
  event: SyncEvent,
  options: ApplyEventOptions = {},
): JobViewState {
  if (state.job && state.job.id !== event.jobId) return state;
  switch (event.type) {
    case 'log':
      if (event.entry.seq <= state.lastSeq) return state;
      return appendLogs(state, [event.entry], options);
    case 'progress': {
      const current = state.job;
      if (!current || isTerminalStatus(current.status)) return state;
      if (current.updatedAt > event.progress.updatedAt) return state;
      return { ...state, job: { ...current, ...event.progress } };
    }
    default: {
      const incoming = event.job;
      const current = state.job;
      if (current) {
        if (isTerminalStatus(current.status) && !isTerminalStatus(incoming.status)) return state;
        if (incoming.updatedAt < current.updatedAt && !isTerminalStatus(incoming.status)) return state;
        if (incoming === current) return state;
      }
      return { ...state, job: incoming };
    }
  }
}

/**
 * Folds many events (a backlog, a polling round) into the same state `applyEvent` one by one would
 * give, but copies the log array once per run of log lines instead of once per line: a 10,000-line
 * backlog is one copy, not 10,000 (which was quadratic and took seconds).
 */
export function applyEvents(
  state: JobViewState,
  events: Iterable<SyncEvent>,
  options: ApplyEventOptions = {},
): JobViewState {
  let next = state;
  let run: LogEntry[] = [];
  let runSeq = next.lastSeq;
  const flushRun = () => {
    if (run.length === 0) return;
    next = appendLogs(next, run, options);
    run = [];
  };
  for (const event of events) {
    if (event.type === 'log') {
      // The same checks as `applyEvent`: a log line never changes the job's id, so `next.job` holds.
      if (next.job && next.job.id !== event.jobId) continue;
      if (event.entry.seq <= runSeq) continue;
      run.push(event.entry);
      runSeq = event.entry.seq;
      continue;
    }
    flushRun();
    next = applyEvent(next, event, options);
    runSeq = next.lastSeq;
  }
  flushRun();
  return next;
}

/** Appends lines already checked to be new and in seq order, with one copy of the kept lines. */
function appendLogs(
  state: JobViewState,
  entries: readonly LogEntry[],
  options: ApplyEventOptions,
): JobViewState {
  const maxLogs = Math.max(0, options.maxLogs ?? DEFAULT_MAX_LOGS);
  const last = entries[entries.length - 1]!;
  const keptOld = Math.max(0, maxLogs - entries.length);
  const old = state.logs.length > keptOld ? state.logs.slice(state.logs.length - keptOld) : state.logs;
  const fresh = entries.length > maxLogs ? entries.slice(entries.length - maxLogs) : entries;
  const logs = old.concat(fresh);
  const job =
    state.job && state.job.lastLogSeq < last.seq ? { ...state.job, lastLogSeq: last.seq } : state.job;
  return { job, logs, lastSeq: last.seq };
}
