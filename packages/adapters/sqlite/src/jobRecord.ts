import type { SQLInputValue } from 'node:sqlite';
import {
  type AccountState,
  type ClaimInput,
  fromIso,
  isTerminalStatus,
  type Job,
  type JobChange,
  type JobCounters,
  type JobError,
  type JobPhase,
  type JobStatus,
  type JobTrigger,
  type JobWaiting,
  type Lease,
  type ListJobsQuery,
  type LogEntry,
  type LogLevel,
  percentOf,
  type SyncCheckpoint,
  type SyncMode,
  toIso,
} from '@syncjob/core';
import { applyJobChange } from '@syncjob/core/store';
import { NEXT_CHANGE_SEQ } from './changeWatcher';
import type { SqlRow } from './sqliteConnection';

/** A job as stored: times in epoch milliseconds, plus the lease the public `Job` does not show. */
export interface JobRecord {
  id: string;
  source: string;
  accountId: string;
  status: JobStatus;
  phase: JobPhase | null;
  mode: SyncMode;
  trigger: JobTrigger;
  counters: JobCounters;
  categoryCounts: Record<string, number>;
  ratePerSec: number | null;
  etaSeconds: number | null;
  currentItem: string | null;
  waiting: JobWaiting | null;
  createdAt: number;
  startedAt: number | null;
  updatedAt: number;
  heartbeatAt: number | null;
  leaseExpiresAt: number | null;
  finishedAt: number | null;
  attempt: number;
  cancelRequested: boolean;
  error: JobError | null;
  lastLogSeq: number;
  leaseToken: string | null;
  workerId: string | null;
}

const num = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const json = <T>(value: unknown): T | null =>
  value === null || value === undefined ? null : JSON.parse(String(value));
const iso = (value: number | null): string | null => (value === null ? null : toIso(value));

export function jobRecordFromRow(row: SqlRow): JobRecord {
  return {
    id: String(row.id),
    source: String(row.source),
    accountId: String(row.account_id),
    status: row.status as JobStatus,
    phase: str(row.phase) as JobPhase | null,
    mode: row.mode as SyncMode,
    trigger: row.job_trigger as JobTrigger,
    counters: json<JobCounters>(row.counters)!,
    categoryCounts: json<Record<string, number>>(row.category_counts) ?? {},
    ratePerSec: num(row.rate_per_sec),
    etaSeconds: num(row.eta_seconds),
    currentItem: str(row.current_item),
    waiting: json<JobWaiting>(row.waiting),
    createdAt: Number(row.created_at),
    startedAt: num(row.started_at),
    updatedAt: Number(row.updated_at),
    heartbeatAt: num(row.heartbeat_at),
    leaseExpiresAt: num(row.lease_expires_at),
    finishedAt: num(row.finished_at),
    attempt: Number(row.attempt),
    cancelRequested: Number(row.cancel_requested) === 1,
    error: json<JobError>(row.error),
    lastLogSeq: Number(row.last_log_seq),
    leaseToken: str(row.lease_token),
    workerId: str(row.worker_id),
  };
}

/** The public snapshot; `percent` is derived from the counters and status. */
export function jobFromRecord(record: JobRecord): Job {
  return {
    id: record.id,
    source: record.source,
    accountId: record.accountId,
    status: record.status,
    phase: record.phase,
    mode: record.mode,
    trigger: record.trigger,
    counters: { ...record.counters },
    categoryCounts: { ...record.categoryCounts },
    percent: percentOf(record.counters, record.status),
    ratePerSec: record.ratePerSec,
    etaSeconds: record.etaSeconds,
    currentItem: record.currentItem,
    waiting: record.waiting ? { ...record.waiting } : null,
    createdAt: toIso(record.createdAt),
    startedAt: iso(record.startedAt),
    updatedAt: toIso(record.updatedAt),
    heartbeatAt: iso(record.heartbeatAt),
    leaseExpiresAt: iso(record.leaseExpiresAt),
    finishedAt: iso(record.finishedAt),
    attempt: record.attempt,
    cancelRequested: record.cancelRequested,
    error: record.error ? { ...record.error } : null,
    lastLogSeq: record.lastLogSeq,
  };
}

const ms = (value: string | null): number | null => (value === null ? null : fromIso(value));

/** The record of a new job (core's `newJob`), holding no lease. */
export function recordFromJob(job: Job): JobRecord {
  return {
    id: job.id,
    source: job.source,
    accountId: job.accountId,
    status: job.status,
    phase: job.phase,
    mode: job.mode,
    trigger: job.trigger,
    counters: { ...job.counters },
    categoryCounts: { ...job.categoryCounts },
    ratePerSec: job.ratePerSec,
    etaSeconds: job.etaSeconds,
    currentItem: job.currentItem,
    waiting: job.waiting,
    createdAt: fromIso(job.createdAt),
    startedAt: ms(job.startedAt),
    updatedAt: fromIso(job.updatedAt),
    heartbeatAt: ms(job.heartbeatAt),
    leaseExpiresAt: ms(job.leaseExpiresAt),
    finishedAt: ms(job.finishedAt),
    attempt: job.attempt,
    cancelRequested: job.cancelRequested,
    error: job.error,
    lastLogSeq: job.lastLogSeq,
    leaseToken: null,
    workerId: null,
  };
}

/** Applies a core-computed change to a record; an ended lease drops its token and worker. */
export function applyChangeToRecord(record: JobRecord, change: JobChange): void {
  const job = jobFromRecord(record);
  const { leaseEnded } = applyJobChange(job, change);
  record.status = job.status;
  record.phase = job.phase;
  record.attempt = job.attempt;
  record.cancelRequested = job.cancelRequested;
  record.error = job.error;
  record.waiting = job.waiting;
  record.startedAt = ms(job.startedAt);
  record.heartbeatAt = ms(job.heartbeatAt);
  record.leaseExpiresAt = ms(job.leaseExpiresAt);
  record.finishedAt = ms(job.finishedAt);
  if (leaseEnded) {
    record.leaseToken = null;
    record.workerId = null;
  }
}

/**
 * A new job row, unless the account has an active job. Not stamped (`change_seq` stays 0, outside
 * `jobs_by_change`): watchers find new rows by `row_seq`, the rowid.
 */
export const INSERT_JOB_SQL = `
  INSERT INTO jobs (id, source, account_id, job_trigger, created_at, status, phase, mode, counters,
    category_counts, rate_per_sec, eta_seconds, current_item, waiting, started_at, updated_at, heartbeat_at,
    lease_expires_at, finished_at, attempt, cancel_requested, error, last_log_seq, lease_token, worker_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (source, account_id) WHERE status IN ('queued', 'running') DO NOTHING`;

/**
 * Every column a transition may change, written from a record read in the same write transaction,
 * and the transaction's change seq: the stamp rides in the job's own statement, not a second one.
 * The columns that never change (`source`, `account_id`, `job_trigger`, `created_at`) are left
 * out: SQLite rewrites the entries of every index on a column a statement sets, changed or not.
 */
export const UPDATE_JOB_SQL = `
  UPDATE jobs SET status = ?, phase = ?, mode = ?, counters = ?, category_counts = ?, rate_per_sec = ?,
    eta_seconds = ?, current_item = ?, waiting = ?, started_at = ?, updated_at = ?, heartbeat_at = ?,
    lease_expires_at = ?, finished_at = ?, attempt = ?, cancel_requested = ?, error = ?, last_log_seq = ?,
    lease_token = ?, worker_id = ?, change_seq = ?
  WHERE id = ?`;

/**
 * A write that changes no lifecycle field (progress, a batch, lines): the progress columns, the line
 * counter and the stamp only. Leaving `status` out spares its indexes; only `jobs_by_change` moves.
 */
export const UPDATE_PROGRESS_SQL = `
  UPDATE jobs SET phase = ?, mode = ?, counters = ?, category_counts = ?, rate_per_sec = ?, eta_seconds = ?,
    current_item = ?, waiting = ?, updated_at = ?, last_log_seq = ?, change_seq = ?
  WHERE id = ?`;

const progressColumns = (record: JobRecord): SQLInputValue[] => [
  record.phase,
  record.mode,
  JSON.stringify(record.counters),
  JSON.stringify(record.categoryCounts),
  record.ratePerSec,
  record.etaSeconds,
  record.currentItem,
  record.waiting ? JSON.stringify(record.waiting) : null,
];

const mutableColumns = (record: JobRecord): SQLInputValue[] => [
  record.status,
  ...progressColumns(record),
  record.startedAt,
  record.updatedAt,
  record.heartbeatAt,
  record.leaseExpiresAt,
  record.finishedAt,
  record.attempt,
  record.cancelRequested ? 1 : 0,
  record.error ? JSON.stringify(record.error) : null,
  record.lastLogSeq,
  record.leaseToken,
  record.workerId,
];

/** The columns that never change, then every column a transition may change (`mutableColumns`). */
export const insertJobParams = (record: JobRecord): SQLInputValue[] => [
  record.id,
  record.source,
  record.accountId,
  record.trigger,
  record.createdAt,
  ...mutableColumns(record),
];

export const updateJobParams = (record: JobRecord, changeSeq: number): SQLInputValue[] => [
  ...mutableColumns(record),
  changeSeq,
  record.id,
];

export const updateProgressParams = (record: JobRecord, changeSeq: number): SQLInputValue[] => [
  ...progressColumns(record),
  record.updatedAt,
  record.lastLogSeq,
  changeSeq,
  record.id,
];

/**
 * The conditions of the partial indexes on active jobs (`jobs_one_active_per_account`) and on
 * finished ones (`jobs_finished`, migration 7). A query spells one out so that SQLite reads that
 * index instead of every job: a long history of finished jobs does not slow the live ones down.
 */
const ACTIVE_CONDITION = "status IN ('queued', 'running')";
const FINISHED_CONDITION = "status NOT IN ('queued', 'running')";

/** The account's queued or running job, if any. */
export const ACTIVE_JOB_SQL = `SELECT * FROM jobs WHERE source = ? AND account_id = ? AND ${ACTIVE_CONDITION}`;

/** Running jobs whose lease ran out by `?` (a NULL expiry counts as expired, as `isLeaseExpired` says). */
export const SWEEP_EXPIRED_SQL = `
  SELECT * FROM jobs INDEXED BY jobs_one_active_per_account
  WHERE ${ACTIVE_CONDITION} AND status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
  ORDER BY created_at, row_seq`;

/** A `listJobs` query, newest first: filters within the active or the finished statuses read their index. */
export function listJobsSql(query: ListJobsQuery, limit: number): { sql: string; params: SQLInputValue[] } {
  const conditions: string[] = [];
  const params: SQLInputValue[] = [];
  if (query.source !== undefined) {
    conditions.push('source = ?');
    params.push(query.source);
  }
  if (query.accountId !== undefined) {
    conditions.push('account_id = ?');
    params.push(query.accountId);
  }
  let from = 'jobs';
  if (query.statuses !== undefined) {
    conditions.push('status IN (SELECT value FROM json_each(?))');
    params.push(JSON.stringify(query.statuses));
    if (query.statuses.every((status) => !isTerminalStatus(status))) {
      // SQLite would rather walk jobs_by_created for the order; the active jobs are few.
      from = 'jobs INDEXED BY jobs_one_active_per_account';
      conditions.push(ACTIVE_CONDITION);
    } else if (query.statuses.every(isTerminalStatus)) {
      conditions.push(FINISHED_CONDITION);
    }
  }
  const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
  params.push(limit);
  return { sql: `SELECT * FROM ${from} ${where} ORDER BY created_at DESC, row_seq DESC LIMIT ?`, params };
}

/**
 * Core's `claimTransition`, written in SQL so that the claim stays one statement (pick the oldest
 * queued job of the allowed sources and take it) instead of a read, a decision and a write. The
 * conformance suite's `claim-transition` test holds it to exactly what `claimTransition` gives.
 * The change stamp is taken in the statement too.
 */
export const CLAIM_JOB_SQL = `
  UPDATE jobs SET status = 'running', attempt = attempt + 1, started_at = coalesce(started_at, ?),
    heartbeat_at = ?, lease_expires_at = ?, error = NULL, waiting = NULL, updated_at = ?, lease_token = ?,
    worker_id = ?, change_seq = ${NEXT_CHANGE_SEQ}
  WHERE status = 'queued' AND id = (
    SELECT id FROM jobs
    WHERE status = 'queued' AND (? IS NULL OR source IN (SELECT value FROM json_each(?)))
    ORDER BY created_at, row_seq LIMIT 1
  )
  RETURNING *`;

export const claimJobParams = (input: ClaimInput, token: string, now: number): SQLInputValue[] => [
  now,
  now,
  now + input.leaseMs,
  now,
  token,
  input.workerId,
  input.sources === undefined ? null : 1,
  JSON.stringify(input.sources ?? []),
];

/**
 * A heartbeat: the lease extended and the beat recorded, fenced in the statement itself (running,
 * this token, lease not expired by the store's clock), so it is one statement. No row: lease lost.
 */
export const RENEW_LEASE_SQL = `
  UPDATE jobs SET lease_expires_at = ?, heartbeat_at = ?, updated_at = ?
  WHERE id = ? AND status = 'running' AND lease_token = ? AND lease_expires_at > ?
  RETURNING *`;

export const renewLeaseParams = (lease: Lease, leaseMs: number, now: number): SQLInputValue[] => [
  now + leaseMs,
  now,
  now,
  lease.jobId,
  lease.token,
  now,
];

export function logFromRow(row: SqlRow): LogEntry {
  const entry: LogEntry = {
    jobId: String(row.job_id),
    seq: Number(row.seq),
    at: toIso(Number(row.at)),
    level: row.level as LogLevel,
    message: String(row.message),
  };
  if (row.data !== null) entry.data = JSON.parse(String(row.data));
  return entry;
}

export function accountStateFromRow(row: SqlRow): AccountState {
  return {
    source: String(row.source),
    accountId: String(row.account_id),
    cursor: str(row.cursor),
    checkpoint: json<SyncCheckpoint>(row.checkpoint),
    lastSyncedAt: iso(num(row.last_synced_at)),
    lastFullSyncAt: iso(num(row.last_full_sync_at)),
    lastJobId: str(row.last_job_id),
    updatedAt: toIso(Number(row.updated_at)),
  };
}
