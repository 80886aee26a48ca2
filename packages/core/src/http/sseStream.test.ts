import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSseParser, type SseMessage } from '../client/sseParser';
import { createMemoryStore } from '../store/memoryStore';
import { ScriptedEngine, withoutNotices } from './__tests__/scriptedEngine';
import { createSyncHandler, type SyncHandlerOptions } from './syncHandler';

function setup(engine = new ScriptedEngine(), options: Partial<SyncHandlerOptions<string>> = {}) {
  const handler = createSyncHandler(engine, {
    authenticate: (request) => request.headers.get('authorization') ?? 'alice',
    authorizeAccount: () => true,
    ...options,
  });
  return { engine, handler };
}

/** Reads an SSE body into parsed frames (and comments) as they arrive. */
function readStream(body: ReadableStream<Uint8Array>) {
  const frames: SseMessage[] = [];
  const raw: string[] = [];
  const parse = createSseParser((message) => frames.push(message));
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let ended = false;
  const done = (async () => {
    for (;;) {
      const { done: finished, value } = await reader.read();
      if (finished) break;
      const text = decoder.decode(value, { stream: true });
      raw.push(text);
      parse(text);
    }
    ended = true;
  })();
  return {
    frames,
    raw,
    done,
    get ended() {
      return ended;
    },
    cancel: () => reader.cancel(),
    types: () => frames.map((frame) => frame.event),
    logSeqs: () => frames.filter((f) => f.event === 'log').map((f) => JSON.parse(f.data).entry.seq as number),
  };
}

const until = async (predicate: () => boolean, timeoutMs = 2000) => {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error('Timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

describe('SSE events stream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a snapshot, the backlog, live events with id = last seq, and ends after the terminal event', async () => {
    const { engine, handler } = setup();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    await engine.log(lease, 'one', 'two');
    const response = await handler(new Request(`http://x/jobs/${job.id}/events`));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toMatch(/no-cache/);
    const stream = readStream(response.body!);
    await until(() => stream.frames.length >= 4);
    expect(stream.types()).toEqual(['snapshot', 'log', 'log', 'log']);
    expect(JSON.parse(stream.frames[0]!.data).job.status).toBe('running');

    await engine.progress(lease, { total: 10, fetched: 5, stored: 5 });
    await engine.log(lease, 'three');
    await engine.finish(lease);
    await stream.done;
    expect(stream.types().slice(4)).toEqual(['progress', 'log', 'log', 'completed']);
    expect(stream.logSeqs()).toEqual([1, 2, 3, 4, 5]);
    expect(stream.frames.map((frame) => frame.id)).toEqual(['0', '1', '2', '3', '3', '4', '5', '5']);
    expect(stream.raw[0]).toBe('retry: 1000\n\n');
    expect(engine.listenerCount('log')).toBe(0);
  });

  it('resumes after Last-Event-ID (and ?afterSeq=) without repeating lines', async () => {
    const { engine, handler } = setup();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    await engine.log(lease, 'a', 'b', 'c');
    const resumed = readStream(
      (await handler(new Request(`http://x/jobs/${job.id}/events`, { headers: { 'last-event-id': '2' } })))
        .body!,
    );
    const byQuery = readStream(
      (await handler(new Request(`http://x/jobs/${job.id}/events?afterSeq=3`))).body!,
    );
    await until(() => resumed.frames.length >= 3 && byQuery.frames.length >= 2);
    expect(resumed.logSeqs()).toEqual([3, 4]);
    expect(byQuery.logSeqs()).toEqual([4]);
    await resumed.cancel();
    await byQuery.cancel();
    const bad = await handler(
      new Request(`http://x/jobs/${job.id}/events`, { headers: { 'last-event-id': 'x' } }),
    );
    expect(bad.status).toBe(400);
  });

  it('for a finished job: snapshot, logs, terminal event, end', async () => {
    const { engine, handler } = setup();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    await engine.finish(await engine.claim(), 'failed');
    const stream = readStream((await handler(new Request(`http://x/jobs/${job.id}/events`))).body!);
    await stream.done;
    expect(stream.types()).toEqual(['snapshot', 'log', 'log', 'failed']);
  });

  it('sends keep-alive comments while idle, on the injected timer', async () => {
    vi.useFakeTimers();
    const { engine, handler } = setup(undefined, { keepAliveMs: 15_000 });
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const stream = readStream((await handler(new Request(`http://x/jobs/${job.id}/events`))).body!);
    await vi.advanceTimersByTimeAsync(10);
    expect(stream.raw.join('')).not.toContain(': keep-alive');
    await vi.advanceTimersByTimeAsync(15_000);
    expect(stream.raw.join('').match(/: keep-alive\n\n/g)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(stream.raw.join('').match(/: keep-alive\n\n/g)).toHaveLength(3);
    // The keep-alive and the stream's lifetime.
    expect(vi.getTimerCount()).toBe(2);
    await stream.cancel();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('polls a store without cross-process notices: changes written by another process arrive', async () => {
    vi.useFakeTimers();
    const worker = new ScriptedEngine({ store: createMemoryStore() });
    worker.emitEvents = false;
    const web = new ScriptedEngine({ store: withoutNotices(worker.store) });
    const { handler } = setup(web, { pollIntervalMs: 1000 });
    const { job } = await worker.start({ source: 'test', accountId: 'a' });
    const stream = readStream((await handler(new Request(`http://x/jobs/${job.id}/events`))).body!);
    await vi.advanceTimersByTimeAsync(5);
    expect(stream.types()).toEqual(['snapshot', 'log']);
    const lease = await worker.claim();
    await worker.log(lease, 'x');
    await vi.advanceTimersByTimeAsync(900);
    expect(stream.types()).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(100);
    expect(stream.types()).toEqual(['snapshot', 'log', 'log', 'status']);
    await worker.finish(lease);
    await vi.advanceTimersByTimeAsync(1000);
    await stream.done;
    expect(stream.types().slice(4)).toEqual(['log', 'completed']);
    expect(stream.logSeqs()).toEqual([1, 2, 3]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops listening when the client disconnects (request aborted)', async () => {
    const { engine, handler } = setup();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const abort = new AbortController();
    const response = await handler(new Request(`http://x/jobs/${job.id}/events`, { signal: abort.signal }));
    const stream = readStream(response.body!);
    await until(() => stream.frames.length >= 1);
    expect(engine.listenerCount('log')).toBe(1);
    abort.abort();
    await stream.done;
    expect(engine.listenerCount('log')).toBe(0);
  });

  it('never sends a line twice or out of order under interleaved local events and store notices', async () => {
    const { engine, handler } = setup();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    const stream = readStream((await handler(new Request(`http://x/jobs/${job.id}/events`))).body!);
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      writes.push(engine.log(lease, `line ${i}`));
      if (i % 7 === 0) writes.push(engine.progress(lease, { fetched: i, stored: i, total: 200 }));
    }
    await Promise.all(writes);
    await engine.finish(lease);
    await stream.done;
    const seqs = stream.logSeqs();
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.at(-1)).toBe((await engine.getJob(job.id))!.lastLogSeq);
    expect(stream.types().at(-1)).toBe('completed');
  });
});
