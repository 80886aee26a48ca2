import type { TimerHandle } from '../clock';
import type { SyncEvent } from '../events/syncEvents';
import { terminalEventOf } from '../events/syncEvents';
import type { Job } from '../job/job';
import { isTerminalStatus } from '../job/job';
import type { ReconnectBackoffOptions } from './reconnectBackoff';
import { reconnectDelay } from './reconnectBackoff';
import type { RestClient } from './restClient';
import { deliverEvents, type JobSubscriptionHandlers } from './syncTransport';
import { toTransportError } from './transportError';

export interface JobPollerOptions {
  afterSeq: number;
  /** Time between two polls, in ms. */
  intervalMs: number;
  /** Back-off after failed polls (starting at `intervalMs`). */
  backoff?: ReconnectBackoffOptions;
  random?: () => number;
}

const LOGS_PAGE = 1000;

/**
 * Follows one job by polling: each round reads the job, then the log lines after the last seq up
 * to the job's `lastLogSeq`, and delivers the lines then the job (a snapshot when it changed, the
 * terminal event when it ended), all of a round as one batch (a backlog of many pages is one state
 * change). Stops for good after the terminal event or `stop()`.
 */
export function startJobPoller(
  rest: RestClient,
  jobId: string,
  handlers: JobSubscriptionHandlers,
  options: JobPollerOptions,
): () => void {
  const { clock } = rest;
  let stopped = false;
  let timer: TimerHandle | null = null;
  let inFlight: AbortController | null = null;
  let lastSeq = options.afterSeq;
  let lastJobJson = '';
  let failures = 0;

  /** The round's events, handed over together at its end (also when a later page of it fails). */
  let batch: SyncEvent[] = [];
  const deliver = (event: SyncEvent) => {
    batch.push(event);
  };
  const flush = () => {
    const events = batch;
    batch = [];
    if (!stopped) deliverEvents(handlers, events);
  };

  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (timer !== null) clock.clearTimeout(timer);
    timer = null;
    inFlight?.abort();
    inFlight = null;
  };

  const pollOnce = async (signal: AbortSignal): Promise<boolean> => {
    const job: Job = await rest.getJob(jobId, signal);
    const first = lastJobJson === '';
    const json = JSON.stringify(job);
    if (first && !isTerminalStatus(job.status)) deliver({ type: 'snapshot', jobId, job });
    while (!stopped && lastSeq < job.lastLogSeq) {
      const page = await rest.getLogs(jobId, { afterSeq: lastSeq, limit: LOGS_PAGE }, signal);
      if (stopped) return true;
      for (const entry of page.logs) {
        if (entry.seq <= lastSeq) continue;
        lastSeq = entry.seq;
        deliver({ type: 'log', jobId, entry });
      }
      if (page.logs.length === 0) break;
    }
    if (stopped) return true;
    const terminal = terminalEventOf(job);
    if (terminal) {
      deliver(terminal);
      return true;
    }
    if (!first && json !== lastJobJson) deliver({ type: 'snapshot', jobId, job });
    lastJobJson = json;
    return false;
  };

  const round = async () => {
    timer = null;
    if (stopped) return;
    const controller = new AbortController();
    inFlight = controller;
    let delay = options.intervalMs;
    try {
      let finished: boolean;
      try {
        finished = await pollOnce(controller.signal);
      } finally {
        // Lines already counted in `lastSeq` must reach the consumer even when a later page failed.
        flush();
      }
      if (finished) {
        stop();
        handlers.onConnectionChange?.('closed');
        return;
      }
      if (failures > 0) handlers.onConnectionChange?.('polling');
      failures = 0;
    } catch (cause) {
      if (stopped) return;
      const error = toTransportError(cause);
      if (!error.retryable) {
        stop();
        handlers.onConnectionChange?.('closed');
        handlers.onError?.(error);
        return;
      }
      handlers.onConnectionChange?.('reconnecting');
      delay = Math.max(
        error.retryAfterMs ?? 0,
        reconnectDelay(
          failures++,
          { initialDelayMs: options.intervalMs, ...options.backoff },
          options.random,
        ),
      );
    } finally {
      if (inFlight === controller) inFlight = null;
    }
    if (!stopped) timer = clock.setTimeout(() => void round(), delay);
  };

  handlers.onConnectionChange?.('polling');
  void round();
  return stop;
}
