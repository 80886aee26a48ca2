import type { Clock, TimerHandle } from '../../clock';
import { systemClock } from '../../clock';
import type { SyncEngine } from '../../engine/engineTypes';
import { SyncError } from '../../errors';
import { type JobEventFeed, openJobEventFeed } from '../../events/jobEventFeed';
import type { SyncEvent } from '../../events/syncEvents';
import { reconnectDelay } from '../reconnectBackoff';
import { deliverEvents, endsSubscription, type SyncTransport } from '../syncTransport';
import { toTransportError } from '../transportError';

export interface EngineTransportOptions {
  /** Store polling interval when the store has no cross-process notices, in ms (default 1,000). */
  pollIntervalMs?: number;
  /** Injected time (default: the system clock). */
  clock?: Clock;
}

/**
 * A transport straight to an engine in the same process (tests, Electron's main process, scripts):
 * the same events as the SSE stream, from the same feed, without HTTP. No authorisation: whoever
 * holds the engine may see every job.
 */
export function engineTransport(engine: SyncEngine, options: EngineTransportOptions = {}): SyncTransport {
  const wrap = async <T>(operation: () => Promise<T>): Promise<T> => {
    try {
      return await operation();
    } catch (cause) {
      throw toTransportError(cause);
    }
  };
  return {
    start: (input) => wrap(() => engine.start(input)),
    cancel: (jobId) => wrap(() => engine.cancel(jobId)),
    retry: (jobId) => wrap(() => engine.retry(jobId)),
    getJob: (jobId) =>
      wrap(async () => {
        const job = await engine.getJob(jobId);
        if (!job) throw new SyncError('NOT_FOUND', 'No job with this id exists.');
        return job;
      }),
    getActive: (account) => wrap(() => engine.getActiveJob(account)),
    listJobs: (query) => wrap(() => engine.listJobs(query)),
    subscribe(jobId, subscribeOptions, handlers) {
      const clock = options.clock ?? systemClock;
      let lastSeq = subscribeOptions.afterSeq ?? 0;
      let attempt = 0;
      let stopped = false;
      let feed: JobEventFeed | null = null;
      let retryTimer: TimerHandle | null = null;
      const receive = (events: readonly SyncEvent[]) => {
        if (stopped) return;
        if (events.some((event) => event.type === 'snapshot')) {
          attempt = 0;
          handlers.onConnectionChange?.('open');
        }
        for (const event of events) if (event.type === 'log') lastSeq = event.entry.seq;
        deliverEvents(handlers, events);
        if (events.some(endsSubscription)) {
          stopped = true;
          handlers.onConnectionChange?.('closed');
        }
      };
      const open = () => {
        retryTimer = null;
        handlers.onConnectionChange?.(attempt === 0 ? 'connecting' : 'reconnecting');
        feed = openJobEventFeed(engine, {
          jobId,
          afterSeq: lastSeq,
          pollIntervalMs: options.pollIntervalMs,
          clock,
          onEvent: (event) => receive([event]),
          // The snapshot with its backlog, in one piece.
          onEvents: receive,
          onError: (error) => {
            if (stopped) return;
            // A store outage is not the end of the job: read again after a back-off.
            if (error.retryable) {
              handlers.onConnectionChange?.('reconnecting');
              retryTimer = clock.setTimeout(open, reconnectDelay(attempt++));
              return;
            }
            stopped = true;
            handlers.onConnectionChange?.('closed');
            handlers.onError?.(toTransportError(error));
          },
        });
      };
      open();
      return () => {
        stopped = true;
        feed?.close();
        if (retryTimer !== null) clock.clearTimeout(retryTimer);
      };
    },
  };
}
