import type { EventEmitter } from 'eventemitter3';
import type { Clock } from '../clock';
import type { SyncEngineEvents } from '../events/syncEvents';
import type { AccountKey, AccountState, Job, JobTrigger, LogEntry, RequestedSyncMode } from '../job/job';
import type { SyncLogger } from '../logger';
import type { ProjectQuotaOptions } from '../quota/projectQuota';
import type { ScheduleHandle, ScheduleOptions } from '../scheduler/scheduler';
import type { SyncSource } from '../source/syncSource';
import type { GetLogsQuery, ListJobsQuery, SyncStore } from '../store/syncStore';
import type { WorkOptions, WorkResult } from './workSlice';

export interface StartInput extends AccountKey {
  /** `auto` (default) picks incremental when the account has a cursor, full otherwise. */
  mode?: RequestedSyncMode;
  /** Default `manual`. */
  trigger?: JobTrigger;
}

export type StartResult =
  | { job: Job; started: true }
  | { job: Job; started: false; reason: 'alreadyRunning' };

export interface SyncEngineOptions {
  /** Where jobs, logs, checkpoints and (by default) the synced data live. */
  store: SyncStore;
  /** The sources jobs can run, by `source.id`. */
  sources: readonly SyncSource<never>[] | readonly SyncSource[];
  /** Injected time (default: the system clock). */
  clock?: Clock;
  /** Identifies this worker in leases and logs (default: a random id). */
  workerId?: string;
  /**
   * Run a worker loop in this process that claims and runs queued jobs (default `true`). Set
   * `false` for a web process when separate worker processes run the jobs.
   */
  worker?: boolean;
  /** Jobs run at once by this engine's worker (default 2), under `p-queue`. */
  concurrency?: number;
  /**
   * How often an idle worker looks for queued or expired jobs, in ms (default 1,000). A job queued
   * or released where the store's notices reach (this process; other processes too on a store with
   * `capabilities.crossProcessNotices`, e.g. PostgreSQL) wakes the worker at once; the poll finds
   * the rest, and expired leases.
   */
  pollIntervalMs?: number;
  /** Lease time-to-live in ms (default 60,000). */
  leaseMs?: number;
  /** Heartbeat (lease renewal) interval in ms (default 10,000). */
  heartbeatMs?: number;
  /** Resume a job whose worker died (default `true`); when `false` such a job becomes `interrupted`. */
  autoResume?: boolean;
  /** Claims of one job before a dead worker's job is marked `interrupted` (default 3). */
  maxAttempts?: number;
  retry?: {
    /** Retries after the first attempt (default 6). */
    retries?: number;
    /**
     * Retries of a rate-limit answer (`RATE_LIMITED`, default 20): quota refusals are waited out
     * (honouring `Retry-After`) rather than failing a long sync after a few of them.
     */
    rateLimitRetries?: number;
    /** First back-off in ms (default 1,000). */
    minDelayMs?: number;
    /** Longest back-off in ms (default 60,000). */
    maxDelayMs?: number;
  };
  progress?: {
    /** Least time between two progress events to listeners, in ms (default 250). */
    emitIntervalMs?: number;
    /** Least time between two progress writes to the store per job, in ms (default 1,000). */
    writeIntervalMs?: number;
  };
  eta?: {
    /** Half-life of the rate smoothing in ms (default 20,000). */
    halfLifeMs?: number;
    /** Signal needed before an ETA is shown, in ms (default 5,000). */
    minSignalMs?: number;
  };
  /**
   * The provider project's quota, shared by every worker of the deployment through the store
   * (PostgreSQL across machines, a SQLite file across processes, memory in one process): the units
   * all workers spend stay under `unitsPerMinute` (and `unitsPerDay` when given), granted max-min
   * fairly across the accounts being synced, manual syncs first. Give every engine of the
   * deployment the same settings. Sources take units through `ctx.projectQuota`. The scheduler
   * starts new accounts' full syncs only while the day's budget lasts. Default: none (each source
   * limits only its own calls).
   */
  projectQuota?: ProjectQuotaOptions;
  /**
   * Called once for every job this process finished (completed, failed, cancelled, or interrupted
   * by this process's sweep), after the terminal event. An error it throws or rejects with is
   * logged (`logger.error`) and never changes the job. `stop()` waits for hooks under way (within
   * its timeout). Notifiers from `@syncjob/core/notifications` fit here.
   */
  onJobFinished?: (job: Job) => void | Promise<void>;
  /**
   * Where the engine reports what no job log holds: a worker loop that cannot reach the store
   * (`error`, once per outage, and `info` when it recovers), hook errors (`error`) and scheduler
   * cycles (`info`). `console`, pino and winston loggers fit as they are (see `SyncLogger`).
   * Default: `info` is silent, `warn` and `error` go to `console` with a `[syncjob]` prefix.
   */
  logger?: SyncLogger;
}

export interface StopOptions {
  /** Resolve at the latest after this many ms (default 30,000). */
  timeoutMs?: number;
}

/**
 * The engine: start, cancel and retry jobs, read them, and (unless `worker: false`) run them in the
 * background. Emits the typed events of `SyncEngineEvents`.
 */
export interface SyncEngine extends EventEmitter<SyncEngineEvents> {
  readonly store: SyncStore;
  readonly workerId: string;
  /** Ids of the registered sources. */
  readonly sourceIds: readonly string[];
  /** Idempotent and race-proof: one active job per account however many callers. */
  start(input: StartInput): Promise<StartResult>;
  /** Cancels a queued job at once, a running one within a batch or heartbeat. `NOT_FOUND`, `CONFLICT` when finished otherwise. */
  cancel(jobId: string): Promise<Job>;
  /** A new job resuming from the account's checkpoint. `NOT_FOUND`; `CONFLICT` unless failed, cancelled or interrupted. */
  retry(jobId: string): Promise<StartResult>;
  getJob(jobId: string): Promise<Job | null>;
  getActiveJob(key: AccountKey): Promise<Job | null>;
  listJobs(query?: ListJobsQuery): Promise<Job[]>;
  getLogs(jobId: string, query?: GetLogsQuery): Promise<LogEntry[]>;
  getAccountState(key: AccountKey): Promise<AccountState | null>;
  /** Starts the worker loop (done by the constructor unless `worker: false`). */
  startWorker(): void;
  /**
   * Graceful shutdown: stops the schedules and the claiming, stops running jobs after their current
   * commit (their checkpoint is saved with every batch), releases their leases so another worker
   * resumes them at once (`queued` again, no wait for the lease to expire), waits for
   * `onJobFinished` hooks under way, and resolves when all that is done or at the timeout. Wire it to
   * SIGTERM. The store stays open (close it after).
   */
  stop(options?: StopOptions): Promise<void>;
  /**
   * Starts a schedule (see `ScheduleOptions`): every `every`, an `auto` sync for each account not
   * synced within `staleAfter`, at most `concurrency` scheduled jobs at once, fair across accounts,
   * skipping accounts that need re-authorisation. Each cycle emits a `cycle` event. `stop()` on the
   * handle or the engine ends it.
   */
  schedule(options: ScheduleOptions): ScheduleHandle;
  /**
   * The user signed in again: starts a sync for the account now (`trigger: 'manual'`, mode `auto`),
   * which also ends the scheduler's skip of an account whose latest job failed with
   * `REAUTH_REQUIRED` (the skip lasts only while that failed job is the latest one). Idempotent like
   * `start`.
   */
  markReauthorized(key: AccountKey): Promise<StartResult>;
  /**
   * One time slice of work, for hosts that keep no process between requests (serverless functions;
   * create the engine with `worker: false` there, and call this from `POST {base}/work` or a cron).
   * Sweeps jobs of dead workers, claims queued jobs (up to `concurrency` at once, more as runs end
   * while the budget lasts), runs them for at most `maxMs` (default 25,000), stops each at a batch
   * boundary with its checkpoint committed, and hands it back at once (`queued`, no lease, no
   * attempt spent), so the next call resumes it. Progress, logs and the ETA (gaps between slices
   * included) go on across slices. `moreWork`: call again now.
   */
  work(options?: WorkOptions): Promise<WorkResult>;
}
