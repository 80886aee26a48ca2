/**
 * Time-sliced work (`engine.work`): for hosts that keep no process between requests (serverless
 * functions, containers scaled to zero), where no worker loop can run. One call sweeps, claims
 * queued jobs, runs them until the budget is nearly spent, stops each at a batch boundary (its
 * checkpoint committed), hands its lease back at once and says what it did. The next call resumes
 * from the checkpoint; lease fencing keeps two calls from running one job at once.
 */
import type { Clock, TimerHandle } from '../clock';
import { SyncError } from '../errors';
import type { JobStatus } from '../job/job';
import { processedCount } from '../job/job';
import { isLeaseExpired } from '../job/jobLifecycle';
import type { ClaimedJob, SyncStore } from '../store/syncStore';
import type { JobRun } from './jobRun';

/** Budget of a `work` call when none is given, in ms. */
export const DEFAULT_WORK_MS = 25_000;
/** A shorter budget could not fit a batch: slices would hand back without progress. */
export const MIN_WORK_MS = 1_000;

export interface WorkOptions {
  /**
   * The call's budget in ms (default 25,000, at least 1,000): it returns within about this long.
   * Running jobs stop at a batch boundary when the next batch (estimated from the last ones) would
   * not fit, or at the budget's end at the latest (the batch under way is then dropped and fetched
   * again by the next slice; nothing half-written is kept).
   */
  maxMs?: number;
  /** Ends the call early (the request was aborted, the host is shutting down): jobs are handed back at once. */
  signal?: AbortSignal;
}

/** One job a `work` call ran. */
export interface WorkedJob {
  id: string;
  source: string;
  accountId: string;
  /**
   * The job's status after the call: `queued` when it was handed back unfinished (the next call
   * resumes it), or where it ended (`completed`, `failed`, `cancelled`).
   */
  status: JobStatus;
  /** Handed back unfinished at the end of the slice. */
  handedBack: boolean;
  /** Items done (stored, skipped, deleted or failed) during this call. */
  processed: number;
  /** Percent done after the call (`null` while the total is unknown). */
  percent: number | null;
  /** The job's ETA after the call, in seconds (gaps between slices included), `null` when unknown. */
  etaSeconds: number | null;
}

export interface WorkResult {
  /** Jobs this call claimed and ran. */
  ran: number;
  jobs: WorkedJob[];
  /**
   * Call again now: a job was handed back unfinished, or queued jobs (or jobs of dead workers, to
   * be resumed) are waiting. `false`: nothing to do until a new job is started.
   */
  moreWork: boolean;
}

/** What a run needs to stop in time (see `JobRunOptions.slice`). */
export interface SliceRunOptions {
  /** Epoch ms by which the run must have stopped (its last batch committed). */
  deadline: number;
}

/** What `runWorkSlice` needs from the engine. */
export interface WorkSliceHost {
  clock: Clock;
  store: SyncStore;
  sourceIds: readonly string[];
  /** Jobs run at once (the engine's `concurrency`). */
  concurrency: number;
  /** The engine is stopping: claim nothing. */
  stopping(): boolean;
  /** The engine's sweep of jobs whose worker died (resumed or ended, with their events). */
  sweep(): Promise<void>;
  /** Claims the oldest queued job of the engine's sources under a new lease, or `null`. */
  claim(): Promise<ClaimedJob | null>;
  /** Starts running a claimed job as a slice (events, cancel and `stop()` wired as for the worker loop). */
  launch(claimed: ClaimedJob, slice: SliceRunOptions): JobRun;
}

/** A new job is not claimed with less time than this left: it could not commit a batch. */
const MIN_CLAIM_MS = 1_000;

/** Runs one slice of work (see `SyncEngine.work`). */
export async function runWorkSlice(host: WorkSliceHost, options: WorkOptions = {}): Promise<WorkResult> {
  const maxMs = options.maxMs ?? DEFAULT_WORK_MS;
  if (typeof maxMs !== 'number' || !Number.isFinite(maxMs) || maxMs < MIN_WORK_MS) {
    throw new SyncError(
      'INVALID_INPUT',
      `maxMs must be a number of milliseconds of at least ${MIN_WORK_MS} (default ${DEFAULT_WORK_MS}).`,
    );
  }
  const { clock } = host;
  const { signal } = options;
  const startedAt = clock.now();
  // What is left after the last commit: handing the leases back and answering.
  const reserveMs = Math.min(500, maxMs * 0.05);
  const deadline = startedAt + maxMs - reserveMs;
  // A job claimed later than this could not commit a batch (half the budget for the shortest ones).
  const minClaimMs = Math.min(MIN_CLAIM_MS, maxMs / 2);
  const worked: Array<{ claimed: ClaimedJob; run: JobRun }> = [];
  const running = new Set<Promise<void>>();
  const stopAll = () => {
    for (const { run } of worked) run.stop('sliceEnd');
  };
  signal?.addEventListener('abort', stopAll, { once: true });

  try {
    if (!signal?.aborted && !host.stopping()) {
      await host.sweep();
      let queueEmpty = false;
      for (;;) {
        while (
          !queueEmpty &&
          running.size < host.concurrency &&
          !signal?.aborted &&
          !host.stopping() &&
          deadline - clock.now() >= minClaimMs
        ) {
          const claimed = await host.claim();
          if (!claimed) {
            queueEmpty = true;
            break;
          }
          const run = host.launch(claimed, { deadline });
          worked.push({ claimed, run });
          // Aborted while the claim was under way: hand it straight back.
          if (signal?.aborted) run.stop('sliceEnd');
          const done = run.done.then(() => {
            running.delete(done);
          });
          running.add(done);
        }
        if (running.size === 0) break;
        // A run that ends early frees a slot for the next queued job, while the budget lasts.
        await Promise.race(running);
      }
    }
  } finally {
    signal?.removeEventListener('abort', stopAll);
    // Whatever happened above (a claim that failed), no run is left holding a lease.
    if (running.size > 0) {
      stopAll();
      await Promise.all(running);
    }
  }

  const jobs: WorkedJob[] = [];
  for (const { claimed } of worked) {
    const job = (await host.store.getJob(claimed.job.id)) ?? claimed.job;
    jobs.push({
      id: job.id,
      source: job.source,
      accountId: job.accountId,
      status: job.status,
      handedBack: job.status === 'queued',
      processed: Math.max(0, processedCount(job.counters) - processedCount(claimed.job.counters)),
      percent: job.percent,
      etaSeconds: job.etaSeconds,
    });
  }
  const moreWork = jobs.some((job) => job.handedBack) || (await hasPendingWork(host));
  return { ran: worked.length, jobs, moreWork };
}

/** Queued jobs of the engine's sources, or running jobs whose worker died (the next sweep resumes them). */
async function hasPendingWork(host: WorkSliceHost): Promise<boolean> {
  const now = host.clock.now();
  for (const source of host.sourceIds) {
    const jobs = await host.store.listJobs({ source, statuses: ['queued', 'running'], limit: 500 });
    if (jobs.some((job) => job.status === 'queued' || isLeaseExpired(job, now))) return true;
  }
  return false;
}

/**
 * Stops a sliced run in time: after each committed batch, when the next one (as long as the
 * longest of the last few, plus a safety share) would end past the deadline; at the deadline at
 * the latest.
 */
export interface SliceGuard {
  /** A batch was committed: stops the run when the next one would not fit. */
  batchCommitted(): void;
  dispose(): void;
}

const RECENT_BATCHES = 3;
const SAFETY = 1.25;

export function createSliceGuard(clock: Clock, slice: SliceRunOptions, stop: () => void): SliceGuard {
  const recent: number[] = [];
  let lastMark = clock.now();
  let timer: TimerHandle | null = clock.setTimeout(
    () => {
      timer = null;
      stop();
    },
    Math.max(0, slice.deadline - lastMark),
  );
  return {
    batchCommitted() {
      const now = clock.now();
      recent.push(now - lastMark);
      if (recent.length > RECENT_BATCHES) recent.shift();
      lastMark = now;
      if (now + Math.max(...recent) * SAFETY >= slice.deadline) stop();
    },
    dispose() {
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
    },
  };
}
