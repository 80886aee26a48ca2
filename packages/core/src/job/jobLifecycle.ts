/**
 * The job lifecycle: every transition of a job's status, with its log lines, levels and error
 * payloads, as pure functions of the job as the store read it, the store's "now" and the engine's
 * settings. Stores apply what these return (see `JobTransition`) and decide nothing themselves;
 * this file is the one place where a lifecycle rule or text lives.
 */
import { fromIso, toIso } from '../clock';
import type {
  Job,
  JobError,
  JobStatus,
  JobTrigger,
  JobWaiting,
  LogInput,
  SyncMode,
  TerminalJobStatus,
} from './job';
import { emptyCounters } from './job';

/** The lifecycle fields a transition may set; `undefined` keeps the stored value. */
export interface JobChange {
  status?: JobStatus;
  phase?: Job['phase'];
  attempt?: number;
  startedAt?: string | null;
  heartbeatAt?: string | null;
  /**
   * `null` ends the lease: the store also drops the lease token, so no worker may write to the job
   * any more.
   */
  leaseExpiresAt?: string | null;
  finishedAt?: string | null;
  cancelRequested?: boolean;
  error?: JobError | null;
  /** A job that starts a run, is given back or ends waits for nothing any more (`null`). */
  waiting?: JobWaiting | null;
}

/** What a store applies to one job, atomically: the new fields and the lines to append after them. */
export interface JobTransition {
  change: JobChange;
  logs: LogInput[];
}

/**
 * Computes a transition from the job as the store read it (inside the operation that applies it)
 * and the store's "now" (ISO 8601). `null`: leave the job as it is.
 */
export type DecideTransition = (job: Job, now: string) => JobTransition | null;

/** What the engine decides about a job whose worker stopped heart-beating. */
export interface ExpiryPolicy {
  /** Resume expired jobs (back to `queued`) instead of marking them `interrupted`. */
  autoResume: boolean;
  /** A job whose `attempt` reached this is marked `interrupted` instead of resumed. */
  maxAttempts: number;
}

export interface NewJobInput {
  id: string;
  source: string;
  accountId: string;
  mode: SyncMode;
  trigger: JobTrigger;
}

/** A new `queued` job (attempt 0, nothing counted yet), created at `now`. */
export function newJob(input: NewJobInput, now: string): Job {
  return {
    id: input.id,
    source: input.source,
    accountId: input.accountId,
    status: 'queued',
    phase: null,
    mode: input.mode,
    trigger: input.trigger,
    counters: emptyCounters(),
    categoryCounts: {},
    percent: null,
    ratePerSec: null,
    etaSeconds: null,
    currentItem: null,
    waiting: null,
    createdAt: now,
    startedAt: null,
    updatedAt: now,
    heartbeatAt: null,
    leaseExpiresAt: null,
    finishedAt: null,
    attempt: 0,
    cancelRequested: false,
    error: null,
    lastLogSeq: 0,
  };
}

/**
 * Whether a running job's worker stopped heart-beating by `nowMs`. A running job without a lease
 * expiry (a hand-edited row, a bug) cannot be heart-beating either: it counts as expired, so it is
 * never left looking like `running`.
 */
export function isLeaseExpired(job: Pick<Job, 'status' | 'leaseExpiresAt'>, nowMs: number): boolean {
  if (job.status !== 'running') return false;
  return job.leaseExpiresAt === null || fromIso(job.leaseExpiresAt) <= nowMs;
}

/** A worker takes a queued job: a new attempt under a lease of `leaseMs`. Writes no line. */
export function claimTransition(job: Job, now: string, leaseMs: number): JobTransition {
  return {
    change: {
      status: 'running',
      attempt: job.attempt + 1,
      startedAt: job.startedAt ?? now,
      heartbeatAt: now,
      leaseExpiresAt: toIso(fromIso(now) + leaseMs),
      error: null,
      waiting: null,
    },
    logs: [],
  };
}

/**
 * A user asks to cancel. A queued job is cancelled at once; a running one is flagged and its worker
 * stops within a batch or a heartbeat. A job that already ended is left as it is (`null`).
 */
export function cancelTransition(job: Job, now: string): JobTransition | null {
  if (job.status === 'queued') {
    return {
      change: { status: 'cancelled', cancelRequested: true, finishedAt: now },
      logs: [{ level: 'info', message: 'Cancel requested: the sync had not started.' }],
    };
  }
  if (job.status === 'running') {
    return {
      change: { cancelRequested: true },
      logs: [{ level: 'info', message: 'Cancel requested: stopping after the current batch.' }],
    };
  }
  return null;
}

/** Why a worker gives a job back before it ends, with the texts each reason logs. */
const GIVE_BACK = {
  shutdown: {
    cancelled:
      'The worker is shutting down after a cancel was requested: the sync is cancelled. Stored messages and the checkpoint are kept.',
    queued: 'The worker is shutting down: the job is released and resumes from its checkpoint.',
  },
  slice: {
    cancelled:
      'The time slice ended after a cancel was requested: the sync is cancelled. Stored messages and the checkpoint are kept.',
    queued: 'Time slice over: the job is handed back and the next work call resumes it from its checkpoint.',
  },
} as const;

/**
 * The worker gives a running job back: queued again, so another worker (or the next slice) resumes
 * it from the checkpoint at once; cancelled instead when a cancel was requested meanwhile.
 */
function giveBack(job: Job, now: string, reason: keyof typeof GIVE_BACK): JobTransition {
  const ended = { phase: null, leaseExpiresAt: null, waiting: null } as const;
  const texts = GIVE_BACK[reason];
  if (job.cancelRequested) {
    return {
      change: { ...ended, status: 'cancelled', finishedAt: now },
      logs: [{ level: 'info', message: texts.cancelled }],
    };
  }
  // A hand-back is the normal end of a slice, not a failure: the claim it used is given back
  // (`attempt` returns to its value before the claim), so a job that needs a hundred slices does not
  // spend `maxAttempts`, which counts runs lost to a dead worker.
  const change =
    reason === 'slice'
      ? { ...ended, status: 'queued' as const, attempt: Math.max(0, job.attempt - 1) }
      : { ...ended, status: 'queued' as const };
  return {
    change,
    logs: [
      { level: 'info', message: texts.queued, ...(reason === 'slice' ? { data: { handedBack: true } } : {}) },
    ],
  };
}

/** The worker gives the job back on a graceful shutdown (see `giveBack`). */
export function releaseTransition(job: Job, now: string): JobTransition {
  return giveBack(job, now, 'shutdown');
}

/** A time slice (`engine.work`) is over: the job is handed back at a batch boundary (see `giveBack`). */
export function handBackTransition(job: Job, now: string): JobTransition {
  return giveBack(job, now, 'slice');
}

/**
 * The job ends with a terminal status: no phase, no lease, `finishedAt` now. A completed job
 * carries no error whatever the caller passed.
 */
export function finishChange(
  status: TerminalJobStatus,
  now: string,
  error: JobError | null = null,
): JobChange {
  return {
    status,
    phase: null,
    leaseExpiresAt: null,
    finishedAt: now,
    error: status === 'completed' ? null : error,
    waiting: null,
  };
}

/**
 * A running job whose lease expired (its worker crashed, was killed or redeployed): cancelled when
 * a cancel was requested, queued to resume from the checkpoint while attempts remain and
 * auto-resume is on, interrupted (`LEASE_EXPIRED`, retryable by a new start) otherwise. `null` for a
 * job that is not running.
 */
export function expireTransition(job: Job, now: string, policy: ExpiryPolicy): JobTransition | null {
  if (job.status !== 'running') return null;
  const ended = { phase: null, leaseExpiresAt: null, waiting: null } as const;
  const data = { reason: 'LEASE_EXPIRED', attempt: job.attempt, maxAttempts: policy.maxAttempts };
  if (job.cancelRequested) {
    return {
      change: { ...ended, status: 'cancelled', finishedAt: now },
      logs: [
        {
          level: 'warn',
          message: 'The worker stopped heart-beating after a cancel was requested: the sync is cancelled.',
          data,
        },
      ],
    };
  }
  if (policy.autoResume && job.attempt < policy.maxAttempts) {
    return {
      change: { ...ended, status: 'queued' },
      logs: [
        {
          level: 'warn',
          message: `The worker stopped heart-beating (lease expired): the sync resumes from its checkpoint as attempt ${job.attempt + 1} of ${policy.maxAttempts}.`,
          data,
        },
      ],
    };
  }
  const why = policy.autoResume ? `all ${policy.maxAttempts} attempts are spent` : 'automatic resume is off';
  return {
    change: {
      ...ended,
      status: 'interrupted',
      finishedAt: now,
      // Retryable: a new start resumes from the checkpoint.
      error: {
        code: 'LEASE_EXPIRED',
        message: `The worker running this sync stopped heart-beating and ${why}. Start the sync again to continue from its checkpoint.`,
        retryable: true,
      },
    },
    logs: [
      {
        level: 'error',
        message: `The worker stopped heart-beating (lease expired) and ${why}: the sync is interrupted.`,
        data,
      },
    ],
  };
}

/** `expireTransition` under `policy`, as the decision a store's `sweepExpired` takes. */
export const expireWith =
  (policy: ExpiryPolicy): DecideTransition =>
  (job, now) =>
    expireTransition(job, now, policy);

/**
 * Applies `change` to a job being written, the way every store must (`undefined` keeps a field).
 * Returns whether the lease ended (the store then drops the lease token).
 */
export function applyJobChange(target: Job, change: JobChange): { leaseEnded: boolean } {
  for (const key of Object.keys(change) as Array<keyof JobChange>) {
    const value = change[key];
    if (value !== undefined) (target as unknown as Record<string, unknown>)[key] = value;
  }
  return { leaseEnded: change.leaseExpiresAt === null };
}
