import PQueue from 'p-queue';
import type { Clock, TimerHandle } from '../clock';
import { SyncError } from '../errors';
import { expireWith } from '../job/jobLifecycle';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';
import type { ProjectQuotaGovernor } from '../quota/projectQuota';
import type { SyncSource } from '../source/syncSource';
import type { ClaimedJob, StoreNotice, SyncStore } from '../store/syncStore';
import type { EventFanOut } from './eventFanOut';
import type { JobRun, StopReason } from './jobRun';
import { startJobRun } from './jobRun';
import type { RetryPolicy } from './retryPolicy';
import type { SliceRunOptions, WorkOptions, WorkResult } from './workSlice';
import { runWorkSlice } from './workSlice';

/** The engine's normalised settings the worker needs (see `SyncEngineOptions` for their meaning). */
export interface WorkerLoopOptions {
  store: SyncStore;
  /** The project budget shared through the store, when the engine has one. */
  projectQuota?: ProjectQuotaGovernor;
  sources: ReadonlyMap<string, SyncSource>;
  workerId: string;
  clock: Clock;
  retryPolicy: RetryPolicy;
  events: EventFanOut;
  logger: SyncLogger;
  concurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  heartbeatMs: number;
  autoResume: boolean;
  maxAttempts: number;
  emitIntervalMs: number;
  writeIntervalMs: number;
  eta: { halfLifeMs: number; minSignalMs: number };
}

/**
 * The engine's worker: polls the store (and wakes on its notices), sweeps expired leases, claims
 * queued jobs of its sources up to `concurrency` and runs them; `halt` and `drain` hand them back
 * on shutdown.
 */
export class WorkerLoop {
  readonly #options: WorkerLoopOptions;
  readonly #sourceIds: readonly string[];
  readonly #queue: PQueue;
  /** Runs of this process by job id: lets `cancel` abort at once and `stop` release them. */
  readonly #runs = new Map<string, JobRun>();
  /** The worker loop's current failure, reported once: set while its polls keep failing. */
  #failure: string | null = null;
  #running = false;
  #stopping = false;
  #pollTimer: TimerHandle | null = null;
  /** The poll under way, if any: one at a time, and `drain` waits for its claim to land. */
  #tickPromise: Promise<void> | null = null;
  #wakeRequested = false;
  /** Ends the store subscription that wakes the idle worker; set while the worker runs. */
  #unsubscribeNotices: (() => void) | null = null;

  constructor(options: WorkerLoopOptions) {
    this.#options = options;
    this.#sourceIds = [...options.sources.keys()];
    this.#queue = new PQueue({ concurrency: options.concurrency });
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = false;
    this.#unsubscribeNotices ??= this.#options.store.subscribe((notice) => this.#onNotice(notice));
    this.wake();
  }

  /** Stops polling and claiming at once; runs go on until `drain`. */
  halt(): void {
    this.#stopping = true;
    this.#running = false;
    this.#unsubscribeNotices?.();
    this.#unsubscribeNotices = null;
    if (this.#pollTimer !== null) this.#options.clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
  }

  /** Releases every run of this process (`shutdown`) and resolves when they have ended. */
  async drain(): Promise<void> {
    // A claim in flight lands in `#runs` (and is stopped at launch) before we collect the runs.
    await this.#tickPromise;
    const runs = [...this.#runs.values()];
    for (const run of runs) run.stop('shutdown');
    await Promise.all(runs.map((run) => run.done));
  }

  /** Stops this process's run of the job, if there is one. */
  stopRun(jobId: string, reason: StopReason): void {
    this.#runs.get(jobId)?.stop(reason);
  }

  /** One sweep and claim pass without the loop; resolves when the claimed jobs end. */
  async runPending(): Promise<number> {
    await this.sweep();
    const runs = await this.#claimPass();
    await Promise.all(runs.map((run) => run.done));
    return runs.length;
  }

  /**
   * One time slice (`engine.work`): sweeps, claims and runs jobs as slices that hand themselves
   * back by the deadline. Shares the run slots and `#runs` with the loop, so `cancel` and `stop`
   * reach sliced runs too.
   */
  work(options?: WorkOptions): Promise<WorkResult> {
    const { clock, store, workerId, leaseMs, concurrency } = this.#options;
    return runWorkSlice(
      {
        clock,
        store,
        sourceIds: this.#sourceIds,
        concurrency,
        stopping: () => this.#stopping,
        sweep: () => this.sweep(),
        claim: () => store.claimJob({ workerId, leaseMs, sources: this.#sourceIds }),
        launch: (claimed, slice) => this.#launch(claimed, slice),
      },
      options,
    );
  }

  /** Polls now (coalescing wake-ups that arrive while a poll runs). */
  wake(): void {
    if (!this.#running || this.#stopping) return;
    if (this.#tickPromise) {
      this.#wakeRequested = true;
      return;
    }
    this.#tickPromise = this.#tick().finally(() => {
      this.#tickPromise = null;
      // A wake-up that came after the poll's last claim is not left to the next poll.
      if (this.#wakeRequested) this.wake();
    });
  }

  /** Handles jobs whose worker died: resumed (queued again) or ended, with their events. */
  async sweep(): Promise<void> {
    const { store, autoResume, maxAttempts, events } = this.#options;
    const changed = await store.sweepExpired(expireWith({ autoResume, maxAttempts }));
    for (const { job, logs } of changed) {
      events.logs(logs);
      events.status(job);
      events.finished(job);
    }
  }

  /**
   * A job became claimable (created, released, or swept back to the queue), possibly by another
   * process: poll now instead of at the next interval. `wake` folds a burst of notices into at
   * most one more pass, and a worker without a free slot waits for a run to end (which wakes it).
   */
  #onNotice(notice: StoreNotice): void {
    if (notice.status !== 'queued') return;
    if (this.#queue.size + this.#queue.pending >= this.#options.concurrency) return;
    this.wake();
  }

  async #tick(): Promise<void> {
    const { clock, logger, pollIntervalMs, workerId } = this.#options;
    if (this.#pollTimer !== null) clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = null;
    try {
      do {
        this.#wakeRequested = false;
        await this.sweep();
        await this.#claimPass();
      } while (this.#wakeRequested && !this.#stopping);
      if (this.#failure !== null) {
        this.#failure = null;
        logger.info?.('The worker loop works again: it claims queued jobs.');
      }
    } catch (error) {
      // The store is unreachable or failing: the next poll tries again. Said once per outage, not at
      // every poll, and never silently (a wrong path or a dead database would otherwise go unseen).
      if (this.#failure === null) {
        const cause = SyncError.fromUnknown(error);
        this.#failure = cause.code;
        logger.error(
          `The worker loop cannot claim jobs, so queued jobs wait (it retries every ${pollIntervalMs} ms and says so once it has recovered). Cause: ${describeError(error)}`,
          { workerId, code: cause.code },
        );
      }
    } finally {
      if (this.#running && !this.#stopping) {
        this.#pollTimer = clock.setTimeout(() => this.wake(), pollIntervalMs);
      }
    }
  }

  /** Claims jobs while this worker has capacity and starts running them. */
  async #claimPass(): Promise<JobRun[]> {
    const { store, workerId, leaseMs, concurrency } = this.#options;
    const started: JobRun[] = [];
    while (!this.#stopping && this.#queue.size + this.#queue.pending < concurrency) {
      const claimed = await store.claimJob({ workerId, leaseMs, sources: this.#sourceIds });
      if (!claimed) break;
      started.push(this.#launch(claimed));
    }
    return started;
  }

  #launch(claimed: ClaimedJob, slice?: SliceRunOptions): JobRun {
    const options = this.#options;
    const run = startJobRun(claimed, {
      store: options.store,
      source: options.sources.get(claimed.job.source)!,
      clock: options.clock,
      retryPolicy: options.retryPolicy,
      events: options.events,
      leaseMs: options.leaseMs,
      heartbeatMs: options.heartbeatMs,
      emitIntervalMs: options.emitIntervalMs,
      writeIntervalMs: options.writeIntervalMs,
      eta: options.eta,
      logger: options.logger,
      ...(slice ? { slice } : {}),
      ...(options.projectQuota ? { projectQuota: options.projectQuota } : {}),
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
      this.wake();
    });
    return run;
  }
}
