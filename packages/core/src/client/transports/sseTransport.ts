import type { TimerHandle } from '../../clock';
import type { SyncEvent } from '../../events/syncEvents';
import { isTerminalStatus } from '../../job/job';
import { startJobPoller } from '../jobPoller';
import type { ReconnectBackoffOptions } from '../reconnectBackoff';
import { reconnectDelay } from '../reconnectBackoff';
import type { HttpTransportOptions } from '../restClient';
import { createRestClient, errorOf, restTransportCalls } from '../restClient';
import { createSseParser, SseLineTooLongError } from '../sseParser';
import { type ConnectionState, deliverEvents, endsSubscription, type SyncTransport } from '../syncTransport';
import { TransportError, toTransportError } from '../transportError';

export interface SseTransportOptions extends HttpTransportOptions {
  /** Back-off between reconnects: exponential with jitter (defaults: 1,000 ms doubling up to 30,000 ms). */
  reconnect?: ReconnectBackoffOptions;
  /**
   * A stream that stays silent this long (not even a keep-alive comment) is treated as dropped and
   * reconnected, in ms (default 45,000: three missed keep-alives of the default handler).
   */
  idleTimeoutMs?: number;
  /**
   * Consecutive connections that delivered nothing before giving up on streaming and polling
   * instead (a proxy that buffers or cuts event streams) (default 3).
   */
  fallbackAfterFailures?: number;
  /** Poll interval once fallen back to polling, in ms (default 2,000). */
  pollIntervalMs?: number;
  /** Random source of the jitter, for tests (default `Math.random`). */
  random?: () => number;
  /**
   * Longest SSE line accepted, in characters (default 1,048,576). A longer line drops the
   * connection and reconnects, like a broken stream, instead of buffering without bound.
   */
  maxLineLength?: number;
}

/**
 * Server-sent events over `fetch` (not `EventSource`, so headers such as `Authorization` work):
 * one stream per subscribed job, resumed with `Last-Event-ID` after a drop (back-off with jitter,
 * `getHeaders` called again on every reconnect), log lines de-duplicated by seq, and polling
 * when streaming is not available. The snapshot and the backlog after it (the lines up to the
 * snapshot's `lastLogSeq`) are handed over as one batch; later events as they arrive. Ends on the
 * job's terminal event only (or when the stream of an already finished job ends).
 */
export function sseTransport(options: SseTransportOptions): SyncTransport {
  const rest = createRestClient(options);
  const { clock } = rest;
  const random = options.random ?? Math.random;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const fallbackAfterFailures = options.fallbackAfterFailures ?? 3;
  const pollIntervalMs = options.pollIntervalMs ?? 2000;

  return {
    ...restTransportCalls(rest),
    subscribe(jobId, subscribeOptions, handlers) {
      let stopped = false;
      let lastSeq = Math.max(0, subscribeOptions.afterSeq ?? 0);
      let attempt = 0;
      let silentFailures = 0;
      let controller: AbortController | null = null;
      let retryTimer: TimerHandle | null = null;
      let idleTimer: TimerHandle | null = null;
      let stopPolling: (() => void) | null = null;
      let connection: ConnectionState = 'idle';

      const setConnection = (state: ConnectionState) => {
        if (state === connection) return;
        connection = state;
        handlers.onConnectionChange?.(state);
      };

      const stop = () => {
        if (stopped) return;
        stopped = true;
        controller?.abort();
        controller = null;
        if (retryTimer !== null) clock.clearTimeout(retryTimer);
        if (idleTimer !== null) clock.clearTimeout(idleTimer);
        stopPolling?.();
      };

      const fail = (error: TransportError) => {
        stop();
        setConnection('closed');
        handlers.onError?.(error);
      };

      const fallBackToPolling = () => {
        if (stopped) return;
        stopPolling = startJobPoller(
          rest,
          jobId,
          {
            onEvent: handlers.onEvent,
            onEvents: handlers.onEvents,
            onConnectionChange: setConnection,
            onError: (error) => fail(error),
          },
          { afterSeq: lastSeq, intervalMs: pollIntervalMs, backoff: options.reconnect, random },
        );
      };

      const connect = async () => {
        retryTimer = null;
        if (stopped) return;
        setConnection(attempt === 0 && silentFailures === 0 ? 'connecting' : 'reconnecting');
        const current = new AbortController();
        controller = current;
        let received = false;
        let retryAfterMs: number | undefined;
        let finished = false;
        /** A snapshot or status said the job had already ended: its lines, then the end of the stream, follow. */
        let jobEnded = false;
        /** Events accepted but not yet handed over; held while the backlog is still arriving. */
        let batch: SyncEvent[] = [];
        /** The backlog runs up to this seq (the snapshot's `lastLogSeq`); 0 once it is over. */
        let backlogUntil = 0;
        const flush = () => {
          if (batch.length === 0 || stopped) return;
          const events = batch;
          batch = [];
          deliverEvents(handlers, events);
        };
        const accept = (event: SyncEvent) => {
          if (event.jobId !== jobId) return;
          if (event.type === 'log') {
            if (event.entry.seq <= lastSeq) return;
            lastSeq = event.entry.seq;
          } else {
            backlogUntil = event.type === 'snapshot' ? event.job.lastLogSeq : 0;
            if ('job' in event && isTerminalStatus(event.job.status)) jobEnded = true;
          }
          batch.push(event);
          if (endsSubscription(event)) finished = true;
        };
        const armIdle = () => {
          if (idleTimer !== null) clock.clearTimeout(idleTimer);
          idleTimer = clock.setTimeout(() => current.abort(), idleTimeoutMs);
        };
        try {
          const headers: Record<string, string> = { accept: 'text/event-stream' };
          if (lastSeq > 0) headers['last-event-id'] = String(lastSeq);
          armIdle();
          const response = await rest.open(`/jobs/${encodeURIComponent(jobId)}/events`, {
            headers,
            signal: current.signal,
          });
          if (!response.ok) {
            const error = await errorOf(response, clock);
            if (!error.retryable) return fail(error);
            throw error;
          }
          const type = response.headers.get('content-type') ?? '';
          if (!response.body || !type.includes('text/event-stream')) {
            // Streaming is not available here (an old runtime, a proxy rewriting the answer).
            await response.body?.cancel().catch(() => undefined);
            if (idleTimer !== null) clock.clearTimeout(idleTimer);
            return fallBackToPolling();
          }
          setConnection('open');
          const parse = createSseParser(
            (message) => {
              if (finished || stopped || message.event === 'message') return;
              let event: SyncEvent;
              try {
                event = JSON.parse(message.data) as SyncEvent;
              } catch {
                return;
              }
              received = true;
              accept(event);
            },
            { maxLineLength: options.maxLineLength },
          );
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          while (!finished && !stopped) {
            const { done, value } = await reader.read();
            if (done) break;
            armIdle();
            parse(decoder.decode(value, { stream: true }));
            if (finished || lastSeq >= backlogUntil) flush();
          }
          flush();
          // The stream of a job that had already ended closes after its lines: nothing more will come.
          if (finished || (jobEnded && !stopped)) {
            stop();
            setConnection('closed');
            await reader.cancel().catch(() => undefined);
            return;
          }
          await reader.cancel().catch(() => undefined);
        } catch (cause) {
          if (stopped) return;
          // A parse error leaves the connection open: close it before reconnecting.
          current.abort();
          // What arrived before the drop is kept: the reconnect resumes after it.
          flush();
          const error =
            cause instanceof SseLineTooLongError
              ? new TransportError('NETWORK', `${cause.message} The stream is dropped and reopened.`, {
                  retryable: true,
                  cause,
                })
              : toTransportError(cause);
          if (error.status !== null && !error.retryable) return fail(error);
          retryAfterMs = error.retryAfterMs;
        } finally {
          if (idleTimer !== null) clock.clearTimeout(idleTimer);
          idleTimer = null;
          if (controller === current) controller = null;
        }
        if (stopped) return;
        // The stream ended without a terminal status: the job goes on, so reconnect.
        if (received) {
          attempt = 0;
          silentFailures = 0;
        } else if (++silentFailures >= fallbackAfterFailures) {
          return fallBackToPolling();
        }
        setConnection('reconnecting');
        const delay = Math.max(retryAfterMs ?? 0, reconnectDelay(attempt++, options.reconnect, random));
        retryTimer = clock.setTimeout(() => void connect(), delay);
      };

      void connect();
      return stop;
    },
  };
}
