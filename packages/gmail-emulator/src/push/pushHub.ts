import type { Clock } from '../clock.js';
import { hashString } from '../mailbox/prng.js';
import type { PushSigningKey } from './signingKey.js';

/** Where and how the emulator delivers Pub/Sub pushes for the mailboxes being watched. */
export interface PushOptions {
  /** The app's push endpoint: every notification is POSTed here. */
  endpoint: string;
  /** The `aud` claim of the push token. Default: `endpoint`, as Pub/Sub does when none is set. */
  audience?: string;
  /** The `email` claim: the service account the subscription pushes as. Default `gmail-push@emulator.iam.gserviceaccount.com`. */
  serviceAccountEmail?: string;
  /** The `subscription` field of the body. Default `projects/<topic's project>/subscriptions/<topic>-push`. */
  subscription?: string;
  /** Wait this long after a change before the first delivery. Default 0. */
  delayMs?: number;
  /**
   * Deliver the push this long *before* the change shows in `history.list`: the change is applied,
   * but history reads stop short of it until then. Reproduces the race Gmail is known for, where a
   * notification arrives before `history.list` has the change. Default 0.
   */
  earlyByMs?: number;
  /** Deliveries of one message at most, the first included, before it is dropped. Default 5. */
  maxAttempts?: number;
  /** Wait before the first redelivery; it doubles on each one. Default 100 ms (Pub/Sub's minimum is 10 s). */
  minBackoffMs?: number;
  /** Longest wait between redeliveries. Default 10,000 ms (Pub/Sub's maximum is 600 s). */
  maxBackoffMs?: number;
  /** An answer slower than this counts as a failed delivery (Pub/Sub's push deadline). Default 10,000 ms. */
  ackDeadlineMs?: number;
}

export type LabelFilterBehavior = 'include' | 'exclude';

/** One mailbox's watch, as `users.watch` set it. */
export interface Watch {
  topicName: string;
  labelIds: string[];
  labelBits: number;
  labelFilterBehavior: LabelFilterBehavior;
  /** Ms since the epoch after which no notification is published. */
  expiration: number;
}

export interface PushStats {
  /** Notifications published for watched mailboxes (whether or not an endpoint is configured). */
  published: number;
  /** POSTs sent to the endpoint, redeliveries included. */
  attempts: number;
  /** Deliveries the endpoint acknowledged (102, 200, 201, 202 or 204). */
  acked: number;
  /** POSTs that were redeliveries of a message not acknowledged before. */
  redelivered: number;
  /** Messages dropped after `maxAttempts` unacknowledged deliveries. */
  failed: number;
  /** Messages not yet acknowledged or dropped. */
  pending: number;
}

/** What a change looks like to the hub: the labels each history record touched. */
export interface ChangedLabels {
  labelBits: number;
  changedBits: number;
}

/** The push body Pub/Sub POSTs to a push subscription. */
export interface PushBody {
  message: {
    data: string;
    messageId: string;
    message_id: string;
    publishTime: string;
    publish_time: string;
  };
  subscription: string;
}

const ACK_STATUSES = new Set([102, 200, 201, 202, 204]);
const WATCH_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
const DEFAULT_SERVICE_ACCOUNT = 'gmail-push@emulator.iam.gserviceaccount.com';
export const GOOGLE_ISSUER = 'https://accounts.google.com';

const emptyStats = (): PushStats => ({
  published: 0,
  attempts: 0,
  acked: 0,
  redelivered: 0,
  failed: 0,
  pending: 0,
});

/**
 * Gmail's watches and the Pub/Sub push subscription behind them. A change to a watched mailbox that
 * passes the watch's label filter publishes `{ emailAddress, historyId }`; each message is delivered
 * on its own (no ordering, like a subscription without ordering keys) with an OIDC token signed by
 * the emulator's key, and redelivered with doubling back-off until acknowledged or `maxAttempts`.
 */
export class PushHub {
  private readonly watches = new Map<string, Watch>();
  /** Per address: history ids hidden from history reads until `visibleAt` (see `earlyByMs`). */
  private readonly hidden = new Map<string, Array<{ fromHistoryId: number; visibleAt: number }>>();
  private readonly inFlight = new Set<Promise<void>>();
  private counters = emptyStats();
  private nextMessageId = 1;
  /** Bumped by `reset`, so deliveries started before it stop retrying. */
  private generation = 0;

  constructor(
    private readonly clock: Clock,
    readonly key: PushSigningKey,
    private options: PushOptions | undefined,
  ) {}

  /** Replaces the push configuration; `null` stops deliveries (notifications are still counted). */
  configure(options: PushOptions | null): void {
    this.options = options ?? undefined;
  }

  get config(): PushOptions | undefined {
    return this.options;
  }

  /** Sets or replaces the mailbox's watch; returns its expiration. */
  watch(address: string, watch: Omit<Watch, 'expiration'>): Watch {
    const entry = { ...watch, expiration: this.clock.now() + WATCH_LIFETIME_MS };
    this.watches.set(address, entry);
    return entry;
  }

  /** Removes the mailbox's watch; stopping an unwatched mailbox is not an error, as with Gmail. */
  stop(address: string): void {
    this.watches.delete(address);
  }

  watchOf(address: string): Watch | undefined {
    const watch = this.watches.get(address);
    return watch && watch.expiration > this.clock.now() ? watch : undefined;
  }

  /**
   * Called after a mutation of a mailbox with the records it wrote. Publishes one notification when
   * the mailbox is watched and a record passes the label filter.
   */
  changed(address: string, historyId: number, firstHistoryId: number, records: readonly ChangedLabels[]) {
    const watch = this.watchOf(address);
    if (!watch || !records.some((record) => passes(watch, record))) return;
    const early = this.options?.earlyByMs ?? 0;
    if (early > 0) {
      const list = this.hidden.get(address) ?? [];
      list.push({ fromHistoryId: firstHistoryId, visibleAt: this.clock.now() + early });
      this.hidden.set(address, list);
    }
    this.publish(address, historyId, watch.topicName);
  }

  /** The newest history id `history.list` may show for the mailbox now (`earlyByMs` hides newer ones). */
  visibleHistoryId(address: string, current: number): number {
    const list = this.hidden.get(address);
    if (!list) return current;
    const now = this.clock.now();
    const still = list.filter((entry) => entry.visibleAt > now);
    if (still.length === 0) {
      this.hidden.delete(address);
      return current;
    }
    this.hidden.set(address, still);
    return Math.min(current, ...still.map((entry) => entry.fromHistoryId - 1));
  }

  stats(): PushStats {
    return { ...this.counters };
  }

  /** Resolves once every message published so far is acknowledged or dropped. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Forgets watches, hidden history and counters; deliveries under way stop retrying. */
  reset(): void {
    this.watches.clear();
    this.hidden.clear();
    this.counters = emptyStats();
    this.generation += 1;
  }

  /** An OIDC ID token as Pub/Sub's authenticated push sends it, for `audience`, valid one hour. */
  idToken(audience: string, serviceAccountEmail = DEFAULT_SERVICE_ACCOUNT): string {
    const iat = Math.floor(this.clock.now() / 1000);
    const sub = String(100_000_000_000_000_000_000n + BigInt(hashString(serviceAccountEmail)));
    return this.key.sign({
      iss: GOOGLE_ISSUER,
      aud: audience,
      azp: sub,
      sub,
      email: serviceAccountEmail,
      email_verified: true,
      iat,
      exp: iat + 3600,
    });
  }

  private publish(address: string, historyId: number, topicName: string): void {
    this.counters.published += 1;
    const options = this.options;
    if (!options) return;
    const messageId = String(this.nextMessageId++);
    const publishTime = new Date(this.clock.now()).toISOString();
    const body: PushBody = {
      message: {
        data: Buffer.from(JSON.stringify({ emailAddress: address, historyId: Number(historyId) })).toString(
          'base64',
        ),
        messageId,
        message_id: messageId,
        publishTime,
        publish_time: publishTime,
      },
      subscription: options.subscription ?? defaultSubscription(topicName),
    };
    this.counters.pending += 1;
    const delivery = this.deliver(options, JSON.stringify(body), this.generation);
    this.inFlight.add(delivery);
    delivery.finally(() => this.inFlight.delete(delivery));
  }

  private async deliver(options: PushOptions, body: string, generation: number): Promise<void> {
    const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    let backoff = Math.max(0, options.minBackoffMs ?? 100);
    const maxBackoff = Math.max(backoff, options.maxBackoffMs ?? 10_000);
    if ((options.delayMs ?? 0) > 0) await this.clock.sleep(options.delayMs!);
    for (let attempt = 1; generation === this.generation; attempt++) {
      this.counters.attempts += 1;
      if (attempt > 1) this.counters.redelivered += 1;
      if (await this.post(options, body)) {
        this.counters.acked += 1;
        this.counters.pending -= 1;
        return;
      }
      if (attempt >= maxAttempts) break;
      await this.clock.sleep(backoff);
      backoff = Math.min(maxBackoff, backoff * 2);
    }
    if (generation !== this.generation) return;
    this.counters.failed += 1;
    this.counters.pending -= 1;
  }

  /** One POST; true when the endpoint acknowledged it. A refused connection or a timeout is a nack. */
  private async post(options: PushOptions, body: string): Promise<boolean> {
    const token = this.idToken(options.audience ?? options.endpoint, options.serviceAccountEmail);
    try {
      const response = await fetch(options.endpoint, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)',
        },
        body,
        signal: AbortSignal.timeout(options.ackDeadlineMs ?? 10_000),
      });
      await response.body?.cancel();
      return ACK_STATUSES.has(response.status);
    } catch {
      return false;
    }
  }
}

function passes(watch: Watch, record: ChangedLabels): boolean {
  if (watch.labelBits === 0) return true;
  const touches = ((record.labelBits | record.changedBits) & watch.labelBits) !== 0;
  return watch.labelFilterBehavior === 'include' ? touches : !touches;
}

function defaultSubscription(topicName: string): string {
  const [, project, , topic] = topicName.split('/');
  return `projects/${project}/subscriptions/${topic}-push`;
}
