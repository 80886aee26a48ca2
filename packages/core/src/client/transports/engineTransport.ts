import type { Clock } from '../../clock';
import type { SyncEngine } from '../../engine/engineTypes';
import { SyncError } from '../../errors';
import { openJobEventFeed } from '../../events/jobEventFeed';
import type { SyncTransport } from '../syncTransport';
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
      handlers.onConnectionChange?.('connecting');
      const feed = openJobEventFeed(engine, {
        jobId,
        afterSeq: subscribeOptions.afterSeq,
        pollIntervalMs: options.pollIntervalMs,
        clock: options.clock,
        onEvent: (event) => {
          if (event.type === 'snapshot') handlers.onConnectionChange?.('open');
          handlers.onEvent(event);
          if (feed?.closed) handlers.onConnectionChange?.('closed');
        },
        onError: (error) => {
          handlers.onConnectionChange?.('closed');
          handlers.onError?.(toTransportError(error));
        },
      });
      return () => feed.close();
    },
  };
}
