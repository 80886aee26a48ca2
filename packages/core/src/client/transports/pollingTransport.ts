import { startJobPoller } from '../jobPoller';
import type { ReconnectBackoffOptions } from '../reconnectBackoff';
import type { HttpTransportOptions } from '../restClient';
import { createRestClient, restTransportCalls } from '../restClient';
import type { SyncTransport } from '../syncTransport';

export interface PollingTransportOptions extends HttpTransportOptions {
  /** Time between two polls of a subscribed job, in ms (default 2,000). */
  intervalMs?: number;
  /** Back-off after failed polls (defaults: starting at `intervalMs`, up to 30,000 ms). */
  backoff?: ReconnectBackoffOptions;
  /** Random source of the jitter, for tests (default `Math.random`). */
  random?: () => number;
}

/**
 * Plain polling: each round reads the job and the log lines after the last seq. For hosts where
 * long-lived streams are not possible (some serverless platforms, strict proxies).
 */
export function pollingTransport(options: PollingTransportOptions): SyncTransport {
  const rest = createRestClient(options);
  return {
    ...restTransportCalls(rest),
    subscribe: (jobId, subscribeOptions, handlers) =>
      startJobPoller(rest, jobId, handlers, {
        afterSeq: Math.max(0, subscribeOptions.afterSeq ?? 0),
        intervalMs: options.intervalMs ?? 2000,
        backoff: options.backoff,
        random: options.random,
      }),
  };
}
