import type { StartInput, StartResult } from '../engine/engineTypes';
import type { SyncEvent } from '../events/syncEvents';
import type { AccountKey, Job } from '../job/job';
import { TERMINAL_STATUSES } from '../job/job';
import type { TransportError } from './transportError';

/**
 * Where a job subscription stands, for "Reconnecting…" indicators:
 * `idle` (not subscribed), `connecting`, `open` (live), `reconnecting` (dropped, will retry),
 * `polling` (live through polling), `closed` (the job ended or the subscription failed).
 */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'polling' | 'closed';

export interface JobSubscriptionHandlers {
  /** Events of the job, in order: a snapshot, logs after `afterSeq` (each once), live events. */
  onEvent(event: SyncEvent): void;
  /**
   * Several events at once, in order: a backlog (the lines after `afterSeq` on connect), a polling
   * round. Folded in one step (`applyEvents`), so a 10,000-line backlog is one state change and one
   * render, not 10,000. Optional: without it each event goes to `onEvent`.
   */
  onEvents?(events: readonly SyncEvent[]): void;
  /** The connection changed (optional). */
  onConnectionChange?(state: ConnectionState): void;
  /**
   * The subscription ended for good without a terminal event (the job does not exist or is not
   * visible, the caller is signed out…). Never called for a dropped connection: that is retried.
   */
  onError?(error: TransportError): void;
}

export interface JobSubscriptionOptions {
  /** Log lines up to this seq are already held: send only later ones (default 0). */
  afterSeq?: number;
}

export interface ListJobsInput {
  accountId: string;
  source?: string;
  /** At most this many (server default 50). */
  limit?: number;
}

/**
 * How a `SyncClient` talks to the sync server (or to an engine directly). Implement it to carry the
 * protocol over anything: SSE (`sseTransport`), polling (`pollingTransport`), an in-process engine
 * (`engineTransport`), WebSocket, tRPC…
 *
 * Contract of `subscribe`:
 * - deliver the job's events (the `SyncEvent` types, folded by `applyEvent`) in order, a snapshot
 *   first, each log line at most once; a backlog as one `onEvents` call when the handler has it;
 * - a snapshot of a job that already ended is followed by its log lines and its terminal event
 *   (`completed`, `failed`, `cancelled`, `interrupted`): that is how a finished job's logs load;
 * - a dropped connection is not the end: reconnect (resuming after the last seq) and keep going;
 * - stop all activity (network, timers) after delivering the terminal event, and when the returned
 *   function is called (it must be idempotent).
 *
 * The other methods reject with a `TransportError`.
 */
export interface SyncTransport {
  /** Starts a sync of the account, or returns the one already active (`started: false`). */
  start(input: StartInput): Promise<StartResult>;
  /** Requests cancellation; the job ends `cancelled` within a batch or heartbeat. */
  cancel(jobId: string): Promise<Job>;
  /** A new job resuming from the account's checkpoint (for a failed, cancelled or interrupted job). */
  retry(jobId: string): Promise<StartResult>;
  /** The job (rejects with code `NOT_FOUND` when it does not exist or is not visible). */
  getJob(jobId: string): Promise<Job>;
  /** The account's queued or running job, `null` when none: the reattach call. */
  getActive(account: AccountKey): Promise<Job | null>;
  /** The account's jobs, newest first. */
  listJobs(query: ListJobsInput): Promise<Job[]>;
  /** Subscribes to one job's events; returns the unsubscribe function. */
  subscribe(jobId: string, options: JobSubscriptionOptions, handlers: JobSubscriptionHandlers): () => void;
}

/** Hands `events` to the handlers: in one `onEvents` call when they take batches, else one by one. */
export function deliverEvents(handlers: JobSubscriptionHandlers, events: readonly SyncEvent[]): void {
  if (events.length === 0) return;
  if (handlers.onEvents) handlers.onEvents(events);
  else for (const event of events) handlers.onEvent(event);
}

/**
 * True for the event that ends a subscription: one named after a terminal status (not a snapshot of
 * a finished job, which its logs follow).
 */
export const endsSubscription = (event: SyncEvent): boolean =>
  (TERMINAL_STATUSES as readonly string[]).includes(event.type);
