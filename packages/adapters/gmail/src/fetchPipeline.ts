import type { MailMessage, SourceBatch, SourceContext, StagedItem, SyncError } from '@syncjob/core';
import type { FetchUnit } from './fetchPlanner';

/** The calls of a fetch still to send, and what the ones answered brought. */
export interface FetchState {
  pending: FetchUnit[];
  messages: MailMessage[];
  gone: string[];
  requests: number;
  calls: number;
  units: number;
}

export const fetchState = (pending: FetchUnit[]): FetchState => ({
  pending,
  messages: [],
  gone: [],
  requests: 0,
  calls: 0,
  units: 0,
});

/** One batch's fetch: `failure` tells why the calls left in `state.pending` failed. */
export interface Fetched {
  state: FetchState;
  failure: SyncError | undefined;
  plannedCalls: number;
  threads: number;
}

/** What one commit stores: a batch's answered calls and the retried calls of earlier batches that settled meanwhile. */
export interface FetchedBatch {
  messages: MailMessage[];
  gone: string[];
  /** The staged ids whose messages this commit stores (or found deleted): unstaged with it. */
  ids: string[];
  /** Of the batch's own calls, as sent (retried calls of earlier batches not counted). */
  requests: number;
  calls: number;
  units: number;
  plannedCalls: number;
  threads: number;
  /** Calls of earlier batches whose messages come with this commit. */
  retriedCalls: number;
  /** Calls of this batch that failed and are sent again later. */
  callsToRetry: number;
}

/** What the pipeline asks of the source. */
export interface FetchSteps<C> {
  /** Sends a batch's calls once; the calls that failed for a retryable reason are left pending. */
  fetch(items: StagedItem[], batchNumber: number): Promise<Fetched>;
  /** Sends the calls `state` has pending; returns why those still failing did (`undefined`: none is). */
  send(state: FetchState): Promise<SyncError | undefined>;
  /** The commit that stores `fetched` and unstages its ids, with `checkpoint`. */
  commit(fetched: FetchedBatch, batchNumber: number, checkpoint: C): Promise<SourceBatch<C>>;
}

/** Failed calls of a batch being sent again while the run goes on. */
interface RetryingCalls {
  state: FetchState;
  /** The staged ids the calls stand for: unstaged when the retry's messages are committed. */
  ids: string[];
  calls: number;
  /** Resolves (never rejects) when the retry succeeded or gave up. */
  settled: Promise<void>;
  done: boolean;
  /** Why it gave up: the job fails on it. */
  error: unknown;
  /** Set when the run ended: a pending attempt sends nothing. */
  abandoned: boolean;
}

/**
 * Fetches batches of listed ids without letting failed calls hold them up, for every path that
 * fetches (the newest-first listing and the drain of what is staged). A batch sends one round and
 * commits what was answered at once, unstaging only those ids; calls that failed for a retryable
 * reason (5xx, a cut connection, a rate limit) keep their ids staged and are sent again after their
 * back-off while later batches go on; their messages are committed with whichever batch is yielded
 * when they arrive. A crash meanwhile leaves them staged, so a resume fetches them.
 *
 * At most `maxWaitingCalls` calls wait at once; past that, the next batch waits for them. A call
 * still failing once the retry budget is spent fails the job. The owner `drain`s the rest before the
 * sync moves on, and `abandon`s the waiting calls when its run ends.
 */
export class FetchPipeline<C> {
  readonly #retrying: RetryingCalls[] = [];
  readonly #ctx: SourceContext;
  readonly #steps: FetchSteps<C>;
  readonly #maxWaitingCalls: number;

  constructor(ctx: SourceContext, steps: FetchSteps<C>, maxWaitingCalls: number) {
    this.#ctx = ctx;
    this.#steps = steps;
    this.#maxWaitingCalls = maxWaitingCalls;
  }

  /**
   * Fetches one batch and returns its commit with `checkpoint`: what it fetched, plus what retries
   * of earlier batches brought meanwhile.
   */
  async fetch(items: StagedItem[], batchNumber: number, checkpoint: C): Promise<SourceBatch<C>> {
    while (this.#waitingCalls() >= this.#maxWaitingCalls) await this.#nextSettled(this.#unsettled());
    throwIfGaveUp(this.#retrying);
    const fetched = await this.#steps.fetch(items, batchNumber);
    const failedIds = new Set(fetched.state.pending.flatMap(idsOf));
    if (fetched.failure) this.#retrying.push(this.#retryLater(fetched.state, fetched.failure, batchNumber));
    const ids = items.filter((item) => !failedIds.has(item.id)).map((item) => item.id);
    return this.#commit(fetched, ids, batchNumber, checkpoint);
  }

  /**
   * Commits the retries still waiting as they arrive, one commit each time some settle, numbered on
   * from `done` with `checkpointOf`. Returns the number of batches done.
   */
  async *drain(done: number, checkpointOf: (batch: number) => C): AsyncGenerator<SourceBatch<C>, number> {
    let batchNumber = done;
    while (this.#retrying.length > 0) {
      await this.#nextSettled(this.#retrying);
      batchNumber += 1;
      yield await this.#commit(
        { state: fetchState([]), failure: undefined, plannedCalls: 0, threads: 0 },
        [],
        batchNumber,
        checkpointOf(batchNumber),
      );
    }
    return batchNumber;
  }

  /** The run ended (done, failed or stopped): calls still waiting are not sent again. */
  abandon(): void {
    for (const entry of this.#retrying) entry.abandoned = true;
  }

  #unsettled(): RetryingCalls[] {
    return this.#retrying.filter((entry) => !entry.done);
  }

  #waitingCalls(): number {
    return this.#unsettled().reduce((sum, entry) => sum + entry.calls, 0);
  }

  #nextSettled(entries: readonly RetryingCalls[]): Promise<void> {
    return Promise.race(entries.map((entry) => entry.settled));
  }

  async #commit(
    fetched: Fetched,
    ids: string[],
    batchNumber: number,
    checkpoint: C,
  ): Promise<SourceBatch<C>> {
    const { state } = fetched;
    const batch: FetchedBatch = {
      messages: state.messages,
      gone: state.gone,
      ids,
      requests: state.requests,
      calls: state.calls,
      units: state.units,
      plannedCalls: fetched.plannedCalls,
      threads: fetched.threads,
      retriedCalls: 0,
      callsToRetry: state.pending.length,
    };
    for (const entry of takeSettled(this.#retrying)) {
      batch.messages.push(...entry.state.messages);
      batch.gone.push(...entry.state.gone);
      batch.ids.push(...entry.ids);
      batch.retriedCalls += entry.calls;
    }
    return this.#steps.commit(batch, batchNumber, checkpoint);
  }

  /**
   * Sends the failed calls of a batch again with the engine's retry policy, without holding up the
   * run: the first attempt is the round that already failed, so the policy's back-off (or the
   * answer's Retry-After) comes first and is logged with its reason, and calls still failing once
   * the retry budget is spent fail the job as they would in place. The quota limiter paces them
   * like every other call.
   */
  #retryLater(state: FetchState, failure: SyncError, batchNumber: number): RetryingCalls {
    const calls = state.pending.length;
    const entry: RetryingCalls = {
      state: fetchState(state.pending),
      ids: state.pending.flatMap(idsOf),
      calls,
      settled: Promise.resolve(),
      done: false,
      error: undefined,
      abandoned: false,
    };
    let attempted = false;
    entry.settled = this.#ctx
      .retry(
        async () => {
          if (!attempted) {
            attempted = true;
            throw failure;
          }
          if (entry.abandoned) return;
          const again = await this.#steps.send(entry.state);
          if (again) throw again;
        },
        { label: `${calls} calls of fetch batch ${batchNumber}`, inBackground: true },
      )
      .then(
        () => {
          entry.done = true;
        },
        (error: unknown) => {
          entry.done = true;
          entry.error = error ?? new Error('a retry gave up without a reason');
        },
      );
    return entry;
  }
}

const idsOf = (unit: FetchUnit): string[] => (unit.kind === 'thread' ? unit.ids : [unit.id]);

/** Throws why the first retry that gave up did. */
function throwIfGaveUp(retrying: readonly RetryingCalls[]): void {
  const failed = retrying.find((entry) => entry.done && entry.error !== undefined);
  if (failed) throw failed.error;
}

/** Removes the retries that are over from `retrying` and returns them; throws the first that gave up. */
function takeSettled(retrying: RetryingCalls[]): RetryingCalls[] {
  throwIfGaveUp(retrying);
  const settled = retrying.filter((entry) => entry.done);
  if (settled.length === 0) return settled;
  retrying.splice(0, retrying.length, ...retrying.filter((entry) => !entry.done));
  return settled;
}
