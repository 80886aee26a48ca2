import { afterEach, describe, expect, it, vi } from 'vitest';
import { sseTransport } from './sseTransport';

const job = (status: string) => ({ id: 'j', status, updatedAt: '2026-01-01T00:00:00.000Z', lastLogSeq: 0 });

function streamOf(frames: string[], end = true): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const frame of frames) controller.enqueue(new TextEncoder().encode(frame));
      if (end) controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

describe('sseTransport reconnects', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('backs off with jitter, honours Retry-After, resumes with Last-Event-ID and refreshed headers', async () => {
    vi.useFakeTimers();
    const calls: Array<{ at: number; headers: Record<string, string> }> = [];
    let token = 0;
    const answers = [
      () =>
        streamOf([
          `event: snapshot\ndata: ${JSON.stringify({ type: 'snapshot', jobId: 'j', job: job('running') })}\n\n`,
          `id: 1\nevent: log\ndata: ${JSON.stringify({ type: 'log', jobId: 'j', entry: { seq: 1, message: 'a' } })}\n\n`,
        ]),
      () => new Response('{}', { status: 503, headers: { 'retry-after': '7' } }),
      () => streamOf([]),
      () =>
        streamOf([
          `id: 1\nevent: log\ndata: ${JSON.stringify({ type: 'log', jobId: 'j', entry: { seq: 1, message: 'a' } })}\n\n`,
          `id: 2\nevent: log\ndata: ${JSON.stringify({ type: 'log', jobId: 'j', entry: { seq: 2, message: 'b' } })}\n\n`,
          `event: completed\ndata: ${JSON.stringify({ type: 'completed', jobId: 'j', job: job('completed') })}\n\n`,
        ]),
    ];
    const fakeFetch: typeof fetch = async (_input, init) => {
      calls.push({ at: Date.now(), headers: init?.headers as Record<string, string> });
      return answers[calls.length - 1]!();
    };
    const transport = sseTransport({
      baseUrl: 'http://x',
      fetch: fakeFetch,
      getHeaders: () => ({ authorization: `token-${++token}` }),
      random: () => 1,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 30_000 },
    });
    const events: string[] = [];
    const states: string[] = [];
    transport.subscribe(
      'j',
      {},
      {
        onEvent: (event) => events.push(event.type === 'log' ? `log ${event.entry.seq}` : event.type),
        onConnectionChange: (state) => states.push(state),
      },
    );
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls.map((call) => call.at - start)).toEqual([0, 1000, 8000, 12_000]);
    expect(calls.map((call) => call.headers['last-event-id'])).toEqual([undefined, '1', '1', '1']);
    expect(calls.map((call) => call.headers.authorization)).toEqual([
      'token-1',
      'token-2',
      'token-3',
      'token-4',
    ]);
    expect(events).toEqual(['snapshot', 'log 1', 'log 2', 'completed']);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'reconnecting', 'open', 'closed']);
    expect(vi.getTimerCount()).toBe(0);
  });
  it('drops a stream whose line exceeds maxLineLength and reconnects, instead of buffering it', async () => {
    vi.useFakeTimers();
    let calls = 0;
    let firstAborted = false;
    const fakeFetch: typeof fetch = async (_input, init) => {
      calls++;
      if (calls === 1) {
        init?.signal?.addEventListener('abort', () => {
          firstAborted = true;
        });
        // A line that never ends: 64 KB without a line break, and the connection stays open.
        return streamOf(
          [`event: snapshot\ndata: ${'x'.repeat(1024)}`, ...Array(63).fill('x'.repeat(1024))],
          false,
        );
      }
      return streamOf([
        `event: snapshot\ndata: ${JSON.stringify({ type: 'snapshot', jobId: 'j', job: job('running') })}\n\n`,
        `event: completed\ndata: ${JSON.stringify({ type: 'completed', jobId: 'j', job: job('completed') })}\n\n`,
      ]);
    };
    const transport = sseTransport({
      baseUrl: 'http://x',
      fetch: fakeFetch,
      random: () => 1,
      reconnect: { initialDelayMs: 1000 },
      maxLineLength: 16 * 1024,
    });
    const events: string[] = [];
    const states: string[] = [];
    const errors: unknown[] = [];
    transport.subscribe(
      'j',
      {},
      {
        onEvent: (event) => events.push(event.type),
        onConnectionChange: (state) => states.push(state),
        onError: (error) => errors.push(error),
      },
    );
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(2);
    expect(firstAborted).toBe(true);
    expect(errors).toEqual([]);
    expect(events).toEqual(['snapshot', 'completed']);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
  });
});
