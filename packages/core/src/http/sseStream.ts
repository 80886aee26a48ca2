import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import type { JobEventFeedEngine } from '../events/jobEventFeed';
import { openJobEventFeed } from '../events/jobEventFeed';
import type { SyncEvent } from '../events/syncEvents';
import { TERMINAL_STATUSES } from '../job/job';

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
  /**
   * Longest life of the stream, in ms (default 15 minutes; 0 = no limit). It then ends cleanly with a
   * `retry:` hint; the client reconnects with `Last-Event-ID` and misses nothing, and the new request
   * is authenticated and authorized again.
   */
  maxStreamMs?: number;
  /**
   * Bytes the stream may hold for a client that does not read (default 1 MiB). Beyond it the stream
   * is failed and its queue dropped, so a client that never reads cannot grow the server's memory;
   * a live client reconnects and resumes.
   */
  maxBufferedBytes?: number;
  /** Log lines of the backlog read and sent at once, waiting for the client between pages (default 500). */
  backlogPageSize?: number;
  /** Called once when the stream ends, whatever the reason (to release its slot). */
  onClose?: () => void;
}

/** Bytes queued before the backlog waits for the client to read (backpressure). */
const SSE_HIGH_WATER_BYTES = 64 * 1024;
/** Defaults of `SseStreamOptions`. */
export const SSE_DEFAULTS = {
  maxStreamMs: 15 * 60_000,
  maxBufferedBytes: 1024 * 1024,
  backlogPageSize: 500,
} as const;

/** The events named after a terminal status end the stream. */
const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

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
  const retryMs = options.retryMs ?? 1000;
  const maxStreamMs = options.maxStreamMs ?? SSE_DEFAULTS.maxStreamMs;
  const maxBufferedBytes = options.maxBufferedBytes ?? SSE_DEFAULTS.maxBufferedBytes;
  const encoder = new TextEncoder();
  let cleanup = () => {};
  /** Resolvers of `waitForConsumer`, released when the client reads (pull) or the stream ends. */
  let waiters: Array<() => void> = [];
  const releaseWaiters = () => {
    const pending = waiters;
    waiters = [];
    for (const resolve of pending) resolve();
  };

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let done = false;
        let keepAliveTimer: TimerHandle | null = null;
        let lifetimeTimer: TimerHandle | null = null;
        let lastSeq = Math.max(0, options.afterSeq ?? 0);

        const write = (text: string) => {
          if (done) return;
          controller.enqueue(encoder.encode(text));
          const queued = SSE_HIGH_WATER_BYTES - (controller.desiredSize ?? 0);
          if (queued > maxBufferedBytes) {
            // A client that does not read: drop what is queued and fail the stream (the adapter
            // closes the connection); a live client reconnects with Last-Event-ID.
            cleanup();
            controller.error(new Error(`The SSE client read nothing while ${queued} bytes queued up.`));
          }
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
        const waitForConsumer = (): Promise<void> =>
          done || (controller.desiredSize ?? 0) > 0
            ? Promise.resolve()
            : new Promise<void>((resolve) => waiters.push(resolve));
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

        write(`retry: ${retryMs}\n\n`);
        const feed = openJobEventFeed(engine, {
          jobId: options.jobId,
          afterSeq: lastSeq,
          pollIntervalMs: options.pollIntervalMs,
          clock,
          onEvent: (event) => send([event]),
          // A backlog page goes out as one chunk: thousands of tiny writes would cost more than the lines.
          onEvents: send,
          pageSize: options.backlogPageSize ?? SSE_DEFAULTS.backlogPageSize,
          waitForConsumer,
          onError: (error) => {
            write(`: error ${error.code}\n\n`);
            end();
          },
        });
        const onAbort = () => end();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        let closed = false;
        cleanup = () => {
          done = true;
          feed.close();
          if (keepAliveTimer !== null) clock.clearTimeout(keepAliveTimer);
          if (lifetimeTimer !== null) clock.clearTimeout(lifetimeTimer);
          options.signal?.removeEventListener('abort', onAbort);
          releaseWaiters();
          if (!closed) {
            closed = true;
            options.onClose?.();
          }
        };
        if (options.signal?.aborted) end();
        else {
          scheduleKeepAlive();
          if (maxStreamMs > 0) {
            lifetimeTimer = clock.setTimeout(() => {
              // Not an error: the client reconnects after `retry` ms and resumes after the last id.
              write(`: stream lifetime reached; reconnect with Last-Event-ID\nretry: ${retryMs}\n\n`);
              end();
            }, maxStreamMs);
          }
        }
      },
      pull() {
        releaseWaiters();
      },
      cancel() {
        cleanup();
      },
    },
    // Counted in bytes, so `desiredSize` says how much the client has left unread.
    { highWaterMark: SSE_HIGH_WATER_BYTES, size: (chunk) => chunk.byteLength },
  );
}
