import { EventEmitter } from 'eventemitter3';
import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import { SyncError } from '../errors';
import type { SyncEngineEvents } from '../events/syncEvents';
import type {
  AccountKey,
  AccountState,
  Job,
  LogEntry,
  LogInput,
  RequestedSyncMode,
  SyncMode,
} from '../job/job';
import { isActiveStatus, isTerminalStatus, JOB_TRIGGERS, newId } from '../job/job';
import { cancelTransition } from '../job/jobLifecycle';
import { doneText } from '../job/jobTexts';
import type { SyncLogger } from '../logger';
import { createProjectQuotaGovernor, type ProjectQuotaGovernor } from '../quota/projectQuota';
import type { ScheduleHandle, ScheduleOptions } from '../scheduler/scheduler';
import { startSchedule } from '../scheduler/scheduler';
import type { SyncSource } from '../source/syncSource';
import type { GetLogsQuery, ListJobsQuery, SyncStore } from '../store/syncStore';
import type { StartInput, StartResult, StopOptions, SyncEngine, SyncEngineOptions } from './engineTypes';
import { EventFanOut } from './eventFanOut';
import { createRetryPolicy } from './retryPolicy';
import { WorkerLoop } from './workerLoop';
import type { WorkOptions, WorkResult } from './workSlice';

const MAX_ACCOUNT_ID_LENGTH = 512;
const REQUESTED_MODES: readonly RequestedSyncMode[] = ['auto', 'full', 'incremental'];

const noop = () => {};
/** A library stays quiet about routine work and speaks up about trouble. */
const defaultLogger: SyncLogger = {
  info: noop,
  warn: (message, data) =>
    data === undefined ? console.warn(`[syncjob] ${message}`) : console.warn(`[syncjob] ${message}`, data),
  error: (message, data) =>
    data === undefined ? console.error(`[syncjob] ${message}`) : console.error(`[syncjob] ${message}`, data),
};

/**
 * Creates the engine. Unless `worker: false`, a worker loop starts at once: it claims queued jobs of
 * the registered sources and runs them in the background.
 */
export function createSyncEngine(options: SyncEngineOptions): SyncEngine {
  return new SyncEngineImpl(options);
}

class SyncEngineImpl extends EventEmitter<SyncEngineEvents> implements SyncEngine {
  readonly store: SyncStore;
  readonly workerId: string;
  readonly sourceIds: readonly string[];

  readonly #sources: ReadonlyMap<string, SyncSource>;
  readonly #clock: Clock;
  readonly #schedules = new Set<ScheduleHandle>();
  /** The project budget every worker shares through the store (`projectQuota`), when set. */
  readonly #projectQuota: ProjectQuotaGovernor | undefined;
  /** Every event of the engine goes out through here (listeners and `onJobFinished`). */
  readonly #events: EventFanOut;
  /** Claims and runs the jobs (started at once unless `worker: false`). */
  readonly #worker: WorkerLoop;

  constructor(options: SyncEngineOptions) {
    super();
    this.store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.workerId = options.workerId ?? `worker-${newId()}`;
    const sources = new Map<string, SyncSource>();
    for (const source of options.sources as readonly SyncSource[]) {
      if (sources.has(source.id)) {
        throw new SyncError(
          'INVALID_INPUT',
          `Two sources share the id "${source.id}"; each id names one source.`,
        );
      }
      sources.set(source.id, source);
    }
    this.#sources = sources;
    this.sourceIds = [...sources.keys()];
    const leaseMs = Math.max(1, options.leaseMs ?? 60_000);
    const heartbeatMs = Math.max(1, options.heartbeatMs ?? 10_000);
    if (heartbeatMs >= leaseMs) {
      // Otherwise every lease would expire between two heartbeats and each job would be run twice.
      throw new SyncError(
        'INVALID_INPUT',
        `heartbeatMs (${heartbeatMs}) must be shorter than leaseMs (${leaseMs}); a few heartbeats per lease is usual (10 s and 60 s by default).`,
      );
    }
    const logger = options.logger ?? defaultLogger;
    this.#events = new EventFanOut({ emitter: this, onJobFinished: options.onJobFinished, logger });
    this.#projectQuota = options.projectQuota
      ? createProjectQuotaGovernor(this.store, this.#clock, options.projectQuota)
      : undefined;
    this.#worker = new WorkerLoop({
      store: this.store,
      ...(this.#projectQuota ? { projectQuota: this.#projectQuota } : {}),
      sources,
      workerId: this.workerId,
      clock: this.#clock,
      retryPolicy: createRetryPolicy({ clock: this.#clock, ...options.retry }),
      events: this.#events,
      logger,
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 2)),
      pollIntervalMs: Math.max(1, options.pollIntervalMs ?? 1_000),
      leaseMs,
      heartbeatMs,
      autoResume: options.autoResume ?? true,
      maxAttempts: Math.max(1, Math.floor(options.maxAttempts ?? 3)),
      emitIntervalMs: Math.max(0, options.progress?.emitIntervalMs ?? 250),
      writeIntervalMs: Math.max(1, options.progress?.writeIntervalMs ?? 1_000),
      eta: {
        halfLifeMs: options.eta?.halfLifeMs ?? 20_000,
        minSignalMs: options.eta?.minSignalMs ?? 5_000,
      },
    });
    if (options.worker ?? true) this.startWorker();
  }

  // ── Control plane ───────────────────────────────────────────────────────────────────────────

  async start(input: StartInput): Promise<StartResult> {
    const source = validateStart(input, this.#sources);
    const key: AccountKey = { source, accountId: input.accountId };
    const requested = input.mode ?? 'auto';
    let trigger = input.trigger ?? 'manual';

    // A dead worker's job would otherwise block this account until the next poll.
    await this.#worker.sweep();

    const account = await this.store.getAccountState(key);
    let mode: SyncMode;
    let message: string;
    if (account?.checkpoint) {
      // An unfinished sync continues where it stopped, in the mode it was in.
      mode = account.checkpoint.mode;
      if (trigger !== 'schedule') trigger = 'resume';
      message = `Sync queued (${trigger}): resuming the ${mode} sync from its checkpoint (${doneText(account.checkpoint.counters)})`;
    } else {
      mode = resolveMode(requested, account);
      const note =
        requested === 'incremental' && mode === 'full' ? ' — no cursor yet, so a full sync first' : '';
      message = `Sync queued: ${mode} sync (${trigger})${note}`;
    }

    const lines: LogInput[] = [{ level: 'info', message, data: { mode, trigger } }];
    const result = await this.store.createJob({ ...key, mode, trigger, logs: lines });
    if (!result.created) return { job: result.job, started: false, reason: 'alreadyRunning' };

    this.#events.logs(result.logs);
    this.#events.status(result.job);
    this.#worker.wake();
    return { job: result.job, started: true };
  }

  async cancel(jobId: string): Promise<Job> {
    const job = await this.#requireJob(jobId);
    if (job.status === 'cancelled') return job;
    if (isTerminalStatus(job.status)) {
      throw new SyncError('CONFLICT', `The sync already ended (${job.status}); there is nothing to cancel.`, {
        details: { jobId, status: job.status },
      });
    }
    const written = await this.store.updateJob(jobId, cancelTransition);
    if (!written) throw notFound(jobId);
    const { job: updated, logs } = written;
    if (isTerminalStatus(updated.status) && updated.status !== 'cancelled') {
      // It ended between our read and the request.
      throw new SyncError(
        'CONFLICT',
        `The sync already ended (${updated.status}); there is nothing to cancel.`,
        {
          details: { jobId, status: updated.status },
        },
      );
    }
    // No line written: the job had ended (cancelled by someone else) before the store read it.
    if (logs.length === 0) return updated;
    this.#events.logs(logs);
    this.#events.status(updated);
    if (updated.status === 'cancelled') this.#events.finished(updated);
    // A run of this process stops now; a run elsewhere notices at its next heartbeat or batch.
    this.#worker.stopRun(jobId, 'cancel');
    return updated;
  }

  async retry(jobId: string): Promise<StartResult> {
    const job = await this.#requireJob(jobId);
    if (isActiveStatus(job.status) || job.status === 'completed') {
      throw new SyncError(
        'CONFLICT',
        job.status === 'completed'
          ? 'The sync completed; start a new sync instead of retrying it.'
          : 'The sync is still running; wait for it to end or cancel it first.',
        { details: { jobId, status: job.status } },
      );
    }
    return this.start({ source: job.source, accountId: job.accountId, trigger: 'resume' });
  }

  schedule(options: ScheduleOptions): ScheduleHandle {
    const projectQuota = this.#projectQuota;
    const handle = startSchedule(
      {
        store: this.store,
        clock: this.#clock,
        sourceIds: this.sourceIds,
        start: (input) => this.start(input),
        cycleEnded: (event) => this.#events.cycle(event),
        ...(projectQuota ? { dailyQuotaRemaining: () => projectQuota.dailyRemaining() } : {}),
        onCompleted: (listener) => {
          const onCompleted = ({ job }: { job: Job }) => listener(job);
          this.on('completed', onCompleted);
          return () => this.off('completed', onCompleted);
        },
      },
      options,
    );
    this.#schedules.add(handle);
    return {
      stop: () => {
        this.#schedules.delete(handle);
        handle.stop();
      },
      runNow: () => handle.runNow(),
      get cycles() {
        return handle.cycles;
      },
    };
  }

  markReauthorized(key: AccountKey): Promise<StartResult> {
    return this.start({ source: key?.source, accountId: key?.accountId, trigger: 'manual' });
  }

  getJob(jobId: string): Promise<Job | null> {
    return this.store.getJob(jobId);
  }

  getActiveJob(key: AccountKey): Promise<Job | null> {
    return this.store.getActiveJob(key);
  }

  listJobs(query?: ListJobsQuery): Promise<Job[]> {
    return this.store.listJobs(query);
  }

  getLogs(jobId: string, query?: GetLogsQuery): Promise<LogEntry[]> {
    return this.store.getLogs(jobId, query);
  }

  getAccountState(key: AccountKey): Promise<AccountState | null> {
    return this.store.getAccountState(key);
  }

  // ── Worker ──────────────────────────────────────────────────────────────────────────────────

  startWorker(): void {
    this.#worker.start();
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const timeoutMs = Math.max(0, options.timeoutMs ?? 30_000);
    this.#worker.halt();
    // Schedules first: a cycle must not queue new jobs for a worker that is going away.
    for (const schedule of this.#schedules) schedule.stop();
    this.#schedules.clear();

    const drain = async () => {
      await this.#worker.drain();
      // Hooks of jobs that ended meanwhile (a cancel that raced the shutdown) included.
      await this.#events.settled();
    };
    let timer: TimerHandle | null = null;
    const timedOut = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, timeoutMs);
    });
    await Promise.race([drain(), timedOut]);
    if (timer !== null) this.#clock.clearTimeout(timer);
  }

  work(options?: WorkOptions): Promise<WorkResult> {
    return this.#worker.work(options);
  }

  /** One claim-and-run pass without the loop, for tests: reached through `runPendingJobs(engine)` of `@syncjob/core/testing`. */
  runPendingJobs(): Promise<number> {
    return this.#worker.runPending();
  }

  async #requireJob(jobId: string): Promise<Job> {
    if (typeof jobId !== 'string' || jobId.trim() === '') {
      throw new SyncError('INVALID_INPUT', 'A job id is required (a non-empty string).');
    }
    const job = await this.store.getJob(jobId);
    if (!job) throw notFound(jobId);
    return job;
  }
}

function validateStart(input: StartInput, sources: ReadonlyMap<string, SyncSource>): string {
  if (typeof input !== 'object' || input === null) {
    throw new SyncError('INVALID_INPUT', 'start() needs { source, accountId }.');
  }
  const { source, accountId, mode, trigger } = input;
  if (typeof source !== 'string' || !sources.has(source)) {
    const known = [...sources.keys()].join(', ') || 'none';
    throw new SyncError(
      'UNKNOWN_SOURCE',
      `No source "${String(source)}" is registered with this engine (registered: ${known}).`,
      {
        details: { source: String(source) },
      },
    );
  }
  if (typeof accountId !== 'string' || accountId.trim() === '' || accountId.length > MAX_ACCOUNT_ID_LENGTH) {
    throw new SyncError(
      'INVALID_INPUT',
      `accountId must be a non-empty string of at most ${MAX_ACCOUNT_ID_LENGTH} characters.`,
    );
  }
  if (mode !== undefined && !REQUESTED_MODES.includes(mode)) {
    throw new SyncError('INVALID_INPUT', `mode must be one of ${REQUESTED_MODES.join(', ')}.`);
  }
  if (trigger !== undefined && !JOB_TRIGGERS.includes(trigger)) {
    throw new SyncError('INVALID_INPUT', `trigger must be one of ${JOB_TRIGGERS.join(', ')}.`);
  }
  return source;
}

/** `auto` (and `incremental` without a cursor, which cannot run) become a full sync. */
function resolveMode(requested: RequestedSyncMode, account: AccountState | null): SyncMode {
  if (requested === 'full') return 'full';
  return account?.cursor ? 'incremental' : 'full';
}

const notFound = (jobId: string) =>
  new SyncError('NOT_FOUND', `No sync job has the id ${jobId}.`, { details: { jobId } });
