import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSyncEngine } from '../engine/syncEngine';
import { createMemoryStore } from '../store/memoryStore';
import type { GetLogsQuery } from '../store/syncStore';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import { createSyncHandler, type SyncHandlerOptions } from './syncHandler';

function setup(engine: ScriptedEngine, options: Partial<SyncHandlerOptions<string>> = {}) {
  return createSyncHandler(engine, {
    authenticate: (request) => request.headers.get('authorization') ?? 'alice',
    authorizeAccount: () => true,
    logger: { error: () => {}, warn: () => {} },
    ...options,
  });
}

const events = (id: string, user = 'alice', headers: Record<string, string> = {}) =>
  new Request(`http://x/jobs/${id}/events`, { headers: { authorization: user, ...headers } });

const text = async (body: ReadableStream<Uint8Array>) => new Response(body).text();

describe('SSE limits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('caps open streams per principal and in total (429 TOO_MANY_STREAMS + Retry-After), and frees a slot on close', async () => {
    const engine = new ScriptedEngine();
    const handler = setup(engine, { maxStreamsPerPrincipal: 3, maxStreams: 5 });
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const alice = await Promise.all([1, 2, 3, 4].map(() => handler(events(job.id))));
    expect(alice.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    const refused = alice[3]!;
    expect(refused.headers.get('retry-after')).toBe('10');
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_STREAMS');
    // Others still get theirs, up to the total.
    expect((await handler(events(job.id, 'bob'))).status).toBe(200);
    expect((await handler(events(job.id, 'carol'))).status).toBe(200);
    const full = await handler(events(job.id, 'dave'));
    expect(full.status).toBe(429);
    // A client that goes away gives its slot back.
    await alice[0]!.body!.cancel();
    expect((await handler(events(job.id, 'dave'))).status).toBe(200);
    const aborted = new AbortController();
    await alice[1]!.body!.cancel();
    const again = await handler(
      new Request(`http://x/jobs/${job.id}/events`, {
        headers: { authorization: 'alice' },
        signal: aborted.signal,
      }),
    );
    expect(again.status).toBe(200);
    expect((await handler(events(job.id))).status).toBe(429);
    aborted.abort();
    expect((await handler(events(job.id))).status).toBe(200);
  });

  it('keys principals with principalKey (default: JSON of an object)', async () => {
    const engine = new ScriptedEngine();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const byUser = createSyncHandler<{ userId: string; sessionId: string }>(engine, {
      authenticate: (request) => ({ userId: 'u1', sessionId: request.headers.get('x-session') ?? '' }),
      authorizeAccount: () => true,
      maxStreamsPerPrincipal: 1,
      principalKey: (principal) => principal.userId,
    });
    const open = (session: string) =>
      byUser(new Request(`http://x/jobs/${job.id}/events`, { headers: { 'x-session': session } }));
    expect((await open('s1')).status).toBe(200);
    expect((await open('s2')).status).toBe(429);
  });

  it('ends a stream at maxStreamMs with a retry hint, and the resumed stream misses nothing', async () => {
    vi.useFakeTimers();
    const engine = new ScriptedEngine();
    const handler = setup(engine, { maxStreamMs: 5_000 });
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    await engine.log(lease, 'one', 'two');
    const first = await handler(events(job.id));
    const firstText = text(first.body!);
    await vi.advanceTimersByTimeAsync(5_000);
    const ended = await firstText;
    expect(ended).toMatch(/: stream lifetime reached[^\n]*\nretry: \d+\n\n$/);
    expect(ended).not.toMatch(/event: (completed|failed)/);
    const lastId = Number([...ended.matchAll(/^id: (\d+)$/gm)].at(-1)?.[1]);
    expect(lastId).toBe((await engine.getJob(job.id))!.lastLogSeq);
    await engine.log(lease, 'three');
    await engine.finish(lease);
    const resumed = await text(
      (await handler(events(job.id, 'alice', { 'last-event-id': String(lastId) }))).body!,
    );
    const seqs = [...resumed.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]));
    const finalSeq = (await engine.getJob(job.id))!.lastLogSeq;
    expect(seqs).toEqual(Array.from({ length: finalSeq - lastId }, (_, i) => lastId + 1 + i));
    expect(resumed).toContain('event: completed');
  });

  it('reads a long backlog in pages, waiting for the client between pages', async () => {
    const engine = new ScriptedEngine();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    const line = 'x'.repeat(200);
    for (let i = 0; i < 30; i++) await engine.log(lease, ...Array.from({ length: 100 }, () => line));
    const reads: GetLogsQuery[] = [];
    const getLogs = engine.getLogs;
    engine.getLogs = (id, query) => {
      reads.push(query ?? {});
      return getLogs(id, query);
    };
    const handler = setup(engine);
    const response = await handler(events(job.id));
    const reader = response.body!.getReader();
    // The client reads nothing: the stream stops reading the store once ~64 KiB wait for it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reads.every((query) => query.limit === 500)).toBe(true);
    expect(reads.length).toBeLessThan(3);
    let received = '';
    const decoder = new TextDecoder();
    const lastSeq = (await engine.getJob(job.id))!.lastLogSeq;
    while (!received.includes(`"seq":${lastSeq},`)) {
      const { value, done } = await reader.read();
      if (done) break;
      received += decoder.decode(value, { stream: true });
    }
    expect(reads.length).toBe(Math.ceil(lastSeq / 500));
    expect([...received.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]))).toEqual(
      Array.from({ length: lastSeq }, (_, i) => i + 1),
    );
    await reader.cancel();
  });

  it('closes the stream of a client that does not read once it queued more than maxStreamBufferBytes', async () => {
    const engine = new ScriptedEngine();
    const handler = setup(engine, { maxStreamBufferBytes: 256 * 1024, maxStreamsPerPrincipal: 1 });
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    const response = await handler(events(job.id));
    const reader = response.body!.getReader();
    // Live lines pile up, unread.
    const line = 'y'.repeat(1000);
    for (let i = 0; i < 400; i++) await engine.log(lease, line);
    await expect(
      reader.read().then(async function drain(r): Promise<unknown> {
        return r.done ? r : reader.read().then(drain);
      }),
    ).rejects.toThrow(/read nothing/);
    // Its slot is free again.
    expect((await handler(events(job.id))).status).toBe(200);
  });
});

describe('the sse client resumes at the lifetime boundary', () => {
  it('keeps every line once and in order across server-side stream ends', async () => {
    const { createTestSource } = await import('../testing/testSource');
    const { serveEngine, waitFor } = await import('../client/__tests__/httpFixture');
    const { createSyncClient } = await import('../client/syncClient');
    const { sseTransport } = await import('../client/transports/sseTransport');
    const source = createTestSource({ messages: 300, batchSize: 10, pageSize: 50 });
    source.control.setDelay(15);
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [source],
      progress: { emitIntervalMs: 20 },
    });
    const served = await serveEngine(engine, { maxStreamMs: 150 });
    let streams = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input).endsWith('/events')) streams += 1;
      return fetch(input, init);
    };
    try {
      const client = createSyncClient({
        transport: sseTransport({
          baseUrl: served.baseUrl,
          fetch: counting,
          reconnect: { initialDelayMs: 5, maxDelayMs: 20 },
        }),
      });
      const { job } = await client.start({ source: 'test', accountId: 'a' });
      const observer = client.observe(job.id);
      const unsubscribe = observer.subscribe(() => {});
      await waitFor(() => observer.getSnapshot().isFinished, 20_000);
      unsubscribe();
      const stored = (await engine.getJob(job.id))!;
      expect(streams).toBeGreaterThan(2);
      expect(observer.getSnapshot().logs.map((entry) => entry.seq)).toEqual(
        Array.from({ length: stored.lastLogSeq }, (_, i) => i + 1),
      );
      expect(observer.getSnapshot().job!.status).toBe('completed');
    } finally {
      await engine.stop({ timeoutMs: 1000 });
      await served.close();
    }
  });
});
