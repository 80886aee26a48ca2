import { EventEmitter } from 'eventemitter3';
import PQueue from 'p-queue';
import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import { SyncError } from '../errors';
import type { CycleEvent, SyncEngineEvents } from '../events/syncEvents';
import { terminalEventOf } from '../events/syncEvents';
import type {
  AccountKey,
  AccountState,
  Job,
  JobTrigger,
  LogEntry,
  LogInput,
  RequestedSyncMode,
  SyncMode,
} from '../job/job';
import { isActiveStatus, isTerminalStatus, newId } from '../job/job';
import { cancelTransition, expireWith } from '../job/jobLifecycle';
import { doneText } from '../job/jobTexts';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';
import type { ScheduleHandle, ScheduleOptions } from '../scheduler/scheduler';
import { startSchedule } from '../scheduler/scheduler';
import type { SyncSource } from '../source/syncSource';
import type { ClaimedJob, GetLogsQuery, ListJobsQuery, StoreNotice, SyncStore } from '../store/syncStore';
import type { StartInput, StartResult, StopOptions, SyncEngine, SyncEngineOptions } from './engineTypes';
import type { JobRun, JobRunEvents } from './jobRun';
import { startJobRun } from './jobRun';
import type { RetryPolicy } from './retryPolicy';
import { createRetryPolicy } from './retryPolicy';
import type { SliceRunOptions, WorkOptions, WorkResult } from './workSlice';
import { runWorkSlice } from './workSlice';

const MAX_ACCOUNT_ID_LENGTH = 512;
const REQUESTED_MODES: readonly RequestedSyncMode[] = ['auto', 'full', 'incremental'];
const TRIGGERS: readonly JobTrigger[] = ['manual', 'schedule', 'resume'];

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
  readonly #worker: boolean;
  readonly #concurrency: number;
  readonly #pollIntervalMs: number;
  readonly #leaseMs: number;
  readonly #heartbeatMs: number;
  readonly #autoResume: boolean;
  readonly #maxAttempts: number;
  readonly #emitIntervalMs: number;
  readonly #writeIntervalMs: number;
  readonly #eta: { halfLifeMs: number; minSignalMs: number };
  readonly #retryPolicy: RetryPolicy;
  readonly #queue: PQueue;
  /** Runs of this process by job id: lets `cancel` abort at once and `stop` release them. */
  readonly #runs = new Map<string, JobRun>();
  readonly #schedules = new Set<ScheduleHandle>();
  readonly #onJobFinished: ((job: Job) => void | Promise<void>) | undefined;
  /** `onJobFinished` calls under way: `stop` waits for them so a notification is not cut off at exit. */
  readonly #hooks = new Set<Promise<void>>();
  readonly #logger: SyncLogger;

  /** The worker loop's current failure, reported once: set while its polls keep failing. */
  #workerFailure: string | null = null;
  #workerRunning = false;
  #stopping = false;
  #pollTimer: TimerHandle | null = null;
  /** The poll under way, if any: one at a time, and `stop` waits for its claim to land. */
  #tickPromise: Promise<void> | null = null;
  #wakeRequested = false;
  /** Ends the store subscription that wakes the idle worker; set while the worker runs. */
  #unsubscribeNotices: (() => void) | null = null;

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
    this.#worker = options.worker ?? true;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
    this.#pollIntervalMs = Math.max(1, options.pollIntervalMs ?? 1_000);
    this.#leaseMs = Math.max(1, options.leaseMs ?? 60_000);
    this.#heartbeatMs = Math.max(1, options.heartbeatMs ?? 10_000);
    if (this.#heartbeatMs >= this.#leaseMs) {
      // Otherwise every lease would expire between two heartbeats and each job would be run twice.
      throw new SyncError(
        'INVALID_INPUT',
        `heartbeatMs (${this.#heartbeatMs}) must be shorter than leaseMs (${this.#leaseMs}); a few heartbeats per lease is usual (10 s and 60 s by default).`,
      );
    }
    this.#autoResume = options.autoResume ?? true;
    this.#maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3));
    this.#emitIntervalMs = Math.max(0, options.progress?.emitIntervalMs ?? 250);
    this.#writeIntervalMs = Math.max(1, options.progress?.writeIntervalMs ?? 1_000);
    this.#eta = {
      halfLifeMs: options.eta?.halfLifeMs ?? 20_000,
      minSignalMs: options.eta?.minSignalMs ?? 5_000,
    };
    this.#retryPolicy = createRetryPolicy({ clock: this.#clock, ...options.retry });
    this.#queue = new PQueue({ concurrency: this.#concurrency });
    this.#onJobFinished = options.onJobFinished;
    this.#logger = options.logger ?? defaultLogger;
    if (this.#worker) this.startWorker();
  }

  // ── Control plane ───────────────────────────────────────────────────────────────────────────

  async start(input: StartInput): Promise<StartResult> {
    const source = validateStart(input, this.#sources);
    const key: AccountKey = { source, accountId: input.accountId };
    const requested = input.mode ?? 'auto';
    let trigger = input.trigger ?? 'manual';

    // A dead worker's job would otherwise block this account until the next poll.
    await this.#sweep();

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

    this.#emitLogs(result.logs);
    this.#emitStatus(result.job);
    this.#wake();
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
    this.#emitLogs(logs);
    this.#emitStatus(updated);
    if (updated.status === 'cancelled') this.#emitTerminal(updated);
    // A run of this process stops now; a run elsewhere notices at its next heartbeat or batch.
    this.#runs.get(jobId)?.stop('cancel');
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
    const handle = startSchedule(
      {
        store: this.store,
        clock: this.#clock,
        sourceIds: this.sourceIds,
        start: (input) => this.start(input),
        cycleEnded: (event) => this.#cycleEnded(event),
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
    if (this.#workerRunning) return;
    this.#workerRunning = true;
    this.#stopping = false;
    this.#unsubscribeNotices ??= this.store.subscribe((notice) => this.#onNotice(notice));
    this.#wake();
  }

  async stop(options: StopOptions = {}): Promise<void> {
    const timeoutMs = Math.max(0, options.timeoutMs ?? 30_000);
    this.#stopping = true;
    this.#workerRunning = false;
    this.#unsubscribeNotices?.();
    this.#unsubscribeNotices = null;
    if (this.#pollTimer !== null) this.#clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    // Schedules first: a cycle must not queue new jobs for a worker that is going away.
    for (const schedule of this.#schedules) schedule.stop();
    this.#schedules.clear();

    const drain = async () => {
      // A claim in flight lands in `#runs` (and is stopped at launch) before we collect the runs.
      await this.#tickPromise;
      const runs = [...this.#runs.values()];
      for (const run of runs) run.stop('shutdown');
      await Promise.all(runs.map((run) => run.done));
      // Hooks of jobs that ended meanwhile (a cancel that raced the shutdown) included.
      while (this.#hooks.size > 0) await Promise.all([...this.#hooks]);
    };
    let timer: TimerHandle | null = null;
    const timedOut = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(resolve, timeoutMs);
    });
    await Promise.race([drain(), timedOut]);
    if (timer !== null) this.#clock.clearTimeout(timer);
  }

  work(options?: WorkOptions): Promise<WorkResult> {
    return runWorkSlice(
      {
        clock: this.#clock,
        store: this.store,
        sourceIds: this.sourceIds,
        concurrency: this.#concurrency,
        stopping: () => this.#stopping,
        sweep: () => this.#sweep(),
        claim: () =>
          this.store.claimJob({ workerId: this.workerId, leaseMs: this.#leaseMs, sources: this.sourceIds }),
        launch: (claimed, slice) => this.#launch(claimed, slice),
      },
      options,
    );
  }

  async runPendingJobs(): Promise<number> {
    await this.#sweep();
    const runs = await this.#claimPass();
    await Promise.all(runs.map((run) => run.done));
    return runs.length;
  }

  /**
   * A job became claimable (created, released, or swept back to the queue), possibly by another
   * process: poll now instead of at the next interval. `#wake` folds a burst of notices into at
   * most one more pass, and a worker without a free slot waits for a run to end (which wakes it).
   */
  #onNotice(notice: StoreNotice): void {
    if (notice.status !== 'queued') return;
    if (this.#queue.size + this.#queue.pending >= this.#concurrency) return;
    this.#wake();
  }

  /** Polls now (coalescing wake-ups that arrive while a poll runs). */
  #wake(): void {
    if (!this.#workerRunning || this.#stopping) return;
    if (this.#tickPromise) {
      this.#wakeRequested = true;
      return;
    }
    this.#tickPromise = this.#tick().finally(() => {
      this.#tickPromise = null;
      // A wake-up that came after the poll's last claim is not left to the next poll.
      if (this.#wakeRequested) this.#wake();
    });
  }

  async #tick(): Promise<void> {
    if (this.#pollTimer !== null) this.#clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    try {
      do {
        this.#wakeRequested = false;
        await this.#sweep();
        await this.#claimPass();
      } while (this.#wakeRequested && !this.#stopping);
      if (this.#workerFailure !== null) {
        this.#workerFailure = null;
        this.#logger.info?.('The worker loop works again: it claims queued jobs.');
      }
    } catch (error) {
      // The store is unreachable or failing: the next poll tries again. Said once per outage, not at
      // every poll, and never silently (a wrong path or a dead database would otherwise go unseen).
      if (this.#workerFailure === null) {
        const cause = SyncError.fromUnknown(error);
        this.#workerFailure = cause.code;
        this.#logger.error(
          `The worker loop cannot claim jobs, so queued jobs wait (it retries every ${this.#pollIntervalMs} ms and says so once it has recovered). Cause: ${describeError(error)}`,
          { workerId: this.workerId, code: cause.code },
        );
      }
    } finally {
      if (this.#workerRunning && !this.#stopping) {
        this.#pollTimer = this.#clock.setTimeout(() => this.#wake(), this.#pollIntervalMs);
      }
    }
  }

  /** Handles jobs whose worker died: resumed (queued again) or ended, with their events. */
  async #sweep(): Promise<void> {
    const changed = await this.store.sweepExpired(
      expireWith({ autoResume: this.#autoResume, maxAttempts: this.#maxAttempts }),
    );
    for (const { job, logs } of changed) {
      this.#emitLogs(logs);
      this.#emitStatus(job);
      this.#emitTerminal(job);
    }
  }

  /** Claims jobs while this worker has capacity and starts running them. */
  async #claimPass(): Promise<JobRun[]> {
    const started: JobRun[] = [];
    while (!this.#stopping && this.#queue.size + this.#queue.pending < this.#concurrency) {
      const claimed = await this.store.claimJob({
        workerId: this.workerId,
        leaseMs: this.#leaseMs,
        sources: this.sourceIds,
      });
      if (!claimed) break;
      started.push(this.#launch(claimed));
    }
    return started;
  }

  #launch(claimed: ClaimedJob, slice?: SliceRunOptions): JobRun {
    const source = this.#sources.get(claimed.job.source)!;
    const events: JobRunEvents = {
      status: (job) => this.#emitStatus(job),
      finished: (job) => this.#emitTerminal(job),
      progress: (jobId, progress) => this.#emitSafely('progress', { type: 'progress', jobId, progress }),
      logs: (entries) => this.#emitLogs(entries),
      quota: (job, units) =>
        this.#emitSafely('quota', {
          type: 'quota',
          jobId: job.id,
          source: job.source,
          accountId: job.accountId,
          units,
        }),
    };
    const run = startJobRun(claimed, {
      store: this.store,
      source,
      clock: this.#clock,
      retryPolicy: this.#retryPolicy,
      events,
      leaseMs: this.#leaseMs,
      heartbeatMs: this.#heartbeatMs,
      emitIntervalMs: this.#emitIntervalMs,
      writeIntervalMs: this.#writeIntervalMs,
      eta: this.#eta,
      logger: this.#logger,
      ...(slice ? { slice } : {}),
    });
    // A run of the same job still here lost its lease (the job was resumed and claimed again).
    this.#runs.get(run.jobId)?.stop('leaseLost');
    this.#runs.set(run.jobId, run);
    // Claimed while `stop` was under way: hand it straight back (released for another worker).
    if (this.#stopping) run.stop('shutdown');
    void this.#queue.add(() => run.done);
    void run.done.then(() => {
      // A newer run of the same job (this worker lost the lease, then claimed the job again) stays.
      if (this.#runs.get(run.jobId) === run) this.#runs.delete(run.jobId);
      // A slot is free: take the next queued job without waiting for the poll.
      this.#wake();
    });
    return run;
  }

  // ── Events ──────────────────────────────────────────────────────────────────────────────────

  #emitStatus(job: Job): void {
    this.#emitSafely('status', { type: 'status', jobId: job.id, job });
  }

  #emitTerminal(job: Job): void {
    const event = terminalEventOf(job);
    if (!event) return;
    this.#emitTerminalEvent(event);
    this.#callJobFinished(job);
  }

  /** Runs the hook detached from the job: its failure is logged and changes nothing. */
  #callJobFinished(job: Job): void {
    const hook = this.#onJobFinished;
    if (!hook) return;
    const call = (async () => {
      try {
        await hook(job);
      } catch (error) {
        const cause = SyncError.fromUnknown(error);
        this.#logger.error(`onJobFinished failed for job ${job.id} (${job.status}): ${cause.message}`, {
          jobId: job.id,
          code: cause.code,
        });
      }
    })();
    this.#hooks.add(call);
    void call.finally(() => this.#hooks.delete(call));
  }

  #cycleEnded(event: CycleEvent): void {
    const started = event.started.map((key) => `${key.source}/${key.accountId}`).join(', ') || 'none';
    const { active, reauthRequired, noSlot } = event.skipped;
    const text = `Sync cycle (${event.reason}): ${event.stale} of ${event.accounts} accounts due, started ${started}; skipped ${active} running, ${reauthRequired} needing re-authorisation, ${noSlot} for lack of a slot (${event.durationMs} ms)`;
    if (event.error)
      this.#logger.warn(`${text}; the cycle failed: ${event.error.message}`, { code: event.error.code });
    else this.#logger.info?.(text);
    this.#emitSafely('cycle', event);
  }

  #emitTerminalEvent(event: NonNullable<ReturnType<typeof terminalEventOf>>): void {
    switch (event.type) {
      case 'completed':
        this.#emitSafely('completed', { ...event, type: 'completed' });
        break;
      case 'failed':
        this.#emitSafely('failed', { ...event, type: 'failed' });
        break;
      case 'cancelled':
        this.#emitSafely('cancelled', { ...event, type: 'cancelled' });
        break;
      case 'interrupted':
        this.#emitSafely('interrupted', { ...event, type: 'interrupted' });
        break;
    }
  }

  /**
   * Listeners run synchronously inside the job's run: a listener that throws must not break the run
   * (a half-finished commit bookkeeping, a job failed by a UI bug). Its error is rethrown on its own
   * microtask, so it still surfaces as an uncaught error.
   */
  #emitSafely<K extends keyof SyncEngineEvents>(
    name: K,
    ...args: EventEmitter.EventArgs<SyncEngineEvents, K>
  ): void {
    try {
      this.emit(name, ...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  /** Lines exactly as the store wrote them. */
  #emitLogs(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.#emitSafely('log', { type: 'log', jobId: entry.jobId, entry });
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
  if (trigger !== undefined && !TRIGGERS.includes(trigger)) {
    throw new SyncError('INVALID_INPUT', `trigger must be one of ${TRIGGERS.join(', ')}.`);
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
