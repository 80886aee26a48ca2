import type { Clock } from '@syncjob/core';
import { SyncError } from '@syncjob/core';

/** Which label changes Gmail notifies: only changes touching `labelIds` (`include`), or all others (`exclude`). */
export type GmailLabelFilterBehavior = 'include' | 'exclude';

/** Push notifications through `users.watch` (Gmail publishes to a Pub/Sub topic that pushes to the app). */
export interface GmailPushOptions {
  /**
   * The Pub/Sub topic Gmail publishes to, `projects/{project}/topics/{topic}`. It must exist in the
   * app's Google Cloud project and grant `gmail-api-push@system.gserviceaccount.com` the publisher role.
   */
  topicName: string;
  /** Notify only changes touching these labels (default: every change). */
  labelIds?: string[];
  /** How `labelIds` filters (default `include`). */
  labelFilterBehavior?: GmailLabelFilterBehavior;
  /** `renewWatches` renews a watch expiring within this many ms (default 24 h; Gmail's watches last 7 days). */
  renewWithinMs?: number;
  /**
   * Where each account's watch (expiration, topic, filter) is recorded. Default: in memory, so after
   * a restart `renewWatches` knows no watch and renews every account once (100 quota units each).
   * Give a store over the app's own accounts table to keep the record across restarts.
   */
  watchStore?: GmailWatchStore;
  /** Time of the renewal decisions (default the system clock). */
  clock?: Pick<Clock, 'now'>;
  /** Accounts `renewWatches` calls Gmail for at once (default 8). */
  concurrency?: number;
}

/** An account's watch, as recorded after `users.watch` answered. */
export interface GmailWatch {
  accountId: string;
  topicName: string;
  labelIds: string[];
  labelFilterBehavior: GmailLabelFilterBehavior;
  /**
   * The mailbox's `historyId` when the watch was set. Informational only: it is never used as the
   * sync cursor, since changes between the last sync and the watch would then be skipped.
   */
  historyId: string;
  /** When Gmail stops notifying unless renewed, ms since the epoch. */
  expiration: number;
  /** When the watch was set or last renewed, ms since the epoch. */
  watchedAt: number;
}

/** A durable record of each account's watch; every method may return a promise. */
export interface GmailWatchStore {
  get(accountId: string): GmailWatch | null | undefined | Promise<GmailWatch | null | undefined>;
  set(watch: GmailWatch): void | Promise<void>;
  delete(accountId: string): void | Promise<void>;
}

/** What one `renewWatches` call did. */
export interface GmailWatchRenewal {
  /** Accounts watched or renewed now, with their new watch. */
  renewed: GmailWatch[];
  /** Accounts whose watch lasts past the renewal window and matches the options: left alone. */
  current: string[];
  /** Accounts Gmail refused or could not be reached for; the next call tries them again. */
  failed: Array<{ accountId: string; error: SyncError }>;
}

/** The two Gmail calls watch management needs, for one account. */
interface WatchCalls {
  watch(request: {
    topicName: string;
    labelIds?: readonly string[];
    labelFilterBehavior?: GmailLabelFilterBehavior;
  }): Promise<{ historyId: string; expiration: number }>;
  stop(): Promise<void>;
}

const TOPIC_NAME = /^projects\/[^/\s]+\/topics\/[^/\s]+$/;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Checks the push options once, when the source is created, so a typo fails at start-up. */
function checkPushOptions(push: GmailPushOptions): void {
  if (typeof push.topicName !== 'string' || !TOPIC_NAME.test(push.topicName)) {
    throw new SyncError(
      'INVALID_INPUT',
      `push.topicName must be a Pub/Sub topic name, projects/{project}/topics/{topic}; got ${JSON.stringify(push.topicName)}.`,
    );
  }
  const behavior = push.labelFilterBehavior;
  if (behavior !== undefined && behavior !== 'include' && behavior !== 'exclude') {
    throw new SyncError(
      'INVALID_INPUT',
      `push.labelFilterBehavior must be include or exclude; got ${String(behavior)}.`,
    );
  }
  if (push.renewWithinMs !== undefined && !(push.renewWithinMs >= 0)) {
    throw new SyncError('INVALID_INPUT', 'push.renewWithinMs must be a non-negative number of ms.');
  }
}

function memoryWatchStore(): GmailWatchStore {
  const watches = new Map<string, GmailWatch>();
  return {
    get: (accountId) => watches.get(accountId),
    set: (watch) => {
      watches.set(watch.accountId, { ...watch, labelIds: [...watch.labelIds] });
    },
    delete: (accountId) => {
      watches.delete(accountId);
    },
  };
}

/**
 * Gmail watch management for a source: set, renew before expiry, stop. Gmail keeps one watch per
 * mailbox and a new `users.watch` replaces it, so renewing is watching again.
 */
export class GmailWatches {
  readonly #push: GmailPushOptions;
  readonly #calls: (accountId: string) => Promise<WatchCalls>;
  readonly #store: GmailWatchStore;
  readonly #now: () => number;

  constructor(push: GmailPushOptions, calls: (accountId: string) => Promise<WatchCalls>) {
    checkPushOptions(push);
    this.#push = push;
    this.#calls = calls;
    this.#store = push.watchStore ?? memoryWatchStore();
    const clock = push.clock;
    this.#now = clock ? () => clock.now() : () => Date.now();
  }

  /** The account's recorded watch, or `null`. */
  async watchOf(accountId: string): Promise<GmailWatch | null> {
    return (await this.#store.get(accountId)) ?? null;
  }

  /** Sets (or replaces) the account's watch now and records it. */
  async watch(accountId: string): Promise<GmailWatch> {
    const labelIds = this.#push.labelIds ?? [];
    const labelFilterBehavior = this.#push.labelFilterBehavior ?? 'include';
    const calls = await this.#calls(accountId);
    const answer = await calls.watch({ topicName: this.#push.topicName, labelIds, labelFilterBehavior });
    const watch: GmailWatch = {
      accountId,
      topicName: this.#push.topicName,
      labelIds: [...labelIds],
      labelFilterBehavior,
      historyId: answer.historyId,
      expiration: answer.expiration,
      watchedAt: this.#now(),
    };
    await this.#store.set(watch);
    return watch;
  }

  /**
   * Watches each account that has no recorded watch, one expiring within `renewWithinMs`, or one set
   * with other options (topic or label filter changed). Meant to be called daily (or on every
   * scheduler cycle: an account with a current watch costs no Gmail call). One account failing
   * does not stop the others.
   */
  async renew(accountIds: Iterable<string>): Promise<GmailWatchRenewal> {
    const result: GmailWatchRenewal = { renewed: [], current: [], failed: [] };
    const queue = [...new Set(accountIds)];
    const renewWithin = this.#push.renewWithinMs ?? DAY_MS;
    const worker = async () => {
      for (let accountId = queue.shift(); accountId !== undefined; accountId = queue.shift()) {
        try {
          const known = await this.watchOf(accountId);
          if (known && known.expiration - this.#now() > renewWithin && this.#matches(known)) {
            result.current.push(accountId);
            continue;
          }
          result.renewed.push(await this.watch(accountId));
        } catch (error) {
          result.failed.push({ accountId, error: SyncError.fromUnknown(error) });
        }
      }
    };
    const workers = Math.max(1, Math.min(queue.length, Math.floor(this.#push.concurrency ?? 8)));
    await Promise.all(Array.from({ length: workers }, worker));
    return result;
  }

  /**
   * Ends the account's watch (`users.stop`) and forgets it: call it when the user disconnects the
   * account. When the grant is already revoked (`REAUTH_REQUIRED`), Gmail cannot be told; the record
   * is dropped anyway and the watch lapses by itself within seven days (`stopped: false`).
   */
  async stop(accountId: string): Promise<{ stopped: boolean }> {
    try {
      await (await this.#calls(accountId)).stop();
    } catch (error) {
      if (SyncError.fromUnknown(error).code !== 'REAUTH_REQUIRED') throw error;
      await this.#store.delete(accountId);
      return { stopped: false };
    }
    await this.#store.delete(accountId);
    return { stopped: true };
  }

  #matches(watch: GmailWatch): boolean {
    const labelIds = this.#push.labelIds ?? [];
    return (
      watch.topicName === this.#push.topicName &&
      watch.labelFilterBehavior === (this.#push.labelFilterBehavior ?? 'include') &&
      watch.labelIds.length === labelIds.length &&
      watch.labelIds.every((id, i) => id === labelIds[i])
    );
  }
}
