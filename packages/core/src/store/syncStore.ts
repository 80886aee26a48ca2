import { SyncError } from '../errors';
import type {
  AccountKey,
  AccountState,
  Job,
  JobCounters,
  JobError,
  JobPhase,
  JobStatus,
  JobTrigger,
  JobWaiting,
  LogEntry,
  LogInput,
  SyncCheckpoint,
  SyncMode,
  TerminalJobStatus,
} from '../job/job';
import { JOB_TRIGGERS, SYNC_MODES } from '../job/job';
import type { DecideTransition } from '../job/jobLifecycle';
import type { MailLabel, MailMessage, SinkWrite } from './sink';

/**
 * Proof that a worker owns a running job. Every worker write carries it; the store applies the
 * write only while `token` is the job's current lease token AND the lease has not expired (by the
 * store's clock), and otherwise throws `LeaseLostError` and changes nothing.
 */
export interface Lease {
  jobId: string;
  workerId: string;
  /** Random, new on every claim. */
  token: string;
}

export interface ClaimedJob {
  job: Job;
  lease: Lease;
}

/**
 * What a write that may append log lines returns: the job as written, and exactly the lines it
 * appended, with their seq and time (`[]` when none). Callers emit these; they never rebuild them.
 */
export interface JobWrite {
  job: Job;
  logs: LogEntry[];
}

export interface CreateJobInput extends AccountKey {
  mode: SyncMode;
  trigger: JobTrigger;
  /** Log lines written atomically with the new job (seq 1…). Not written when an active job exists. */
  logs?: LogInput[];
}

export type CreateJobResult =
  /** A new queued job was created, with its first lines. */
  | { job: Job; logs: LogEntry[]; created: true }
  /** A queued or running job already held the account: it is returned unchanged, no line written. */
  | { job: Job; logs: []; created: false };

export interface ListJobsQuery {
  source?: string;
  accountId?: string;
  statuses?: readonly JobStatus[];
  /** At most this many (default 50, capped at 500 by every store). */
  limit?: number;
}

export interface ClaimInput {
  workerId: string;
  leaseMs: number;
  /** Only claim jobs of these sources (the ones the worker can run). All when omitted. */
  sources?: readonly string[];
}

/** The progress fields a worker may set. `percent` and `updatedAt` are derived by the store. */
export interface ProgressPatch {
  phase?: JobPhase | null;
  mode?: SyncMode;
  counters?: JobCounters;
  categoryCounts?: Record<string, number>;
  ratePerSec?: number | null;
  etaSeconds?: number | null;
  currentItem?: string | null;
  /** What the job waits for (`null`: nothing); see `Job.waiting`. */
  waiting?: JobWaiting | null;
}

/**
 * A durable work list per account: ids a source listed and has not fetched yet (Gmail: listed
 * message ids with their thread). It lets listing itself resume after a crash without holding
 * 500,000 ids in memory or in one checkpoint blob.
 */
export interface StagedItem {
  id: string;
  /** Items of one group are read together (Gmail: the thread id); `null` when none. */
  group: string | null;
}

export interface StageChange {
  /** Remove every staged item of the account first. */
  clear?: boolean;
  /** Add items (an id already staged is left as it is). */
  add?: StagedItem[];
  /** Remove items by id (unknown ids are ignored). */
  remove?: string[];
}

export interface ListStagedQuery {
  /** Return items strictly after this one in (group, id) order; from the start when omitted. */
  after?: StagedItem;
  /** At most this many (required; stores cap it at 10,000). */
  limit: number;
}

/** One batch, committed in ONE transaction, fenced by the lease. */
export interface BatchCommit {
  /** Data for the sink (default `messages`/`labels` tables, or the app's own sink). */
  write?: SinkWrite;
  stage?: StageChange;
  /** `undefined` leaves the account's checkpoint as it is; `null` clears it. */
  checkpoint?: SyncCheckpoint | null;
  progress?: ProgressPatch;
  logs?: LogInput[];
}

/** Ends the job: its lifecycle fields are core's `finishChange(status, now, error)`. */
export interface FinishInput {
  status: TerminalJobStatus;
  /** Ignored on `completed`. */
  error?: JobError | null;
  progress?: ProgressPatch;
  /**
   * On `completed`: the account's new cursor (when given), the checkpoint is cleared, staged items
   * are cleared, `lastSyncedAt` is set (and `lastFullSyncAt` for a full sync). On any other status
   * the checkpoint and staged items are kept so a later job continues.
   */
  cursor?: string | null;
  logs?: LogInput[];
}

export interface GetLogsQuery {
  /** Only lines with `seq > afterSeq` (default 0). */
  afterSeq?: number;
  /** At most this many (default 500, capped at 5,000). */
  limit?: number;
}

/** A change to a job, as the store tells subscribers in any process. */
export interface StoreNotice {
  jobId: string;
  status: JobStatus;
  lastLogSeq: number;
}

export interface StoreCapabilities {
  /** Several processes may share the store (SQLite file, PostgreSQL). */
  multiProcess: boolean;
  /** `subscribe` delivers notices from other processes (PostgreSQL LISTEN/NOTIFY, SQLite `PRAGMA data_version`). */
  crossProcessNotices: boolean;
}

/**
 * The one storage contract of syncjob. Every method is atomic. Methods taking a `Lease` are
 * *fenced*: they change nothing and throw `LeaseLostError` (code `LEASE_LOST`) unless the lease
 * token is the job's current one, the job is `running` and the lease has not expired.
 * Unreachable storage surfaces as `SyncError` code `STORE_UNAVAILABLE`.
 *
 * A store holds no lifecycle rule: the transitions (and their log lines) come from core's
 * `jobLifecycle` (`newJob`, `claimTransition`, `finishChange`, or a `DecideTransition` the caller
 * passes), and the store applies them atomically with the read they were computed from. Applying a
 * transition sets each defined field of its `change`, drops the lease token when
 * `change.leaseExpiresAt` is `null`, sets `updatedAt` to now, derives `percent`, and appends its
 * lines (seq after `lastLogSeq`, gap-free).
 */
export interface SyncStore {
  /** `memory`, `sqlite`, `postgres` … */
  readonly kind: string;
  readonly capabilities: StoreCapabilities;

  // ── Jobs (control plane: any caller) ────────────────────────────────────────────────────────

  /**
   * Creates the job core's `newJob` describes (`queued`, attempt 0) with `input.logs` unless a
   * `queued` or `running` job exists for the account, in which case that job is returned with
   * `created: false` and nothing is written. Race-proof across processes: concurrent calls create
   * exactly one job. Creates the account state when missing and sets its `lastJobId`.
   */
  createJob(input: CreateJobInput): Promise<CreateJobResult>;

  /** The job, or `null` when no job has this id. */
  getJob(jobId: string): Promise<Job | null>;

  /** The `queued` or `running` job of the account, or `null` when none. */
  getActiveJob(key: AccountKey): Promise<Job | null>;

  /** Jobs matching the query, newest first (`createdAt` descending); `[]` when none. */
  listJobs(query?: ListJobsQuery): Promise<Job[]>;

  /**
   * Compare-and-set on one job (control plane, e.g. a cancel): reads the job, calls
   * `decide(job, now)` and applies the transition it returns in the same atomic step, so nothing
   * changes the job in between. Returns the job with the lines written (`logs: []` and the job as
   * read when `decide` returned `null`), or `null` when no job has this id.
   */
  updateJob(jobId: string, decide: DecideTransition): Promise<JobWrite | null>;

  /**
   * Compare-and-set on every job whose worker stopped heart-beating: each `running` job whose lease
   * expired by the store's clock, or that has no lease expiry at all (see core's `isLeaseExpired`),
   * oldest first, is passed to `decide(job, now)` and what it returns is applied atomically with
   * that read. Each job is changed by exactly one of several concurrent sweepers. Returns what it
   * changed (`[]` when none).
   */
  sweepExpired(decide: DecideTransition): Promise<JobWrite[]>;

  // ── Worker (fenced) ─────────────────────────────────────────────────────────────────────────

  /**
   * Claims the oldest `queued` job: applies core's `claimTransition(job, now, leaseMs)` with a new
   * lease token. Concurrent claims of one job: exactly one wins. `null` when nothing is queued.
   */
  claimJob(input: ClaimInput): Promise<ClaimedJob | null>;

  /** Extends the lease to `now + leaseMs` and records the heartbeat. Returns the job (check `cancelRequested`). */
  renewLease(lease: Lease, leaseMs: number): Promise<Job>;

  /** Writes progress fields. Returns the updated job. */
  updateProgress(lease: Lease, patch: ProgressPatch): Promise<Job>;

  /** Writes the sink data, staged items, checkpoint, progress and logs of one batch together. */
  commitBatch(lease: Lease, commit: BatchCommit): Promise<JobWrite>;

  /**
   * Ends the job: applies core's `finishChange(status, now, error)`, the progress and the lines, and
   * updates the account state (see `FinishInput`).
   */
  finishJob(lease: Lease, input: FinishInput): Promise<JobWrite>;

  /**
   * Fenced compare-and-set (graceful shutdown: core's `releaseTransition`): reads the job under the
   * lease, calls `decide(job, now)` and applies the transition atomically with that read, so a
   * cancel requested meanwhile is seen. A `null` decision changes nothing.
   */
  releaseJob(lease: Lease, decide: DecideTransition): Promise<JobWrite>;

  // ── Logs ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Appends lines with seq `lastLogSeq + 1 …`, gap-free under any concurrency. Fenced when a lease
   * is given; without one (control-plane lines) it appends to any job. Throws `SyncError`
   * `NOT_FOUND` when no job has this id. Returns the stored lines.
   */
  appendLogs(jobId: string, entries: LogInput[], lease?: Lease): Promise<LogEntry[]>;

  /** Lines after `afterSeq` in seq order; `[]` when none (or no such job). */
  getLogs(jobId: string, query?: GetLogsQuery): Promise<LogEntry[]>;

  // ── Accounts ────────────────────────────────────────────────────────────────────────────────

  /** The account's state, or `null` when no job was ever created for it. */
  getAccountState(key: AccountKey): Promise<AccountState | null>;

  /** Every account state (of one source when given), ordered by source then accountId. */
  listAccountStates(query?: { source?: string }): Promise<AccountState[]>;

  /** Staged items of the account in (group, id) order; `[]` when none. */
  listStaged(key: AccountKey, query: ListStagedQuery): Promise<StagedItem[]>;

  /** Number of staged items of the account. */
  countStaged(key: AccountKey): Promise<number>;

  // ── Synced data (the default sink) ──────────────────────────────────────────────────────────

  /**
   * Reads what the default sink stored. When the store was given an app's own sink, these read the
   * (empty) default tables.
   */
  readonly data: MailDataReader;

  // ── Shared quota (one budget spent by every worker of a deployment) ─────────────────────────

  /**
   * Takes `units` from every window at once, or from none: granted when, for every window, the
   * units fit under its `limit` (`used + units <= limit`) or the window holds nothing yet (a take
   * larger than a whole window goes alone rather than never). A missing row counts as empty (a
   * granted take creates it). Atomic across every process sharing the store: concurrent takes never
   * overspend a window. The store keeps no rule about what a window means.
   */
  takeQuota(input: TakeQuotaInput): Promise<TakeQuotaResult>;

  /**
   * The demand registry: writes the `upsert` rows, removes the `remove` demanders, deletes rows
   * seen before `activeSince` and windows expired by `now`, and returns every row of the scope
   * left (in demander order), all in one atomic step.
   */
  reportQuotaDemand(input: ReportQuotaDemandInput): Promise<QuotaDemand[]>;

  // ── Notifications and lifecycle ─────────────────────────────────────────────────────────────

  /**
   * Calls `listener` when any job changes (status, progress, logs), including changes made by
   * other processes when `capabilities.crossProcessNotices`. Returns an unsubscribe function.
   */
  subscribe(listener: (notice: StoreNotice) => void): () => void;

  /** Releases connections and timers. The store is unusable afterwards. */
  close(): Promise<void>;
}

export interface ListMessagesQuery {
  /** Messages with an id greater than this, in id order; from the first when omitted. */
  afterId?: string;
  /** At most this many (default 50, capped at 10,000). */
  limit?: number;
}

/** Reads of the default sink's `messages` and `labels` tables, per account. */
export interface MailDataReader {
  /** Stored messages of the account in id order; `[]` when none. */
  listMessages(key: AccountKey, query?: ListMessagesQuery): Promise<MailMessage[]>;
  /** The newest stored messages (by `internalDate`, then id), at most `limit` (default 50). */
  latestMessages(key: AccountKey, limit?: number): Promise<MailMessage[]>;
  countMessages(key: AccountKey): Promise<number>;
  /** Stored labels of the account in id order. */
  listLabels(key: AccountKey): Promise<MailLabel[]>;
}

// ── Shared quota ────────────────────────────────────────────────────────────────────────────────

/**
 * One row of a shared budget a take counts against (e.g. one slice of the project's minute, or one
 * day). The caller names and sizes it; the store only counts units in it.
 */
export interface QuotaWindow {
  /** The row's key within the scope (`slice:29071234`, `day:20420`), chosen by the caller. */
  key: string;
  /** The most units the row may hold. */
  limit: number;
  /** Epoch ms after which the row is of no use: `reportQuotaDemand` deletes it from then on. */
  expiresAt: number;
}

export interface TakeQuotaInput {
  /** The budget the windows belong to (one per provider project). */
  scope: string;
  /** Whole units to take, at least 0. `0` takes nothing and reads what the windows hold. */
  units: number;
  windows: readonly QuotaWindow[];
}

export interface TakeQuotaResult {
  /** Whether the units were added to every window. */
  granted: boolean;
  /** Units each window holds after the call (in `windows` order), granted or not. */
  used: number[];
}

/** A party that wants units of a scope's budget (one account being synced), as the registry holds it. */
export interface QuotaDemand {
  /** Who wants the units (`gmail:ada@example.com`). */
  demander: string;
  /** Higher is served first (manual syncs before scheduled ones). */
  priority: number;
  /** Whole units per window the demander asked for lately; `null` when it would take any amount. */
  wanted: number | null;
  /** Epoch ms of the report, by the reporter's clock. */
  seenAt: number;
}

export interface ReportQuotaDemandInput {
  scope: string;
  /** Rows to write (a demander already registered is overwritten). */
  upsert?: readonly QuotaDemand[];
  /** Demanders to remove (their work ended). */
  remove?: readonly string[];
  /** Rows seen before this epoch ms are deleted, not returned: their demander stopped asking. */
  activeSince: number;
  /** Window rows of the scope with `expiresAt <= now` are deleted. */
  now: number;
}

/** Helpers shared by the stores' implementations. */
export const LIMITS = {
  listJobsDefault: 50,
  listJobsMax: 500,
  logsDefault: 500,
  logsMax: 5000,
  stagedMax: 10_000,
  messagesDefault: 50,
  messagesMax: 10_000,
} as const;

export const clampLimit = (value: number | undefined, fallback: number, max: number): number => {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(1, Math.floor(value)));
};

/**
 * Applies `patch` to a job being written, the way every store must: an `undefined` field keeps the
 * stored value, `null` is a value. Counters and category counts are copied, so the caller's patch
 * can change afterwards without reaching the store.
 */
export function applyProgressPatch(
  target: Pick<Job, keyof ProgressPatch>,
  patch: ProgressPatch | undefined,
): void {
  if (!patch) return;
  if (patch.phase !== undefined) target.phase = patch.phase;
  if (patch.mode !== undefined) target.mode = patch.mode;
  if (patch.counters !== undefined) target.counters = { ...patch.counters };
  if (patch.categoryCounts !== undefined) target.categoryCounts = { ...patch.categoryCounts };
  if (patch.ratePerSec !== undefined) target.ratePerSec = patch.ratePerSec;
  if (patch.etaSeconds !== undefined) target.etaSeconds = patch.etaSeconds;
  if (patch.currentItem !== undefined) target.currentItem = patch.currentItem;
  if (patch.waiting !== undefined) target.waiting = patch.waiting === null ? null : { ...patch.waiting };
}

/**
 * The stored lines for `entries` appended to a job: seqs continue from `job.lastLogSeq` with no
 * gap, and `job.lastLogSeq` is advanced past them, so the caller must save the job in the same
 * write. `copyData` gives each line its own `data` (a store copies it the way it will read it back).
 */
export function newLogEntries(
  job: { id: string; lastLogSeq: number },
  entries: readonly LogInput[] | undefined,
  at: string,
  copyData: (data: Record<string, unknown>) => Record<string, unknown>,
): LogEntry[] {
  const lines = (entries ?? []).map((entry, index): LogEntry => {
    const line: LogEntry = {
      jobId: job.id,
      seq: job.lastLogSeq + index + 1,
      at,
      level: entry.level,
      message: entry.message,
    };
    if (entry.data !== undefined) line.data = copyData(entry.data);
    return line;
  });
  job.lastLogSeq += lines.length;
  return lines;
}

const invalidInput = (message: string) => new SyncError('INVALID_INPUT', message, { retryable: false });

/**
 * Checks a `createJob` input the way every store must, before touching storage: throws `SyncError`
 * `INVALID_INPUT` unless it names a source and an account (non-empty strings), a sync mode and a
 * trigger.
 */
export function checkCreateJobInput(input: CreateJobInput): void {
  if (typeof input?.source !== 'string' || input.source === '') {
    throw invalidInput('createJob: source must be a non-empty string.');
  }
  if (typeof input.accountId !== 'string' || input.accountId === '') {
    throw invalidInput('createJob: accountId must be a non-empty string.');
  }
  if (!SYNC_MODES.includes(input.mode)) {
    throw invalidInput(`createJob: mode must be one of ${SYNC_MODES.join(', ')}, got ${String(input.mode)}.`);
  }
  if (!JOB_TRIGGERS.includes(input.trigger)) {
    throw invalidInput(
      `createJob: trigger must be one of ${JOB_TRIGGERS.join(', ')}, got ${String(input.trigger)}.`,
    );
  }
}

/** Checks a lease length the way every store must: `INVALID_INPUT` unless a positive number of ms. */
export function checkLeaseMs(leaseMs: number): void {
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw invalidInput(`leaseMs must be a positive number of milliseconds, got ${String(leaseMs)}.`);
  }
}

/**
 * Checks a `takeQuota` input the way every store must, before touching storage: throws `SyncError`
 * `INVALID_INPUT` on a negative or fractional take, no window, or a window without a key, a
 * positive limit or an expiry.
 */
export function checkTakeQuota(input: TakeQuotaInput): void {
  const bad = (message: string) => invalidInput(`takeQuota: ${message}`);
  if (typeof input?.scope !== 'string' || input.scope === '') throw bad('scope must be a non-empty string.');
  if (!Number.isSafeInteger(input.units) || input.units < 0) {
    throw bad(`units must be a whole number of at least 0, got ${String(input.units)}.`);
  }
  if (!Array.isArray(input.windows) || input.windows.length === 0) throw bad('give at least one window.');
  for (const window of input.windows) {
    if (typeof window?.key !== 'string' || window.key === '') throw bad('each window needs a key.');
    if (!(window.limit > 0) || !Number.isFinite(window.limit)) {
      throw bad(`window ${window.key} needs a positive limit, got ${String(window.limit)}.`);
    }
    if (!Number.isFinite(window.expiresAt)) throw bad(`window ${window.key} needs an expiry (epoch ms).`);
  }
}

/**
 * The one rule of `takeQuota`, for stores that compute it in JavaScript: whether `units` may be
 * added to windows holding `used` (PostgreSQL states the same rule in SQL).
 */
export function quotaTakeFits(
  units: number,
  windows: readonly QuotaWindow[],
  used: readonly number[],
): boolean {
  return windows.every((window, index) => {
    const held = used[index] ?? 0;
    return units === 0 || held === 0 || held + units <= window.limit;
  });
}
