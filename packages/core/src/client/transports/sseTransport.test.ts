import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSyncEngine } from '../../engine/syncEngine';
import { ScriptedEngine } from '../../http/__tests__/scriptedEngine';
import { createMemoryStore } from '../../store/memoryStore';
import { createTestSource } from '../../testing/testSource';
import {
  countingFetch,
  flakyStreamFetch,
  type ServedEngine,
  serveEngine,
  waitFor,
} from '../__tests__/httpFixture';
import { createSyncClient } from '../syncClient';
import { sseTransport } from './sseTransport';

const fast = { reconnect: { initialDelayMs: 5, maxDelayMs: 20 } };

describe('sseTransport over a real server', () => {
  let served: ServedEngine | undefined;
  const stops: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await served?.close();
    served = undefined;
  });

  it('survives a stream killed mid-job several times: every line once, in order, final counters equal', async () => {
    const source = createTestSource({ messages: 300, batchSize: 10, pageSize: 50 });
    source.control.setDelay(15);
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [source],
      progress: { emitIntervalMs: 20 },
    });
    stops.push(() => engine.stop({ timeoutMs: 1000 }));
    served = await serveEngine(engine);
    const flaky = flakyStreamFetch(4, 3);
    const getHeaders = vi.fn(() => ({ authorization: 'alice' }));
    const client = createSyncClient({
      transport: sseTransport({ baseUrl: served.baseUrl, fetch: flaky.fetch, getHeaders, ...fast }),
    });
    const { job } = await client.start({ source: 'test', accountId: 'a' });
    const observer = client.observe(job.id);
    const connections: string[] = [];
    const unsubscribe = observer.subscribe((snapshot) => connections.push(snapshot.connection));
    await waitFor(() => observer.getSnapshot().isFinished, 20_000);
    unsubscribe();

    const snapshot = observer.getSnapshot();
    const stored = (await engine.getJob(job.id))!;
    expect(flaky.killed).toBe(4);
    expect(connections).toContain('reconnecting');
    expect(snapshot.job!.status).toBe('completed');
    expect(snapshot.logs.map((entry) => entry.seq)).toEqual(
      Array.from({ length: stored.lastLogSeq }, (_, i) => i + 1),
    );
    expect(snapshot.logs.map((entry) => entry.message)).toEqual(
      (await engine.getLogs(job.id, { limit: 5000 })).map((entry) => entry.message),
    );
    expect(snapshot.job!.counters).toEqual(stored.counters);
    expect(snapshot.job!.counters.stored).toBe(300);
    // Headers are asked again on every (re)connect: 1 start + 5 stream connections at least.
    expect(getHeaders.mock.calls.length).toBeGreaterThanOrEqual(6);
  });

  it('makes no request after the terminal status, nor after the last subscriber leaves', async () => {
    const engine = new ScriptedEngine();
    served = await serveEngine(engine, { keepAliveMs: 20 });
    const counting = countingFetch();
    const client = createSyncClient({
      transport: sseTransport({ baseUrl: served.baseUrl, fetch: counting.fetch, ...fast }),
    });

    const first = await client.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    const observer = client.observe(first.job.id);
    const unsubscribe = observer.subscribe(() => {});
    await waitFor(() => observer.getSnapshot().connection === 'open');
    await engine.log(lease, 'working');
    await engine.finish(lease);
    await waitFor(() => observer.getSnapshot().isFinished);
    const afterFinish = counting.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(counting.requests.length).toBe(afterFinish);
    unsubscribe();

    const second = await client.start({ source: 'test', accountId: 'b' });
    const other = client.observe(second.job.id);
    const leave = other.subscribe(() => {});
    await waitFor(() => other.getSnapshot().connection === 'open');
    leave();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const afterLeave = counting.requests.length;
    const openStreams = await new Promise<number>((resolve) =>
      served!.server.getConnections((_, n) => resolve(n)),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(counting.requests.length).toBe(afterLeave);
    expect(other.getSnapshot().isFinished).toBe(false);
    expect(openStreams).toBeLessThanOrEqual(1);
  });

  it('falls back to polling when the answer is not a stream', async () => {
    const engine = new ScriptedEngine();
    served = await serveEngine(engine);
    const noStreams: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/events'))
        return new Response('buffered', { headers: { 'content-type': 'text/plain' } });
      return fetch(input, init);
    };
    const client = createSyncClient({
      transport: sseTransport({ baseUrl: served.baseUrl, fetch: noStreams, pollIntervalMs: 10, ...fast }),
    });
    const { job } = await client.start({ source: 'test', accountId: 'a' });
    const observer = client.observe(job.id);
    const unsubscribe = observer.subscribe(() => {});
    await waitFor(() => observer.getSnapshot().connection === 'polling');
    const lease = await engine.claim();
    await engine.log(lease, 'one', 'two');
    await engine.finish(lease);
    await waitFor(() => observer.getSnapshot().isFinished);
    expect(observer.getSnapshot().logs.map((entry) => entry.seq)).toEqual([1, 2, 3, 4]);
    unsubscribe();
  });

  it('ends the subscription with the error for a job that is not there (404), without retrying', async () => {
    const engine = new ScriptedEngine();
    served = await serveEngine(engine);
    const counting = countingFetch();
    const client = createSyncClient({
      transport: sseTransport({ baseUrl: served.baseUrl, fetch: counting.fetch, ...fast }),
    });
    const observer = client.observe(crypto.randomUUID());
    const unsubscribe = observer.subscribe(() => {});
    await waitFor(() => observer.getSnapshot().error !== null);
    expect(observer.getSnapshot().error?.code).toBe('NOT_FOUND');
    expect(observer.getSnapshot().connection).toBe('closed');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counting.requests).toHaveLength(1);
    unsubscribe();
  });
});
