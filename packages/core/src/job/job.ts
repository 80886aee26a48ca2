import type { SyncErrorCode } from '../errors';

/** `queued` → `running` → one of the terminal statuses. */
export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';

/** Statuses of a job that holds the account: at most one such job per (source, account). */
export const ACTIVE_STATUSES = ['queued', 'running'] as const satisfies readonly JobStatus[];
export type ActiveJobStatus = (typeof ACTIVE_STATUSES)[number];

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES = [
  'completed',
  'failed',
  'cancelled',
  'interrupted',
] as const satisfies readonly JobStatus[];
export type TerminalJobStatus = (typeof TERMINAL_STATUSES)[number];

export const JOB_STATUSES: readonly JobStatus[] = [...ACTIVE_STATUSES, ...TERMINAL_STATUSES];

/** What a running job is doing now. Classification, when configured, runs inside fetching/storing. */
export type JobPhase = 'labels' | 'listing' | 'fetching' | 'storing' | 'finalizing';
export const JOB_PHASES: readonly JobPhase[] = ['labels', 'listing', 'fetching', 'storing', 'finalizing'];

/** How a job syncs: everything, or the changes since the account's cursor. */
export type SyncMode = 'full' | 'incremental';
export const SYNC_MODES: readonly SyncMode[] = ['full', 'incremental'];
/** What a caller may ask for: `auto` picks incremental when the account has a cursor. */
export type RequestedSyncMode = SyncMode | 'auto';

/**
 * Why a job exists. `resume` continues from the account's checkpoint (a retry, or after an
 * interruption); `push` follows a mailbox-changed notification (Gmail watch + Pub/Sub push).
 */
export type JobTrigger = 'manual' | 'schedule' | 'resume' | 'push';
export const JOB_TRIGGERS: readonly JobTrigger[] = ['manual', 'schedule', 'resume', 'push'];

/** Counters count durable work only: they move when a batch is committed, never before. */
export interface JobCounters {
  /** Number of items the job will process, `null` until known (never invented). */
  total: number | null;
  /** Item ids listed so far (full sync listing). */
  listed: number;
  /** Items fetched from the provider and committed. */
  fetched: number;
  /** Items that went through the classify hook. */
  classified: number;
  /** Items written to the sink. */
  stored: number;
  /** Items the classify hook asked to skip. */
  skipped: number;
  /** Items deleted (incremental deletes, or items gone between listing and fetching). */
  deleted: number;
  /** Items that failed permanently (logged; the job carries on). */
  failed: number;
}

/**
 * What a running job waits for, with no work possible before it ends: the Cloud project's per-minute
 * quota (shared by every worker of a deployment), its daily budget, or the account's own quota.
 */
export type JobWaitReason = 'project-quota' | 'project-daily-quota' | 'user-quota';
export const JOB_WAIT_REASONS: readonly JobWaitReason[] = [
  'project-quota',
  'project-daily-quota',
  'user-quota',
];

/** A job held back: what it waits for and until when (ISO 8601). */
export interface JobWaiting {
  for: JobWaitReason;
  until: string;
}

/** The error a failed (or interrupted) job carries. */
export interface JobError {
  code: SyncErrorCode;
  message: string;
  retryable: boolean;
}

/**
 * A job: one sync attempt of one account from one source. This is the public snapshot: what the
 * HTTP API returns and the browser client holds. Times are ISO 8601 strings.
 */
export interface Job {
  /** Random UUID (v4). */
  id: string;
  source: string;
  accountId: string;
  status: JobStatus;
  /** `null` unless running. */
  phase: JobPhase | null;
  mode: SyncMode;
  trigger: JobTrigger;
  counters: JobCounters;
  /** category → count, fed by the classify hook. */
  categoryCounts: Record<string, number>;
  /** 0–100, `null` while the total is unknown. */
  percent: number | null;
  /** Items per second, recent and smoothed; `null` before there is signal. */
  ratePerSec: number | null;
  /** Seconds left, `null` until there is enough signal. Never 0 while work remains. */
  etaSeconds: number | null;
  /** A short, non-sensitive label of what is being worked on (e.g. "page 12"). */
  currentItem: string | null;
  /**
   * Set while the running job is held back by a quota (see `JobWaiting`), so the UI can say what it
   * waits for and until when instead of looking stalled. Cleared by the next committed batch and when
   * the job ends; `null` otherwise.
   */
  waiting: JobWaiting | null;
  createdAt: string;
  startedAt: string | null;
  updatedAt: string;
  heartbeatAt: string | null;
  leaseExpiresAt: string | null;
  finishedAt: string | null;
  /** Number of times a worker claimed this job (1 on the first run). */
  attempt: number;
  /** True once a cancel was requested for a running job; the worker stops within a batch or heartbeat. */
  cancelRequested: boolean;
  error: JobError | null;
  /** Seq of the newest log line (0 when none). */
  lastLogSeq: number;
}

export type LogLevel = 'info' | 'warn' | 'error';

/** A log line as written by the engine or a source. */
export interface LogInput {
  level: LogLevel;
  message: string;
  /** Small, JSON-serialisable, non-sensitive details. */
  data?: Record<string, unknown>;
}

/** A stored log line: `seq` is 1, 2, 3 … per job, with no gaps. */
export interface LogEntry extends LogInput {
  jobId: string;
  seq: number;
  at: string;
}

/** A mailbox of a source: the key of account state and of the one-active-job rule. */
export interface AccountKey {
  source: string;
  accountId: string;
}

/**
 * Where an unfinished sync stands, stored with the account so a new attempt or a new job (retry,
 * resume) continues from it. Written in the same transaction as the data it covers.
 */
export interface SyncCheckpoint {
  /** The job that wrote it. */
  jobId: string;
  /** The mode the checkpoint belongs to; a job of another mode ignores it. */
  mode: SyncMode;
  /** The source's own resume state (page token, phase, captured cursor…); opaque to the engine. */
  data: unknown;
  /** The counters when it was written, so a resumed job's progress continues where it was. */
  counters: JobCounters;
  categoryCounts: Record<string, number>;
  /** The phase it was written in. */
  phase: JobPhase | null;
  /**
   * Where the pace of `phase` is measured from: when the phase started (ISO 8601) and the items done
   * then. Kept across the runs of one job, so a job run in time slices (`engine.work`) counts the
   * gaps between slices in its ETA. Absent in checkpoints written before it existed.
   */
  pace?: { since: string; done: number };
}

/** Durable state per (source, account). */
export interface AccountState extends AccountKey {
  /** The source's incremental cursor (Gmail: `historyId`), `null` before the first full sync. */
  cursor: string | null;
  /** Resume point of an unfinished sync, `null` when the last sync finished. */
  checkpoint: SyncCheckpoint | null;
  lastSyncedAt: string | null;
  lastFullSyncAt: string | null;
  lastJobId: string | null;
  updatedAt: string;
}

export const isTerminalStatus = (status: JobStatus): status is TerminalJobStatus =>
  (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);

export const isActiveStatus = (status: JobStatus): status is ActiveJobStatus =>
  (ACTIVE_STATUSES as readonly JobStatus[]).includes(status);

export const emptyCounters = (): JobCounters => ({
  total: null,
  listed: 0,
  fetched: 0,
  classified: 0,
  stored: 0,
  skipped: 0,
  deleted: 0,
  failed: 0,
});

/** Items the job is done with: the numerator of progress and of the rate. */
export const processedCount = (counters: JobCounters): number =>
  counters.stored + counters.skipped + counters.deleted + counters.failed;

/**
 * Percent done, `null` while the total is unknown. Stays below 100 until the job completes, so a
 * bar never shows "done" while work remains.
 */
export function percentOf(counters: JobCounters, status: JobStatus): number | null {
  if (status === 'completed') return 100;
  if (counters.total === null) return null;
  if (counters.total <= 0) return 0;
  const raw = (processedCount(counters) / counters.total) * 100;
  return Math.min(99.9, Math.max(0, Math.floor(raw * 10) / 10));
}

/** UUID v4 ids from the platform's CSPRNG (Node ≥ 19 and every browser). */
export const newId = (): string => globalThis.crypto.randomUUID();

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** True for a syntactically valid UUID (any version 1–8). */
export const isUuid = (value: unknown): value is string =>
  typeof value === 'string' && UUID_PATTERN.test(value);
