import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import type { StartResult } from '../engine/engineTypes';
import type { AccountKey, Job, JobStatus, LogEntry, RequestedSyncMode } from '../job/job';
import { isActiveStatus } from '../job/job';
import type { AccountSnapshot, AccountWatcher } from './accountWatcher';
import { isJobStale, staleAt } from './jobPresentation';
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
  watchAccount(account: AccountKey): AccountWatcher;
}

type Listener = () => void;

const EMPTY_LOGS: readonly LogEntry[] = Object.freeze([]);

/**
 * One view's window on an account's sync (TanStack Query's `QueryObserver` for syncjob): created
 * once per component, options changed with `setOptions`, bound with `subscribe`/`getSnapshot`.
 * The account's `AccountWatcher` is shared by the client, so many views never multiply requests.
 * Notifications are throttled here, in the core, so every binding gets the same render budget.
 */
export class SyncJobObserver {
  private readonly client: SyncJobObserverClient;
  private options: Required<Omit<SyncJobObserverOptions, 'clock'>>;
  private readonly clock: Clock;
  private readonly listeners = new Set<Listener>();
  private watcher: AccountWatcher | null = null;
  private unsubscribeWatcher: (() => void) | null = null;
  private source: AccountSnapshot | null = null;
  private result: SyncJobResult;
  private readonly serverResult: SyncJobResult;
  private lastNotifyAt = Number.NEGATIVE_INFINITY;
  private notifyTimer: TimerHandle | null = null;
  private staleTimer: TimerHandle | null = null;

  constructor(client: SyncJobObserverClient, options: SyncJobObserverOptions) {
    this.client = client;
    this.clock = options.clock ?? systemClock;
    this.options = normalise(options);
    this.result = this.build(null);
    this.serverResult = this.result;
  }

  /** The current result: the same object until a notification. */
  getSnapshot = (): SyncJobResult => this.result;

  /** What a server render shows: nothing loaded yet. */
  getServerSnapshot = (): SyncJobResult => this.serverResult;

  /** Adds a listener; the first one attaches to the account (when enabled). */
  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.attach();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.detach();
    };
  };

  /** Applies new options: another account or `enabled` flipping reattaches at once. */
  setOptions(options: SyncJobObserverOptions): void {
    const previous = this.options;
    this.options = normalise(options);
    const accountChanged =
      previous.source !== this.options.source || previous.accountId !== this.options.accountId;
    if (!accountChanged && previous.enabled === this.options.enabled) return;
    if (accountChanged) this.source = null;
    if (this.listeners.size > 0) {
      this.detach();
      this.attach();
    }
    this.flush();
  }

  start = (options: { mode?: RequestedSyncMode } = {}): Promise<StartResult | null> =>
    this.currentWatcher().start(options);

  cancel = (): Promise<Job | null> => this.currentWatcher().cancel();

  retry = (): Promise<StartResult | null> => this.currentWatcher().retry();

  private currentWatcher(): AccountWatcher {
    return this.watcher ?? this.client.watchAccount(this.options);
  }

  private attach() {
    if (!this.options.enabled || this.unsubscribeWatcher) return;
    const watcher = this.client.watchAccount(this.options);
    this.watcher = watcher;
    this.unsubscribeWatcher = watcher.subscribe(this.onChange);
    this.source = watcher.getSnapshot();
    this.flush();
  }

  private detach() {
    this.unsubscribeWatcher?.();
    this.unsubscribeWatcher = null;
    this.watcher = null;
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
    if (sameResult(next, this.result)) return;
    this.result = next;
    this.lastNotifyAt = this.clock.now();
    for (const listener of [...this.listeners]) listener();
  }

  /** A running job turns stale when its lease runs out, without any event: look again then. */
  private scheduleStaleCheck(job: Job | null) {
    if (this.staleTimer !== null) this.clock.clearTimeout(this.staleTimer);
    this.staleTimer = null;
    const at = this.listeners.size > 0 ? staleAt(job) : null;
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
    const job = snapshot?.job ?? null;
    return {
      job,
      logs: snapshot?.logs ?? EMPTY_LOGS,
      status: job?.status ?? null,
      percent: job?.percent ?? null,
      etaSeconds: job?.etaSeconds ?? null,
      ratePerSec: job?.ratePerSec ?? null,
      isRunning: job !== null && isActiveStatus(job.status),
      isStale: isJobStale(job, this.clock.now()),
      isLoading: snapshot?.status === 'loading',
      connection: snapshot?.connection ?? 'idle',
      error: snapshot?.error ?? null,
      start: this.start,
      cancel: this.cancel,
      retry: this.retry,
    };
  }
}

function normalise(options: SyncJobObserverOptions): Required<Omit<SyncJobObserverOptions, 'clock'>> {
  return {
    source: options.source,
    accountId: options.accountId,
    enabled: options.enabled ?? true,
    notifyIntervalMs: Math.max(0, options.notifyIntervalMs ?? 100),
  };
}

function sameResult(a: SyncJobResult, b: SyncJobResult): boolean {
  return (
    a.job === b.job &&
    a.logs === b.logs &&
    a.isStale === b.isStale &&
    a.isLoading === b.isLoading &&
    a.connection === b.connection &&
    a.error === b.error
  );
}
