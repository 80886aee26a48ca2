import type { Clock, TimerHandle } from '../clock';
import { fromIso, toIso } from '../clock';
import { CancelledError, isSyncErrorLike, LeaseLostError, SyncError } from '../errors';
import { createEtaEstimator } from '../eta/etaEstimator';
import type { JobProgress } from '../events/syncEvents';
import type {
  AccountKey,
  Job,
  JobCounters,
  JobPhase,
  LogEntry,
  LogInput,
  SyncCheckpoint,
  SyncMode,
} from '../job/job';
import { emptyCounters, processedCount } from '../job/job';
import { handBackTransition, releaseTransition } from '../job/jobLifecycle';
import { doneText, formatCount as fmt, formatDuration } from '../job/jobTexts';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';
import type { SourceBatch, SourceContext, SyncSource } from '../source/syncSource';
import type {
  BatchCommit,
  ClaimedJob,
  FinishInput,
  JobWrite,
  ProgressPatch,
  SyncStore,
} from '../store/syncStore';
import { createProgressReporter } from './progressReporter';
import type { RetryPolicy } from './retryPolicy';
import type { SliceRunOptions } from './workSlice';
import { createSliceGuard } from './workSlice';

/** Why a run was stopped from outside its source (`sliceEnd`: its time slice is over, see `engine.work`). */
export type StopReason = 'cancel' | 'leaseLost' | 'shutdown' | 'sliceEnd';

/** What a run tells the engine, which turns it into events. */
export interface JobRunEvents {
  status(job: Job): void;
  /** The job reached a terminal status. */
  finished(job: Job): void;
  progress(jobId: string, progress: JobProgress): void;
  logs(entries: LogEntry[]): void;
  /** The source spent provider quota units. */
  quota(job: Job, units: number): void;
}

/** The engine's settings for one run (see `SyncEngineOptions` for their meaning and defaults). */
export interface JobRunOptions {
  /** Every write of the run goes here, fenced by the claimed lease. */
  store: SyncStore;
  /** The source registered for the job's `source` id. */
  source: SyncSource;
  clock: Clock;
  /** Retries the source's calls (`ctx.retry`) and the run's own store writes. */
  retryPolicy: RetryPolicy;
  events: JobRunEvents;
  /** Lease time-to-live requested on each heartbeat, in ms. */
  leaseMs: number;
  /** Time between heartbeats, in ms. */
  heartbeatMs: number;
  /** Least time between two progress events, in ms. */
  emitIntervalMs: number;
  /** Least time between two progress-only store writes, in ms. */
  writeIntervalMs: number;
  /** ETA smoothing: half-life and signal needed, in ms. */
  eta: { halfLifeMs: number; minSignalMs: number };
  /** Gets the detail (message and stack) of an unexpected error a job failed on; the job gets none. */
  logger?: SyncLogger;
  /**
   * Run as a time slice (`engine.work`): stop at a batch boundary before `deadline`, hand the job
   * back (`handBackTransition`), and measure the ETA over wall-clock time across slices.
   */
  slice?: SliceRunOptions;
}

export interface JobRun {
  readonly jobId: string;
  /** Resolves when the run has ended and its timers are cleared; never rejects. */
  readonly done: Promise<void>;
  /** Aborts the run: the source's signal fires and the run ends after its current commit. */
  stop(reason: StopReason): void;
}

const MILESTONES = [10, 25, 50, 75, 90, 100] as const;

const COUNTER_KEYS = ['listed', 'fetched', 'classified', 'stored', 'skipped', 'deleted', 'failed'] as const;

/**
 * Runs one claimed job to its end: heartbeats, feeds the source's batches into fenced commits,
 * keeps progress, ETA and milestones, and ends the job (completed, failed, cancelled, or released
 * on shutdown). After a lost lease it writes nothing more and ends silently.
 */
export function startJobRun(claimed: ClaimedJob, options: JobRunOptions): JobRun {
  const { store, source, clock, retryPolicy, events } = options;
  const { lease } = claimed;
  const jobId = claimed.job.id;
  const controller = new AbortController();
  let stopReason: StopReason | null = null;

  const stop = (reason: StopReason) => {
    // A lost lease overrides any other reason: nothing may be written any more.
    if (stopReason !== null && reason !== 'leaseLost') return;
    if (stopReason === 'leaseLost') return;
    stopReason = reason;
    if (!controller.signal.aborted) controller.abort(abortReasonOf(reason, jobId));
  };

  const done = run().catch(() => {
    // `run` handles its own failures; this only keeps a bug from becoming an unhandled rejection.
  });
  return { jobId, done, stop };

  async function run(): Promise<void> {
    const { signal } = controller;
    let job = claimed.job;
    const key: AccountKey = { source: job.source, accountId: job.accountId };
    const runStartedAt = clock.now();
    let mode: SyncMode = job.mode;
    let counters: JobCounters = emptyCounters();
    let categoryCounts: Record<string, number> = {};
    let phase: JobPhase | null = null;
    let currentItem: string | null = null;
    let cursor: string | undefined;
    let processedAtStart = 0;
    let milestoneIndex = 0;
    let lastStoreWriteAt = runStartedAt;
    let lastWritten: { etaSeconds: number | null; ratePerSec: number | null } = {
      etaSeconds: null,
      ratePerSec: null,
    };
    let ended = false;
    let heartbeatTimer: TimerHandle | null = null;
    let tickTimer: TimerHandle | null = null;
    let committing = false;
    // Where this phase's pace is measured from, kept in the checkpoint across the job's runs.
    let pace = { since: toIso(runStartedAt), done: 0 };
    const slice = options.slice ? createSliceGuard(clock, options.slice, () => stop('sliceEnd')) : null;

    const eta = createEtaEstimator({ clock, ...options.eta });
    const reporter = createProgressReporter({
      clock,
      intervalMs: options.emitIntervalMs,
      emit: (progress) => events.progress(jobId, progress),
    });

    const progressPatch = (): ProgressPatch => {
      const estimate = eta.estimate();
      return {
        phase,
        mode,
        counters: { ...counters },
        categoryCounts: { ...categoryCounts },
        ratePerSec: estimate.ratePerSec,
        etaSeconds: estimate.etaSeconds,
        currentItem,
      };
    };

    const isLeaseLost = (error: unknown) => SyncError.fromUnknown(error).code === 'LEASE_LOST';

    // ── Logs: written promptly, in order, fenced ─────────────────────────────────────────────
    let logChain: Promise<void> = Promise.resolve();
    const queueLog = (line: LogInput) => {
      logChain = logChain.then(async () => {
        if (stopReason === 'leaseLost') return;
        try {
          events.logs(await store.appendLogs(jobId, [line], lease));
        } catch (error) {
          // A log line that cannot be written must not fail the sync; a lost lease stops it.
          if (isLeaseLost(error)) stop('leaseLost');
        }
      });
    };

    // ── Heartbeat: renews the lease and notices cancels made by other processes ─────────────
    const heartbeat = async () => {
      heartbeatTimer = null;
      try {
        const renewed = await store.renewLease(lease, options.leaseMs);
        if (renewed.cancelRequested) stop('cancel');
      } catch (error) {
        // A store outage is survived (the lease outlives several heartbeats); a lost lease is not.
        if (isLeaseLost(error)) stop('leaseLost');
      }
      if (!ended) heartbeatTimer = clock.setTimeout(heartbeat, options.heartbeatMs);
    };

    // ── Between batches: the ETA keeps counting down in the store (about once per writeIntervalMs) ──
    const tick = async () => {
      tickTimer = null;
      const now = clock.now();
      const estimate = eta.estimate(now);
      const changed =
        estimate.etaSeconds !== lastWritten.etaSeconds || estimate.ratePerSec !== lastWritten.ratePerSec;
      if (changed && !committing && now - lastStoreWriteAt >= options.writeIntervalMs) {
        lastStoreWriteAt = now;
        lastWritten = estimate;
        try {
          job = await store.updateProgress(lease, estimate);
          reporter.report(progressOf(job));
        } catch (error) {
          if (isLeaseLost(error)) stop('leaseLost');
        }
      }
      if (!ended) tickTimer = clock.setTimeout(tick, options.writeIntervalMs);
    };

    heartbeatTimer = clock.setTimeout(heartbeat, options.heartbeatMs);
    tickTimer = clock.setTimeout(tick, options.writeIntervalMs);

    const milestoneLines = (final: boolean): LogInput[] => {
      if (counters.total === null || counters.total <= 0) return [];
      // A completed job is 100 % done even when the provider's total was an overestimate.
      const percent = final ? 100 : (processedCount(counters) / counters.total) * 100;
      let reached: number | null = null;
      while (milestoneIndex < MILESTONES.length && percent >= MILESTONES[milestoneIndex]!) {
        reached = MILESTONES[milestoneIndex]!;
        milestoneIndex += 1;
      }
      // Only the highest milestone a batch crossed: a small mailbox done in one batch gets one line, not six.
      if (reached === null) return [];
      return [
        {
          level: 'info',
          message: `${reached}% done: ${fmt(processedCount(counters))} of ${fmt(counters.total)} messages`,
          data: { milestone: reached },
        },
      ];
    };
    const skipPassedMilestones = () => {
      milestoneIndex = 0;
      if (counters.total === null || counters.total <= 0) return;
      const percent = (processedCount(counters) / counters.total) * 100;
      while (milestoneIndex < MILESTONES.length && percent >= MILESTONES[milestoneIndex]!)
        milestoneIndex += 1;
    };

    /** Store writes that end or save the job survive a store blip; a lost lease is final. */
    const persist = <T>(label: string, write: () => Promise<T>) => retryPolicy.run(write, { label });

    const applyBatch = async (batch: SourceBatch) => {
      const now = clock.now();
      let force = false;
      if (batch.mode !== undefined && batch.mode !== mode) {
        // The counters belong to a mode: the new one starts from zero.
        mode = batch.mode;
        counters = emptyCounters();
        categoryCounts = {};
        milestoneIndex = 0;
        force = true;
      }
      if (batch.phase !== undefined && batch.phase !== phase) {
        phase = batch.phase;
        force = true;
      }
      if (batch.total !== undefined) counters.total = batch.total === null ? null : Math.max(0, batch.total);
      for (const name of COUNTER_KEYS) {
        const increment = batch.counts?.[name];
        if (increment !== undefined && Number.isFinite(increment)) counters[name] += increment;
      }
      for (const [category, increment] of Object.entries(batch.categoryCounts ?? {})) {
        if (Number.isFinite(increment))
          categoryCounts[category] = (categoryCounts[category] ?? 0) + increment;
      }
      if (batch.currentItem !== undefined) currentItem = batch.currentItem;
      if (batch.cursor !== undefined) cursor = batch.cursor;

      if (force) {
        // A new phase (or mode) has its own pace: measure it from here.
        eta.reset();
        eta.seed(processedCount(counters), counters.total, now);
        pace = { since: toIso(now), done: processedCount(counters) };
        if (slice) eta.measureSince(pace.done, now, now);
      } else {
        eta.update(processedCount(counters), counters.total, now);
      }

      const checkpoint: SyncCheckpoint = {
        jobId,
        mode,
        data: batch.checkpoint,
        counters: { ...counters },
        categoryCounts: { ...categoryCounts },
        phase,
        pace,
      };
      const lines = [...(batch.logs ?? []), ...milestoneLines(false)];
      const commit: BatchCommit = { checkpoint, progress: progressPatch(), logs: lines };
      if (batch.write) commit.write = batch.write;
      if (batch.stage) commit.stage = batch.stage;

      // Lines the source logged before this batch come before the batch's own.
      await logChain;
      committing = true;
      let written: JobWrite;
      try {
        written = await persist('saving a batch', () => store.commitBatch(lease, commit));
      } finally {
        committing = false;
      }
      job = written.job;
      lastStoreWriteAt = now;
      lastWritten = { etaSeconds: job.etaSeconds, ratePerSec: job.ratePerSec };
      if (written.logs.length > 0) events.logs(written.logs);
      reporter.report(progressOf(job), { force });
      if (job.cancelRequested) stop('cancel');
    };

    const finish = async (input: FinishInput) => {
      await logChain;
      const { job: finished, logs } = await persist(`finishing the job (${input.status})`, () =>
        store.finishJob(lease, input),
      );
      reporter.flush();
      if (logs.length > 0) events.logs(logs);
      events.status(finished);
      events.finished(finished);
    };

    try {
      const account = await store.getAccountState(key);
      const checkpoint = account?.checkpoint?.mode === mode ? account.checkpoint : null;
      if (checkpoint) {
        counters = { ...emptyCounters(), ...checkpoint.counters };
        categoryCounts = { ...checkpoint.categoryCounts };
        phase = checkpoint.phase;
      }
      processedAtStart = processedCount(counters);
      skipPassedMilestones();
      eta.seed(processedAtStart, counters.total, runStartedAt);
      // The pace of the phase goes on from an earlier run of this job (a previous slice).
      pace =
        checkpoint?.pace && checkpoint.jobId === jobId
          ? checkpoint.pace
          : { since: toIso(runStartedAt), done: processedAtStart };
      if (slice) eta.measureSince(pace.done, fromIso(pace.since), runStartedAt);
      events.status(job);
      queueLog(startLine(job, checkpoint, counters, slice !== null));

      const context: SourceContext = {
        job,
        account: key,
        mode,
        cursor: account?.cursor ?? null,
        checkpoint: checkpoint?.data ?? null,
        signal,
        clock,
        log: (level, message, data) =>
          queueLog(data === undefined ? { level, message } : { level, message, data }),
        retry: (operation, retryOptions) =>
          retryPolicy.run(operation, {
            label: retryOptions.label,
            retries: retryOptions.retries,
            signal,
            onRetry: (notice) => {
              eta.pause(notice.delayMs);
              reporter.report(progressOf(job, eta.estimate()));
              queueLog({
                level: 'warn',
                message: `${notice.label} failed (${notice.code}: ${notice.message}), attempt ${notice.attempt} of ${notice.attempts}; retrying in ${formatDuration(notice.delayMs)}${notice.fromRetryAfter ? ' (Retry-After)' : ''}`,
                data: {
                  label: notice.label,
                  code: notice.code,
                  attempt: notice.attempt,
                  attempts: notice.attempts,
                  delayMs: notice.delayMs,
                },
              });
            },
          }),
        reportBackoff: (ms) => {
          eta.pause(ms);
          reporter.report(progressOf(job, eta.estimate()));
        },
        reportQuotaUnits: (units) => {
          if (Number.isFinite(units) && units > 0) events.quota(job, units);
        },
        staged: {
          list: (query) => store.listStaged(key, query),
          count: () => store.countStaged(key),
        },
      };

      const iterator = source.run(context)[Symbol.asyncIterator]();
      while (true) {
        signal.throwIfAborted();
        const next = await untilAborted(iterator, signal);
        if (next.done) break;
        await applyBatch(next.value);
        slice?.batchCommitted();
      }
      signal.throwIfAborted();

      const durationMs = clock.now() - (job.startedAt ? fromIso(job.startedAt) : runStartedAt);
      const runSeconds = Math.max(0.001, (clock.now() - runStartedAt) / 1000);
      const runRate = Math.round(((processedCount(counters) - processedAtStart) / runSeconds) * 10) / 10;
      const summary: LogInput = {
        level: 'info',
        message: `Sync completed: ${fmt(counters.stored)} stored, ${fmt(counters.skipped)} skipped, ${fmt(counters.deleted)} deleted, ${fmt(counters.failed)} failed in ${formatDuration(durationMs)} (${runRate} messages/s)`,
        data: { counters: { ...counters }, durationMs, ratePerSec: runRate },
      };
      const input: FinishInput = {
        status: 'completed',
        progress: { ...progressPatch(), etaSeconds: null, currentItem: null },
        logs: [...milestoneLines(true), summary],
      };
      if (cursor !== undefined) input.cursor = cursor;
      await finish(input);
    } catch (error) {
      await end(error);
    } finally {
      ended = true;
      slice?.dispose();
      if (heartbeatTimer !== null) clock.clearTimeout(heartbeatTimer);
      if (tickTimer !== null) clock.clearTimeout(tickTimer);
      reporter.dispose();
    }

    async function end(error: unknown): Promise<void> {
      const cause = jobErrorOf(error, jobId, options.logger);
      const reason: StopReason | null =
        stopReason ??
        (cause.code === 'LEASE_LOST' ? 'leaseLost' : cause.code === 'CANCELLED' ? 'cancel' : null);
      try {
        if (reason === 'leaseLost') {
          // Another worker owns the job now (or will): this one changes nothing and goes away.
          stopReason = 'leaseLost';
          return;
        }
        if (reason === 'shutdown' || reason === 'sliceEnd') {
          await logChain;
          const { job: released, logs } = await persist('releasing the job', () =>
            store.releaseJob(lease, reason === 'sliceEnd' ? handBackTransition : releaseTransition),
          );
          reporter.flush();
          if (logs.length > 0) events.logs(logs);
          events.status(released);
          if (released.status === 'cancelled') events.finished(released);
          return;
        }
        if (reason === 'cancel') {
          await finish({
            status: 'cancelled',
            progress: { ...progressPatch(), etaSeconds: null },
            logs: [
              {
                level: 'info',
                message: `Sync cancelled: ${doneText(counters)}. Stored messages and the checkpoint are kept; a new sync continues from there.`,
              },
            ],
          });
          return;
        }
        await finish({
          status: 'failed',
          error: cause.toJSON(),
          progress: { ...progressPatch(), etaSeconds: null },
          logs: [
            {
              level: 'error',
              message: `Sync failed (${cause.code}): ${cause.message}`,
              data: { code: cause.code, retryable: cause.retryable },
            },
          ],
        });
      } catch {
        // Nothing more can be written (lease lost, store down): when the lease expires, a sweep
        // resumes or interrupts the job, so it is never left looking like `running`.
      }
    }
  }
}

/** What a failed job says (in `job.error`, its log, HTTP, SSE, webhooks) when the cause is not a `SyncError`. */
export const UNEXPECTED_FAILURE_MESSAGE =
  'The sync failed because of an unexpected error. Details are in the server log.';

/**
 * The error a job ends on. A `SyncError`'s message is written for people and kept; anything else (an
 * app's `classify` or `auth` callback throwing, a driver error naming hosts) is a bug whose text may
 * hold secrets: the job gets a generic message and the detail goes to the server's logger only.
 */
export function jobErrorOf(error: unknown, jobId: string, logger: SyncLogger | undefined): SyncError {
  if (error instanceof SyncError || isSyncErrorLike(error)) return SyncError.fromUnknown(error);
  try {
    (logger ?? console).error(
      `[syncjob] Job ${jobId} failed on an unexpected error: ${describeError(error, { stack: true })}`,
      { jobId },
    );
  } catch {
    // A broken logger must not keep the job from ending.
  }
  return new SyncError('INTERNAL', UNEXPECTED_FAILURE_MESSAGE, { cause: error });
}

/** Waits for the source's next batch, but gives up at once when the run is aborted (a hung source). */
function untilAborted<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      // Ask the source to stop; a source that hangs keeps its promise, which nobody waits for.
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {});
    };
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function abortReasonOf(reason: StopReason, jobId: string): SyncError {
  switch (reason) {
    case 'cancel':
      return new CancelledError();
    case 'leaseLost':
      return new LeaseLostError(jobId);
    case 'shutdown':
      return new SyncError('SHUTDOWN', 'The engine is stopping; the job is released for another worker.', {
        retryable: false,
      });
    case 'sliceEnd':
      return new SyncError('SHUTDOWN', 'The time slice is over; the job is handed back for the next one.', {
        retryable: false,
      });
  }
}

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
    updatedAt: job.updatedAt,
  };
}

function startLine(
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
