import type { Clock, TimerHandle } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import type { Job } from '../job/job';
import { isTerminalStatus, processedCount } from '../job/job';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';

/** What a notification led to. */
export type PushOutcome =
  /** A sync was queued for it. */
  | 'started'
  /** A sync of the account was already queued or running: this one is followed instead. */
  | 'joined'
  /** Folded into the sync under way or the one already planned. */
  | 'coalesced';

export interface PushSyncsOptions {
  /** The source whose accounts the notifications are about. */
  source: string;
  /** Least time between two push-started syncs of one account, in ms. */
  debounceMs: number;
  /** Wait before the one re-check after a push-started sync that found nothing, in ms (0 = no re-check). */
  recheckDelayMs: number;
  /** How often a followed job is read back from the store, for jobs run by another process. */
  followPollMs: number;
  clock: Clock;
  logger: SyncLogger;
}

/** Per account: what is running for its pushes, and what they asked for. */
interface AccountPushes {
  /** The highest history id notified and not yet known to be covered by the account's cursor. */
  wanted: bigint | null;
  /** When this account's last push sync was started or joined. */
  lastStartAt: number;
  /** The job being followed, if any. */
  following: string | null;
  /** The followed job was already under way when joined (it may have listed changes before the push). */
  joined: boolean;
  /** A notification arrived after the followed job was started or joined. */
  notifiedSince: boolean;
  /** The followed job is the first of a burst, started by a notification (the only one re-checked). */
  firstOfBurst: boolean;
  /** A planned start (debounce, follow-up or re-check). */
  timer: TimerHandle | null;
}

const TERMINAL_EVENTS = ['completed', 'failed', 'cancelled', 'interrupted'] as const;

/** `following` while `engine.start` is under way. */
const STARTING = '';

/** Idle accounts are forgotten once the map holds more than this and their debounce passed. */
const PRUNE_ABOVE = 1_000;

/**
 * Turns mailbox-changed notifications into incremental syncs, per account:
 *
 * - the first notification starts a sync at once (or joins the one queued or running);
 * - notifications while it runs are folded into it, and one more sync follows it when one of them
 *   names a history id newer than the account's cursor after it (or when it was joined: it may
 *   have read the history before the change), so no notification is lost;
 * - two push syncs of one account start at least `debounceMs` apart, so a burst of notifications
 *   costs at most two syncs;
 * - a push-started sync that found nothing is checked once more after `recheckDelayMs`: Gmail may
 *   notify before `history.list` shows the change.
 *
 * State lives in this process. Several processes receiving pushes stay correct (the engine keeps
 * one active job per account and joins the others), they only debounce separately. A follow-up
 * planned here is lost if the process dies before it starts; the schedule catches that account up.
 */
export function createPushSyncs(
  getEngine: () => Promise<SyncEngine>,
  options: PushSyncsOptions,
): {
  /** A change of the account's mailbox up to `historyId` (decimal digits) was notified. */
  notify(accountId: string, historyId: string): Promise<PushOutcome>;
} {
  const { source, debounceMs, recheckDelayMs, followPollMs, clock, logger } = options;
  const accounts = new Map<string, AccountPushes>();

  const prune = () => {
    if (accounts.size <= PRUNE_ABOVE) return;
    const now = clock.now();
    for (const [accountId, state] of accounts) {
      if (state.following === null && state.timer === null && now - state.lastStartAt >= debounceMs)
        accounts.delete(accountId);
    }
  };

  /** Starts (or joins) the account's sync and follows it; throws only what `engine.start` throws. */
  const startNow = async (
    accountId: string,
    state: AccountPushes,
    firstOfBurst: boolean,
  ): Promise<'started' | 'joined'> => {
    // Marked before the first await: notifications meanwhile are folded into this start.
    state.following = STARTING;
    state.notifiedSince = false;
    let result: Awaited<ReturnType<SyncEngine['start']>>;
    let engine: SyncEngine;
    try {
      engine = await getEngine();
      result = await engine.start({ source, accountId, mode: 'incremental', trigger: 'push' });
    } catch (cause) {
      state.following = null;
      throw cause;
    }
    state.lastStartAt = clock.now();
    state.following = result.job.id;
    state.joined = !result.started;
    state.firstOfBurst = firstOfBurst && result.started;
    void follow(engine, result.job).then(
      (job) => ended(accountId, state, job),
      (cause: unknown) => {
        state.following = null;
        logger.warn(
          `[syncjob/push] Following the push sync ${result.job.id} of ${source}/${accountId} failed; the schedule will catch the account up. Cause: ${describeError(cause)}`,
        );
      },
    );
    return result.started ? 'started' : 'joined';
  };

  /** Resolves with the job once it ended: told by this process's events, or read back from the store. */
  const follow = (engine: SyncEngine, job: Job): Promise<Job> =>
    new Promise<Job>((resolve, reject) => {
      let finished = false;
      let timer: TimerHandle | null = null;
      const finish = () => {
        finished = true;
        for (const type of TERMINAL_EVENTS) engine.off(type, onEnd);
        if (timer !== null) clock.clearTimeout(timer);
      };
      const onEnd = (event: { jobId: string; job: Job }) => {
        if (event.jobId !== job.id || finished) return;
        finish();
        resolve(event.job);
      };
      for (const type of TERMINAL_EVENTS) engine.on(type, onEnd);
      // A job run by another process ends without an event here.
      const poll = () => {
        timer = clock.setTimeout(async () => {
          try {
            const current = await engine.getJob(job.id);
            if (finished) return;
            if (current !== null && !isTerminalStatus(current.status)) return poll();
            finish();
            resolve(current ?? job);
          } catch (cause) {
            if (finished) return;
            finish();
            reject(cause);
          }
        }, followPollMs);
      };
      poll();
    });

  /**
   * A start later: after the debounce of a new burst, to follow a sync that did not cover every
   * notification, or to re-check one that found nothing. Only the re-check runs when the cursor
   * already covers what was notified (that is the race it is for); the others are then skipped.
   */
  const plan = (
    accountId: string,
    state: AccountPushes,
    delayMs: number,
    kind: 'burst' | 'followUp' | 'recheck',
  ) => {
    state.timer = clock.setTimeout(
      async () => {
        try {
          if (kind !== 'recheck' && (await covered(accountId, state))) {
            state.timer = null;
            settle(state);
            return;
          }
          state.timer = null;
          await startNow(accountId, state, kind === 'burst');
        } catch (cause) {
          state.timer = null;
          logger.warn(
            `[syncjob/push] A push sync of ${source}/${accountId} could not be started; the schedule will catch the account up. Cause: ${describeError(cause)}`,
          );
        }
      },
      Math.max(0, delayMs),
    );
  };

  /** Nothing more to do for what was notified so far. */
  const settle = (state: AccountPushes) => {
    state.wanted = null;
  };

  /**
   * Decides at once (no await, so no notification slips between the decision and the plan): a
   * push-started sync that found nothing is re-checked; a sync that was joined, or that got
   * notifications while it ran, is followed by one more unless the cursor covers them by then.
   */
  const ended = (accountId: string, state: AccountPushes, job: Job) => {
    state.following = null;
    if (job.status !== 'completed') {
      // A failed sync is retried by the engine's policy or the schedule; pushing it again would not help.
      settle(state);
      return;
    }
    const untilDebounced = state.lastStartAt + debounceMs - clock.now();
    if (state.firstOfBurst && recheckDelayMs > 0 && processedCount(job.counters) === 0) {
      plan(accountId, state, Math.max(recheckDelayMs, untilDebounced), 'recheck');
    } else if (state.joined || state.notifiedSince) {
      plan(accountId, state, untilDebounced, 'followUp');
    } else {
      settle(state);
    }
  };

  /** Whether the account's cursor is at or past every history id notified (a failed read counts as not). */
  const covered = async (accountId: string, state: AccountPushes): Promise<boolean> => {
    let cursor: string | null;
    try {
      cursor = (await (await getEngine()).getAccountState({ source, accountId }))?.cursor ?? null;
    } catch {
      return false;
    }
    // Compared with what was notified by now, after the read: a push during it is not skipped.
    return (
      state.wanted !== null && cursor !== null && /^\d{1,30}$/.test(cursor) && BigInt(cursor) >= state.wanted
    );
  };

  return {
    async notify(accountId, historyId) {
      prune();
      let state = accounts.get(accountId);
      if (!state) {
        state = {
          wanted: null,
          lastStartAt: Number.NEGATIVE_INFINITY,
          following: null,
          joined: false,
          notifiedSince: false,
          firstOfBurst: false,
          timer: null,
        };
        accounts.set(accountId, state);
      }
      const id = BigInt(historyId);
      if (state.wanted === null || id > state.wanted) state.wanted = id;
      if (state.timer !== null) return 'coalesced';
      if (state.following !== null) {
        state.notifiedSince = true;
        return 'coalesced';
      }
      const sinceLast = clock.now() - state.lastStartAt;
      if (sinceLast < debounceMs) {
        plan(accountId, state, debounceMs - sinceLast, 'burst');
        return 'coalesced';
      }
      return startNow(accountId, state, true);
    },
  };
}
