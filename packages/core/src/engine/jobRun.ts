import type { Clock } from '../clock';
import { fromIso, toIso } from '../clock';
import { CancelledError, isSyncErrorLike, LeaseLostError, SyncError } from '../errors';
import { createEtaEstimator } from '../eta/etaEstimator';
import type { JobProgress } from '../events/syncEvents';
import { progressOf } from '../events/syncEvents';
import type { AccountKey, Job, JobWaiting, LogEntry, LogInput, SyncCheckpoint } from '../job/job';
import { JOB_WAIT_REASONS, processedCount } from '../job/job';
import { handBackTransition, releaseTransition } from '../job/jobLifecycle';
import {
  cancelledLine,
  completedLine,
  failedLine,
  retryLine,
  runStartLine,
  SHUTDOWN_MESSAGE,
  SLICE_END_MESSAGE,
  UNEXPECTED_FAILURE_MESSAGE,
} from '../job/jobTexts';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';
import type { JobProjectQuota, ProjectQuotaGovernor } from '../quota/projectQuota';
import type { SourceBatch, SourceContext, SyncSource } from '../source/syncSource';
import type {
  BatchCommit,
  ClaimedJob,
  FinishInput,
  JobWrite,
  ProgressPatch,
  SyncStore,
} from '../store/syncStore';
import { isLeaseLost, startLeaseKeeper } from './leaseKeeper';
import { completionLines, type RunProgress, reduceProgress, startProgress } from './progressReducer';
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
  /** The project budget this process shares with every worker, when the engine has one. */
  projectQuota?: ProjectQuotaGovernor;
}

export interface JobRun {
  readonly jobId: string;
  /** Resolves when the run has ended and its timers are cleared; never rejects. */
  readonly done: Promise<void>;
  /** Aborts the run: the source's signal fires and the run ends after its current commit. */
  stop(reason: StopReason): void;
}

/**
 * Runs one claimed job to its end: feeds the source's batches into fenced commits (the progress
 * they carry folded by `reduceProgress`), keeps the lease (`startLeaseKeeper`), the ETA and the
 * throttled progress events, and ends the job (completed, failed, cancelled, or released on
 * shutdown). After a lost lease it writes nothing more and ends silently.
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
    /** The job as the store last returned it. */
    let job = claimed.job;
    const key: AccountKey = { source: job.source, accountId: job.accountId };
    const runStartedAt = clock.now();
    let progress: RunProgress = startProgress(job.mode, null);
    /** When the store last got the ETA, and what it got: the between-batches tick writes only news. */
    let lastStoreWriteAt = runStartedAt;
    let lastWritten: { etaSeconds: number | null; ratePerSec: number | null } = {
      etaSeconds: null,
      ratePerSec: null,
    };
    let committing = false;
    let projectQuota: JobProjectQuota | undefined;
    /** The commit in flight, which a quota-wait write waits for so the two land in order. */
    let commitInFlight: Promise<unknown> | null = null;
    /** What the job waits for, as the source last reported it (`ctx.reportWait`). */
    let waiting: JobWaiting | null = null;
    // Where this phase's pace is measured from, kept in the checkpoint across the job's runs.
    let pace = { since: toIso(runStartedAt), done: 0 };
    const slice = options.slice ? createSliceGuard(clock, options.slice, () => stop('sliceEnd')) : null;

    const eta = createEtaEstimator({ clock, ...options.eta });
    const reporter = createProgressReporter({
      clock,
      intervalMs: options.emitIntervalMs,
      emit: (next) => events.progress(jobId, next),
    });

    const progressPatch = (): ProgressPatch => {
      const estimate = eta.estimate();
      return {
        phase: progress.phase,
        mode: progress.mode,
        counters: { ...progress.counters },
        categoryCounts: { ...progress.categoryCounts },
        ratePerSec: estimate.ratePerSec,
        etaSeconds: estimate.etaSeconds,
        currentItem: progress.currentItem,
        waiting,
      };
    };

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

    // ── Quota waits: stored and told at once, in order with the logs and the commits ────────
    const reportWait = (wait: { for: JobWaiting['for']; until: Date } | null) => {
      if (
        wait !== null &&
        (!JOB_WAIT_REASONS.includes(wait.for) || !Number.isFinite(wait.until?.getTime()))
      ) {
        throw new SyncError(
          'INVALID_INPUT',
          `reportWait needs { for: ${JOB_WAIT_REASONS.join(' | ')}, until: a valid Date } or null.`,
          { retryable: false },
        );
      }
      const next = wait === null ? null : { for: wait.for, until: toIso(wait.until.getTime()) };
      if (next?.for === waiting?.for && next?.until === waiting?.until) return;
      waiting = next;
      eta.waitUntil(wait === null ? null : wait.until.getTime());
      logChain = logChain.then(async () => {
        if (stopReason === 'leaseLost') return;
        if (commitInFlight) await commitInFlight.catch(() => {});
        try {
          // The latest state, not the one at the time of the call: a later report or a batch
          // committed meanwhile has the last word.
          job = await store.updateProgress(lease, { waiting, ...eta.estimate() });
          lastStoreWriteAt = clock.now();
          lastWritten = { etaSeconds: job.etaSeconds, ratePerSec: job.ratePerSec };
          reporter.report(progressOf(job), { force: true });
        } catch (error) {
          if (isLeaseLost(error)) stop('leaseLost');
        }
      });
    };

    // ── Between batches: the ETA keeps counting down in the store (about once per writeIntervalMs) ──
    const writeEta = async () => {
      const now = clock.now();
      const estimate = eta.estimate(now);
      const changed =
        estimate.etaSeconds !== lastWritten.etaSeconds || estimate.ratePerSec !== lastWritten.ratePerSec;
      if (!changed || committing || now - lastStoreWriteAt < options.writeIntervalMs) return;
      lastStoreWriteAt = now;
      lastWritten = estimate;
      try {
        job = await store.updateProgress(lease, estimate);
        reporter.report(progressOf(job));
      } catch (error) {
        if (isLeaseLost(error)) stop('leaseLost');
      }
    };

    const keeper = startLeaseKeeper({
      store,
      lease,
      clock,
      leaseMs: options.leaseMs,
      heartbeatMs: options.heartbeatMs,
      tickMs: options.writeIntervalMs,
      tick: writeEta,
      onCancelRequested: () => stop('cancel'),
      onLeaseLost: () => stop('leaseLost'),
    });

    /** Store writes that end or save the job survive a store blip; a lost lease is final. */
    const persist = <T>(label: string, write: () => Promise<T>) => retryPolicy.run(write, { label });

    const applyBatch = async (batch: SourceBatch) => {
      const now = clock.now();
      const step = reduceProgress(progress, batch);
      progress = step.progress;
      // Work resumed: whatever the job waited for is over (the commit below stores that).
      const waited = waiting !== null;
      waiting = null;
      const processed = processedCount(progress.counters);
      if (step.paceReset) {
        eta.reset();
        eta.seed(processed, progress.counters.total, now);
        pace = { since: toIso(now), done: processed };
        if (slice) eta.measureSince(pace.done, now, now);
      } else {
        eta.update(processed, progress.counters.total, now);
      }

      const checkpoint: SyncCheckpoint = {
        jobId,
        mode: progress.mode,
        data: batch.checkpoint,
        counters: { ...progress.counters },
        categoryCounts: { ...progress.categoryCounts },
        phase: progress.phase,
        pace,
      };
      const commit: BatchCommit = {
        checkpoint,
        progress: progressPatch(),
        logs: [...(batch.logs ?? []), ...step.lines],
      };
      if (batch.write) commit.write = batch.write;
      if (batch.stage) commit.stage = batch.stage;

      // Lines the source logged before this batch come before the batch's own.
      await logChain;
      committing = true;
      let written: JobWrite;
      try {
        const commitWrite = persist('saving a batch', () => store.commitBatch(lease, commit));
        commitInFlight = commitWrite;
        written = await commitWrite;
      } finally {
        committing = false;
        commitInFlight = null;
      }
      job = written.job;
      lastStoreWriteAt = now;
      lastWritten = { etaSeconds: job.etaSeconds, ratePerSec: job.ratePerSec };
      if (written.logs.length > 0) events.logs(written.logs);
      reporter.report(progressOf(job), { force: step.paceReset || waited });
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
      const checkpoint = account?.checkpoint?.mode === job.mode ? account.checkpoint : null;
      progress = startProgress(job.mode, checkpoint);
      const processedAtStart = processedCount(progress.counters);
      eta.seed(processedAtStart, progress.counters.total, runStartedAt);
      // The pace of the phase goes on from an earlier run of this job (a previous slice).
      pace =
        checkpoint?.pace && checkpoint.jobId === jobId
          ? checkpoint.pace
          : { since: toIso(runStartedAt), done: processedAtStart };
      if (slice) eta.measureSince(pace.done, fromIso(pace.since), runStartedAt);
      events.status(job);
      queueLog(runStartLine(job, checkpoint, progress.counters, slice !== null));

      // The governor reports its waits through the context, as the source's own waits are.
      projectQuota = options.projectQuota?.forJob(job, {
        signal,
        reportBackoff: (ms) => context.reportBackoff(ms),
        reportWait: (wait) => context.reportWait?.(wait),
      });
      const context: SourceContext = {
        ...(projectQuota ? { projectQuota } : {}),
        job,
        account: key,
        mode: job.mode,
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
              if (!retryOptions.inBackground) {
                eta.pause(notice.delayMs);
                reporter.report(progressOf(job, eta.estimate()));
              }
              queueLog(retryLine(notice));
            },
          }),
        reportBackoff: (ms) => {
          eta.pause(ms);
          reporter.report(progressOf(job, eta.estimate()));
        },
        reportQuotaUnits: (units) => {
          if (Number.isFinite(units) && units > 0) events.quota(job, units);
        },
        reportWait,
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
      const runRate =
        Math.round(((processedCount(progress.counters) - processedAtStart) / runSeconds) * 10) / 10;
      const input: FinishInput = {
        status: 'completed',
        progress: { ...progressPatch(), etaSeconds: null, currentItem: null },
        logs: [...completionLines(progress), completedLine(progress.counters, durationMs, runRate)],
      };
      if (progress.cursor !== undefined) input.cursor = progress.cursor;
      await finish(input);
    } catch (error) {
      await end(error);
    } finally {
      projectQuota?.close();
      keeper.stop();
      slice?.dispose();
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
        await finish(
          reason === 'cancel'
            ? {
                status: 'cancelled',
                progress: { ...progressPatch(), etaSeconds: null },
                logs: [cancelledLine(progress.counters)],
              }
            : {
                status: 'failed',
                error: cause.toJSON(),
                progress: { ...progressPatch(), etaSeconds: null },
                logs: [failedLine(cause)],
              },
        );
      } catch {
        // Nothing more can be written (lease lost, store down): when the lease expires, a sweep
        // resumes or interrupts the job, so it is never left looking like `running`.
      }
    }
  }
}

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
      return new SyncError('SHUTDOWN', SHUTDOWN_MESSAGE, { retryable: false });
    case 'sliceEnd':
      return new SyncError('SHUTDOWN', SLICE_END_MESSAGE, { retryable: false });
  }
}
