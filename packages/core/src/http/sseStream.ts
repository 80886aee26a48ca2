import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import type { JobEventFeedEngine } from '../events/jobEventFeed';
import { openJobEventFeed } from '../events/jobEventFeed';
import type { SyncEvent } from '../events/syncEvents';

export interface SseStreamOptions {
  jobId: string;
  /** Log lines up to this seq are not sent (from `Last-Event-ID` or `?afterSeq=`; default 0). */
  afterSeq?: number;
  /** Interval of the `: keep-alive` comments that keep proxies from closing an idle stream, in ms (default 15,000). */
  keepAliveMs?: number;
  /** Store polling interval when the store has no cross-process notices, in ms (default 1,000). */
  pollIntervalMs?: number;
  /** Reconnection delay advertised to `EventSource` clients (`retry:`), in ms (default 1,000). */
  retryMs?: number;
  /** Injected time for keep-alive and polling (default: the system clock). */
  clock?: Clock;
  /** Aborting it ends the stream (the client went away). */
  signal?: AbortSignal;
}

const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  'completed',
  'failed',
  'cancelled',
  'interrupted',
]);

export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-store, no-transform',
  // nginx buffers proxied answers unless told not to.
  'x-accel-buffering': 'no',
};

/**
 * One SSE frame. `id:` is the seq of the newest log line sent on this stream, so a reconnecting
 * client resumes after it with `Last-Event-ID` whatever the last frame was.
 */
export function formatSseFrame(event: SyncEvent, lastSeq: number): string {
  return `id: ${lastSeq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The `text/event-stream` body of one job: a snapshot, the log lines after `afterSeq`, live events,
 * and the end of the stream after the terminal event. Keep-alive comments flow while it is idle.
 * The stream closes without a terminal event when the store fails mid-way; the client reconnects.
 */
export function createSseStream(
  engine: JobEventFeedEngine,
  options: SseStreamOptions,
): ReadableStream<Uint8Array> {
  const clock = options.clock ?? systemClock;
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const encoder = new TextEncoder();
  let cleanup = () => {};

  return new ReadableStream<Uint8Array>({
    start(controller) {
      let done = false;
      let keepAliveTimer: TimerHandle | null = null;
      let lastSeq = Math.max(0, options.afterSeq ?? 0);

      const write = (text: string) => {
        if (!done) controller.enqueue(encoder.encode(text));
      };
      const end = () => {
        if (done) return;
        cleanup();
        try {
          controller.close();
        } catch {
          // Already cancelled by the reader.
        }
      };
      const scheduleKeepAlive = () => {
        if (keepAliveTimer !== null) clock.clearTimeout(keepAliveTimer);
        keepAliveTimer = clock.setTimeout(() => {
          write(': keep-alive\n\n');
          scheduleKeepAlive();
        }, keepAliveMs);
      };

      const send = (events: readonly SyncEvent[]) => {
        let text = '';
        let ends = false;
        for (const event of events) {
          if (event.type === 'log') lastSeq = event.entry.seq;
          text += formatSseFrame(event, lastSeq);
          if (TERMINAL_EVENT_TYPES.has(event.type)) ends = true;
        }
        write(text);
        if (ends) queueMicrotask(end);
      };

      write(`retry: ${options.retryMs ?? 1000}\n\n`);
      const feed = openJobEventFeed(engine, {
        jobId: options.jobId,
        afterSeq: lastSeq,
        pollIntervalMs: options.pollIntervalMs,
        clock,
        onEvent: (event) => send([event]),
        // A backlog goes out as one chunk: thousands of tiny writes would cost more than the lines.
        onEvents: send,
        onError: (error) => {
          write(`: error ${error.code}\n\n`);
          end();
        },
      });
      const onAbort = () => end();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      cleanup = () => {
        done = true;
        feed.close();
        if (keepAliveTimer !== null) clock.clearTimeout(keepAliveTimer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      if (options.signal?.aborted) end();
      else scheduleKeepAlive();
    },
    cancel() {
      cleanup();
    },
  });
}
