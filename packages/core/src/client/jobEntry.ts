import type { JobViewState, SyncEvent } from '../events/syncEvents';
import { applyEvents, emptyJobViewState } from '../events/syncEvents';
import type { Job } from '../job/job';
import { isTerminalStatus } from '../job/job';
import { Subscribable } from './subscribable';
import { type ConnectionState, endsSubscription, type SyncTransport } from './syncTransport';
import type { TransportError } from './transportError';

/** What a job entry holds: the folded job and logs, plus the connection. */
export interface JobSnapshot extends JobViewState {
  jobId: string;
  connection: ConnectionState;
  /** Why the subscription ended without a terminal status (not found, signed out…), else `null`. */
  error: TransportError | null;
  /** True once the job has a terminal status: nothing will change any more. */
  isFinished: boolean;
}

export interface JobEntryOptions {
  /** Log lines kept (default 10,000; older ones are dropped). */
  maxLogs?: number;
}

/**
 * The client's one entry for a job, shared by every view that shows it (`client.observe(jobId)`):
 * folds the transport's events with `applyEvents` and tells listeners, once per batch (a
 * 10,000-line backlog is one notification). `getSnapshot()` returns the same object until
 * something changes (for `useSyncExternalStore`). The transport subscription is opened by the first
 * listener and closed when the last one leaves or the job ends, so the number of listeners never
 * multiplies connections. A job known to have ended (the latest job after a page refresh) is
 * subscribed to once all the same, to load its log lines; after its terminal event nothing is
 * requested again.
 */
export class JobEntry extends Subscribable<JobSnapshot> {
  readonly jobId: string;
  private readonly transport: SyncTransport;
  private readonly maxLogs: number | undefined;
  private view: JobViewState = emptyJobViewState;
  private connection: ConnectionState = 'idle';
  private error: TransportError | null = null;
  private unsubscribeTransport: (() => void) | null = null;
  private disconnectScheduled = false;
  /** The transport delivered the job's end (its terminal event): every log line is here, nothing will change. */
  private ended = false;

  constructor(jobId: string, transport: SyncTransport, options: JobEntryOptions = {}) {
    super(initialSnapshot(jobId));
    this.jobId = jobId;
    this.transport = transport;
    this.maxLogs = options.maxLogs;
  }

  /** Every new listener (re)connects when nothing is open: after a subscription error too. */
  protected override onSubscribe(): void {
    this.disconnectScheduled = false;
    this.connect();
  }

  protected override onLastUnsubscribe(): void {
    this.scheduleDisconnect();
  }

  /** Folds a job known from elsewhere (a start or cancel answer) so the view is current before the stream opens. */
  seed(job: Job): void {
    if (job.id !== this.jobId) return;
    // Not from the transport: a finished job seeded here still gets its last lines from the stream.
    this.apply([{ type: 'snapshot', jobId: job.id, job }], false);
  }

  /** True while a transport subscription is open. */
  get isConnected(): boolean {
    return this.unsubscribeTransport !== null;
  }

  private get isFinished(): boolean {
    return this.view.job !== null && isTerminalStatus(this.view.job.status);
  }

  private connect() {
    if (this.unsubscribeTransport || this.ended || !this.hasListeners) return;
    this.error = null;
    let active = true;
    const unsubscribe = this.transport.subscribe(
      this.jobId,
      { afterSeq: this.view.lastSeq },
      {
        onEvent: (event) => {
          if (active) this.apply([event], true);
        },
        onEvents: (events) => {
          if (active) this.apply(events, true);
        },
        onConnectionChange: (state) => {
          if (!active) return;
          // A transport that closes by itself after a finished job's snapshot (no terminal event) is done too.
          if (state === 'closed' && this.isFinished) this.end();
          this.setConnection(state);
        },
        onError: (error) => {
          if (!active) return;
          active = false;
          this.unsubscribeTransport = null;
          this.error = error;
          this.setConnection('closed', true);
        },
      },
    );
    // The transport may have finished synchronously (an in-process engine, a finished job).
    if (!active || this.ended) {
      active = false;
      unsubscribe();
      return;
    }
    this.unsubscribeTransport = () => {
      active = false;
      unsubscribe();
    };
  }

  /**
   * Deferred by a microtask so an unsubscribe immediately followed by a subscribe (React StrictMode,
   * a component moving) keeps the one connection instead of reconnecting.
   */
  private scheduleDisconnect() {
    if (this.disconnectScheduled) return;
    this.disconnectScheduled = true;
    queueMicrotask(() => {
      if (!this.disconnectScheduled) return;
      this.disconnectScheduled = false;
      if (!this.hasListeners) this.disconnect('idle');
    });
  }

  private disconnect(state: ConnectionState) {
    const unsubscribe = this.unsubscribeTransport;
    this.unsubscribeTransport = null;
    unsubscribe?.();
    this.setConnection(state);
  }

  private apply(events: readonly SyncEvent[], fromTransport: boolean) {
    const next = applyEvents(this.view, events, { maxLogs: this.maxLogs });
    // Only the terminal event ends the subscription: a dropped stream never does, and a snapshot of
    // a finished job is followed by its log lines.
    const ending = fromTransport && !this.ended && events.some(endsSubscription);
    if (next === this.view && !ending) return;
    this.view = next;
    if (ending) {
      this.end();
      this.connection = 'closed';
    }
    this.publish();
  }

  /** The job's end was delivered: close the subscription for good. */
  private end() {
    this.ended = true;
    const unsubscribe = this.unsubscribeTransport;
    this.unsubscribeTransport = null;
    unsubscribe?.();
  }

  private setConnection(state: ConnectionState, force = false) {
    if (state === this.connection && !force) return;
    this.connection = state;
    this.publish();
  }

  /** Callers decide what changed (a folded event, a connection state), so every publish is news. */
  private publish() {
    this.setSnapshot({
      ...this.view,
      jobId: this.jobId,
      connection: this.connection,
      error: this.error,
      isFinished: this.isFinished,
    });
  }
}

function initialSnapshot(jobId: string): JobSnapshot {
  return { ...emptyJobViewState, jobId, connection: 'idle', error: null, isFinished: false };
}

/** @deprecated Renamed `JobEntry` (the client's shared entry for a job); this alias goes in the next minor release. */
export const JobObserver = JobEntry;
/** @deprecated Renamed `JobEntry`. */
export type JobObserver = JobEntry;
/** @deprecated Renamed `JobEntryOptions`. */
export type JobObserverOptions = JobEntryOptions;
