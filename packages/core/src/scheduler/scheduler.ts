import type { Clock, TimerHandle } from '../clock';
import { fromIso, toIso } from '../clock';
import { SyncError } from '../errors';
import type { CycleEvent } from '../events/syncEvents';
import type { AccountKey, AccountState, Job } from '../job/job';
import { ACTIVE_STATUSES } from '../job/job';
import type { SyncStore } from '../store/syncStore';
import type { Duration } from './duration';
import { parseDuration } from './duration';

export interface ScheduleOptions {
  /** Time between two cycles: milliseconds or text such as `'5m'` (required). */
  every: Duration;
  /** An account is due once its last completed sync (`lastSyncedAt`) is older than this (default: `every`). */
  staleAfter?: Duration;
  /**
   * Scheduled jobs (`trigger: 'schedule'`) queued or running at once, counted in the store, so
   * across every process sharing it (default 1). Manual syncs do not take these slots.
   */
  concurrency?: number;
  /** Sources whose accounts are scheduled (default: every source registered with the engine). */
  sources?: readonly string[];
  /** Run the first cycle at once (default `true`); `false` waits `every` first. */
  immediate?: boolean;
}

/** A running schedule. `engine.stop()` stops it too. */
export interface ScheduleHandle {
  /** No new cycle starts; a cycle under way finishes; jobs it started keep running. */
  stop(): void;
  /** Runs a cycle now (or joins the one under way) and resolves with its summary. */
  runNow(): Promise<CycleEvent>;
  /** Cycles run so far. */
  readonly cycles: number;
}

/** What the scheduler needs from the engine. */
export interface SchedulerHost {
  store: SyncStore;
  clock: Clock;
  sourceIds: readonly string[];
  start(input: AccountKey & { mode: 'auto'; trigger: 'schedule' }): Promise<{ job: Job; started: boolean }>;
  /** Emits the cycle event and logs it. */
  cycleEnded(event: CycleEvent): void;
  /** Calls `listener` when a job of this process completes; returns an unsubscribe function. */
  onCompleted(listener: (job: Job) => void): () => void;
  /**
   * Units left in the provider project's budget for today, for every worker together (`null`
   * without a daily budget). Absent when the engine has no `projectQuota`.
   */
  dailyQuotaRemaining?(): Promise<number | null>;
}

/** Active jobs read per cycle: far more than any sane `concurrency`, and the store's cap. */
const ACTIVE_SCAN_LIMIT = 500;

/**
 * Starts a schedule: every `every`, start an `auto` sync (incremental, or full without a cursor)
 * for each account of the scheduled sources whose last completed sync is older than `staleAfter`.
 *
 * Fairness: due accounts are taken by their last *attempt* (the newer of `lastSyncedAt` and the
 * creation of their latest job), oldest first. An account that keeps failing has a recent attempt
 * and goes to the back, so it cannot hold the slots while the others wait.
 *
 * Re-authorisation: an account whose latest job failed with `REAUTH_REQUIRED` is skipped, since a
 * new attempt cannot succeed until the user signs in again. Any newer job for the account ends the
 * skip: the app starts one after the user re-authorised (`engine.start`, or
 * `engine.markReauthorized`, which does exactly that). The rule is read from the store, so it holds
 * across processes and restarts.
 *
 * Daily budget (`projectQuota.unitsPerDay`): incremental syncs of accounts that have a cursor go
 * first, since they are cheap; a new account's full sync starts only while the day's budget is not
 * spent, else it waits for the next cycle (`skipped.dailyBudget`) and starts once the day resets.
 *
 * Besides the `every` timer, a scheduled job of this process that completes frees its slot and
 * triggers a cycle at once, so a backlog drains at the speed of the syncs, not one batch per
 * interval. A failed job does not, so a failing account is retried once per interval at most.
 */
export function startSchedule(host: SchedulerHost, options: ScheduleOptions): ScheduleHandle {
  const everyMs = parseDuration(options.every, 'every');
  if (everyMs < 1) throw new SyncError('INVALID_INPUT', 'every must be at least 1 ms.');
  const staleAfterMs =
    options.staleAfter === undefined ? everyMs : parseDuration(options.staleAfter, 'staleAfter');
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const sources = options.sources ?? host.sourceIds;
  for (const source of sources) {
    if (!host.sourceIds.includes(source)) {
      throw new SyncError(
        'UNKNOWN_SOURCE',
        `Cannot schedule source "${source}": it is not registered with this engine.`,
      );
    }
  }
  const { clock, store } = host;

  let stopped = false;
  let cycles = 0;
  let timer: TimerHandle | null = null;
  let current: Promise<CycleEvent> | null = null;
  let followUp: CycleEvent['reason'] | null = null;
  /** Jobs this schedule started and that may still run: their completion frees a slot. */
  const startedHere = new Set<string>();

  const unsubscribe = host.onCompleted((job) => {
    if (!startedHere.delete(job.id) || stopped) return;
    void run('slotFreed');
  });

  const arm = () => {
    if (stopped) return;
    if (timer !== null) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => {
      timer = null;
      void run('interval');
    }, everyMs);
  };

  /** One cycle at a time; a request during a cycle runs one more right after it. */
  const run = (reason: CycleEvent['reason']): Promise<CycleEvent> => {
    if (current) {
      if (reason !== 'manual') followUp = reason;
      return current;
    }
    current = cycle(reason).finally(() => {
      current = null;
      const next = followUp;
      followUp = null;
      if (next && !stopped) void run(next);
    });
    return current;
  };

  const cycle = async (reason: CycleEvent['reason']): Promise<CycleEvent> => {
    const startedAt = clock.now();
    // The interval counts from the start of a cycle, so a slow store does not stretch it.
    if (reason === 'interval') arm();
    const event: CycleEvent = {
      type: 'cycle',
      startedAt: toIso(startedAt),
      durationMs: 0,
      reason,
      accounts: 0,
      stale: 0,
      started: [],
      skipped: { active: 0, reauthRequired: 0, noSlot: 0, dailyBudget: 0 },
      error: null,
    };
    try {
      const states = (await store.listAccountStates()).filter((state) => sources.includes(state.source));
      event.accounts = states.length;
      const active = await store.listJobs({ statuses: ACTIVE_STATUSES, limit: ACTIVE_SCAN_LIMIT });
      const activeKeys = new Set(active.map(keyOf));
      let slots = concurrency - active.filter((job) => job.trigger === 'schedule').length;

      const due: Array<{ key: AccountKey; lastAttemptAt: number; full: boolean }> = [];
      for (const state of states) {
        if (!isStale(state, startedAt, staleAfterMs)) continue;
        event.stale += 1;
        if (activeKeys.has(keyOf(state))) {
          event.skipped.active += 1;
          continue;
        }
        const latest = state.lastJobId ? await store.getJob(state.lastJobId) : null;
        if (latest?.status === 'failed' && latest.error?.code === 'REAUTH_REQUIRED') {
          event.skipped.reauthRequired += 1;
          continue;
        }
        due.push({
          key: { source: state.source, accountId: state.accountId },
          lastAttemptAt: lastAttemptOf(state, latest),
          // Without a cursor an `auto` sync is a full one (a checkpoint resumes in its own mode).
          full: state.checkpoint ? state.checkpoint.mode === 'full' : state.cursor === null,
        });
      }
      due.sort(
        (a, b) =>
          Number(a.full) - Number(b.full) ||
          a.lastAttemptAt - b.lastAttemptAt ||
          keyOf(a.key).localeCompare(keyOf(b.key)),
      );
      const dailyRemaining =
        host.dailyQuotaRemaining && due.some((entry) => entry.full) ? await host.dailyQuotaRemaining() : null;

      for (const { key, full } of due) {
        if (stopped) break;
        if (slots <= 0) {
          event.skipped.noSlot += 1;
          continue;
        }
        if (full && dailyRemaining !== null && dailyRemaining <= 0) {
          event.skipped.dailyBudget += 1;
          continue;
        }
        const result = await host.start({ ...key, mode: 'auto', trigger: 'schedule' });
        if (result.started) {
          slots -= 1;
          startedHere.add(result.job.id);
          event.started.push(key);
        } else {
          // Someone else started it between our read and the start: start is idempotent.
          event.skipped.active += 1;
        }
      }
    } catch (error) {
      const cause = SyncError.fromUnknown(error);
      event.error = { code: cause.code, message: cause.message };
    }
    event.durationMs = clock.now() - startedAt;
    cycles += 1;
    host.cycleEnded(event);
    return event;
  };

  if (options.immediate ?? true) void run('interval');
  else arm();

  return {
    stop() {
      stopped = true;
      if (timer !== null) clock.clearTimeout(timer);
      timer = null;
      unsubscribe();
    },
    runNow: () => run('manual'),
    get cycles() {
      return cycles;
    },
  };
}

const keyOf = (key: AccountKey): string => `${key.source}\u0000${key.accountId}`;

function isStale(state: AccountState, now: number, staleAfterMs: number): boolean {
  return state.lastSyncedAt === null || now - fromIso(state.lastSyncedAt) >= staleAfterMs;
}

/** Epoch ms of the account's last attempt; never attempted sorts first. */
function lastAttemptOf(state: AccountState, latest: Job | null): number {
  const synced = state.lastSyncedAt ? fromIso(state.lastSyncedAt) : Number.NEGATIVE_INFINITY;
  const attempted = latest ? fromIso(latest.createdAt) : Number.NEGATIVE_INFINITY;
  return Math.max(synced, attempted);
}
