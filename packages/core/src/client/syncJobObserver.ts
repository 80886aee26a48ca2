import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import type { StartResult } from '../engine/engineTypes';
import type { AccountKey, Job, JobStatus, LogEntry, RequestedSyncMode } from '../job/job';
import { isActiveStatus } from '../job/job';
import type { AccountEntry, AccountSnapshot } from './accountEntry';
import { isJobStale, staleAt } from './jobPresentation';
import { Subscribable } from './subscribable';
import type { ConnectionState } from './syncTransport';
import type { TransportError } from './transportError';

export interface SyncJobObserverOptions extends AccountKey {
  /** When `false` nothing is fetched or subscribed; turning it on connects (default `true`). */
  enabled?: boolean;
  /**
   * Least time between two notifications, in ms (default 100): however fast events arrive, a view
   * bound to the observer renders at most ten times a second. A change of job or status is told at once.
   */
  notifyIntervalMs?: number;
  /** Injected time (default: the system clock). */
  clock?: Clock;
}

/** What a view of an account's sync shows, and what it can do. The same object until something changes. */
export interface SyncJobResult {
  /** The active job, else the latest one, `null` when the account never synced (or not loaded yet). */
  job: Job | null;
  /** The job's log lines, oldest first, each once. */
  logs: readonly LogEntry[];
  /** The job's status, `null` without a job. */
  status: JobStatus | null;
  /** 0–100, `null` while the total is unknown. */
  percent: number | null;
  etaSeconds: number | null;
  ratePerSec: number | null;
  /** The job is queued or running. */
  isRunning: boolean;
  /** The job claims to be active but its worker's lease ran out (see `isJobStale`). */
  isStale: boolean;
  /** True during the reattach (asking the server for the active job). */
  isLoading: boolean;
  /** The live connection, for "Reconnecting…". */
  connection: ConnectionState;
  /** The last failure of the reattach, an action, or the subscription. */
  error: TransportError | null;
  /** Starts a sync of the account (or joins the active one). Never throws: failures land in `error`. */
  start(options?: { mode?: RequestedSyncMode }): Promise<StartResult | null>;
  /** Requests cancellation of the job. */
  cancel(): Promise<Job | null>;
  /** Retries the failed or interrupted job from its checkpoint. */
  retry(): Promise<StartResult | null>;
}

/** What the observer needs of a `SyncClient`. */
export interface SyncJobObserverClient {
  watchAccount(account: AccountKey): AccountEntry;
}

const EMPTY_LOGS: readonly LogEntry[] = Object.freeze([]);

/**
 * One view's window on an account's sync (TanStack Query's `QueryObserver` for syncjob): created
 * once per component, options changed with `setOptions`, bound with `subscribe`/`getSnapshot`.
 * The account's `AccountEntry` is shared by the client, so many views never multiply requests.
 * Notifications are throttled here, in the core, so every binding gets the same render budget.
 */
export class SyncJobObserver extends Subscribable<SyncJobResult> {
  private readonly client: SyncJobObserverClient;
  private options: Required<Omit<SyncJobObserverOptions, 'clock'>>;
  private readonly clock: Clock;
  private entry: AccountEntry | null = null;
  private unsubscribeEntry: (() => void) | null = null;
  private source: AccountSnapshot | null = null;
  private readonly serverResult: SyncJobResult;
  private lastNotifyAt = Number.NEGATIVE_INFINITY;
  private notifyTimer: TimerHandle | null = null;
  private staleTimer: TimerHandle | null = null;

  constructor(client: SyncJobObserverClient, options: SyncJobObserverOptions) {
    const clock = options.clock ?? systemClock;
    const empty = emptyResult(clock);
    super(empty);
    this.client = client;
    this.clock = clock;
    this.options = normalise(options);
    // The actions are this observer's own, bound once: every result carries the same functions.
    this.serverResult = this.withActions(empty);
    this.setSnapshot(this.serverResult);
  }

  /** What a server render shows: nothing loaded yet. */
  getServerSnapshot = (): SyncJobResult => this.serverResult;

  /** The first listener attaches to the account (when enabled). */
  protected override onFirstSubscribe(): void {
    this.attach();
  }

  protected override onLastUnsubscribe(): void {
    this.detach();
  }

  protected override isSameSnapshot(a: SyncJobResult, b: SyncJobResult): boolean {
    return (
      a.job === b.job &&
      a.logs === b.logs &&
      a.isStale === b.isStale &&
      a.isLoading === b.isLoading &&
      a.connection === b.connection &&
      a.error === b.error &&
      a.start === b.start
    );
  }

  /** Applies new options: another account or `enabled` flipping reattaches at once. */
  setOptions(options: SyncJobObserverOptions): void {
    const previous = this.options;
    this.options = normalise(options);
    const accountChanged =
      previous.source !== this.options.source || previous.accountId !== this.options.accountId;
    if (!accountChanged && previous.enabled === this.options.enabled) return;
    if (accountChanged) this.source = null;
    if (this.hasListeners) {
      this.detach();
      this.attach();
    }
    this.flush();
  }

  start = (options: { mode?: RequestedSyncMode } = {}): Promise<StartResult | null> =>
    this.currentEntry().start(options);

  cancel = (): Promise<Job | null> => this.currentEntry().cancel();

  retry = (): Promise<StartResult | null> => this.currentEntry().retry();

  private currentEntry(): AccountEntry {
    return this.entry ?? this.client.watchAccount(this.options);
  }

  private attach() {
    if (!this.options.enabled || this.unsubscribeEntry) return;
    const entry = this.client.watchAccount(this.options);
    this.entry = entry;
    this.unsubscribeEntry = entry.subscribe(this.onChange);
    this.source = entry.getSnapshot();
    this.flush();
  }

  private detach() {
    this.unsubscribeEntry?.();
    this.unsubscribeEntry = null;
    this.entry = null;
    this.clearTimers();
  }

  private onChange = (snapshot: AccountSnapshot) => {
    const previous = this.source;
    this.source = snapshot;
    const urgent =
      previous === null ||
      previous.job?.id !== snapshot.job?.id ||
      previous.job?.status !== snapshot.job?.status ||
      previous.status !== snapshot.status ||
      previous.connection !== snapshot.connection ||
      previous.error !== snapshot.error;
    const elapsed = this.clock.now() - this.lastNotifyAt;
    if (urgent || elapsed >= this.options.notifyIntervalMs) {
      this.flush();
    } else if (this.notifyTimer === null) {
      this.notifyTimer = this.clock.setTimeout(() => {
        this.notifyTimer = null;
        this.flush();
      }, this.options.notifyIntervalMs - elapsed);
    }
  };

  private flush() {
    if (this.notifyTimer !== null) {
      this.clock.clearTimeout(this.notifyTimer);
      this.notifyTimer = null;
    }
    const next = this.build(this.options.enabled ? this.source : null);
    this.scheduleStaleCheck(next.job);
    if (this.setSnapshot(next)) this.lastNotifyAt = this.clock.now();
  }

  /** A running job turns stale when its lease runs out, without any event: look again then. */
  private scheduleStaleCheck(job: Job | null) {
    if (this.staleTimer !== null) this.clock.clearTimeout(this.staleTimer);
    this.staleTimer = null;
    const at = this.hasListeners ? staleAt(job) : null;
    if (at === null || at <= this.clock.now()) return;
    this.staleTimer = this.clock.setTimeout(() => {
      this.staleTimer = null;
      this.flush();
    }, at - this.clock.now());
  }

  private clearTimers() {
    if (this.notifyTimer !== null) this.clock.clearTimeout(this.notifyTimer);
    if (this.staleTimer !== null) this.clock.clearTimeout(this.staleTimer);
    this.notifyTimer = null;
    this.staleTimer = null;
  }

  private build(snapshot: AccountSnapshot | null): SyncJobResult {
    return this.withActions(resultOf(snapshot, this.clock));
  }

  private withActions(result: Omit<SyncJobResult, 'start' | 'cancel' | 'retry'>): SyncJobResult {
    return { ...result, start: this.start, cancel: this.cancel, retry: this.retry };
  }
}

function resultOf(
  snapshot: AccountSnapshot | null,
  clock: Clock,
): Omit<SyncJobResult, 'start' | 'cancel' | 'retry'> {
  const job = snapshot?.job ?? null;
  return {
    job,
    logs: snapshot?.logs ?? EMPTY_LOGS,
    status: job?.status ?? null,
    percent: job?.percent ?? null,
    etaSeconds: job?.etaSeconds ?? null,
    ratePerSec: job?.ratePerSec ?? null,
    isRunning: job !== null && isActiveStatus(job.status),
    isStale: isJobStale(job, clock.now()),
    isLoading: snapshot?.status === 'loading',
    connection: snapshot?.connection ?? 'idle',
    error: snapshot?.error ?? null,
  };
}

/** Before the constructor binds the actions (its other `start` makes the bound result count as new): never seen by a caller. */
function emptyResult(clock: Clock): SyncJobResult {
  const none = async () => null;
  return { ...resultOf(null, clock), start: none, cancel: none, retry: none };
}

function normalise(options: SyncJobObserverOptions): Required<Omit<SyncJobObserverOptions, 'clock'>> {
  return {
    source: options.source,
    accountId: options.accountId,
    enabled: options.enabled ?? true,
    notifyIntervalMs: Math.max(0, options.notifyIntervalMs ?? 100),
  };
}
