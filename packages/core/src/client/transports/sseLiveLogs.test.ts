import { afterEach, expect, it } from 'vitest';
import { createSyncEngine } from '../../engine/syncEngine';
import type { SyncEvent } from '../../events/syncEvents';
import { createMemoryStore } from '../../store/memoryStore';
import { createTestSource } from '../../testing/testSource';
import { type ServedEngine, serveEngine, waitFor } from '../__tests__/httpFixture';
import { createSyncClient } from '../syncClient';
import type { SyncTransport } from '../syncTransport';
import { sseTransport } from './sseTransport';

/** Records every event a transport hands over, in order. */
function recording(inner: SyncTransport) {
  const received: SyncEvent[] = [];
  const transport: SyncTransport = {
    ...inner,
    subscribe: (jobId, options, handlers) =>
      inner.subscribe(jobId, options, {
        ...handlers,
        onEvent: (event) => {
          received.push(event);
          handlers.onEvent(event);
        },
        onEvents: (events) => {
          received.push(...events);
          (handlers.onEvents ?? ((all) => all.forEach(handlers.onEvent)))(events);
        },
      }),
  };
  return { transport, received };
}

let served: ServedEngine | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

// The setup of the React kit's Chromium test, where a job at 90/400 was reported with no lines.
it('log lines arrive live over SSE (real handler, engine, memory store): before later progress, once, in order', async () => {
  const source = createTestSource({ id: 'test', messages: 400, pageSize: 20, batchSize: 10 });
  source.control.setDelay(2);
  const engine = createSyncEngine({
    store: createMemoryStore(),
    sources: [source],
    pollIntervalMs: 50,
    progress: { emitIntervalMs: 20, writeIntervalMs: 20 },
    retry: { retries: 0 },
  });
  try {
    served = await serveEngine(engine, { pollIntervalMs: 50 });
    const { transport, received } = recording(sseTransport({ baseUrl: served.baseUrl }));
    const client = createSyncClient({ transport });
    // 20 listing pages and 9 batches, then the 30th call hangs: the job sits at 90 / 400.
    source.control.hang({ call: 30 });
    const { job } = await client.start({ source: 'test', accountId: 'a' });
    const observer = client.observe(job.id);
    const leave = observer.subscribe(() => {});
    await source.control.whenHanging();
    const atHang = (await engine.getJob(job.id))!;
    expect(atHang.counters.stored).toBe(90);
    // While it hangs only ETA ticks happen; every line written so far must already be here.
    await waitFor(() => observer.getSnapshot().lastSeq === atHang.lastLogSeq, 2_000);
    expect(observer.getSnapshot().logs.map((entry) => entry.seq)).toEqual(
      Array.from({ length: atHang.lastLogSeq }, (_, i) => i + 1),
    );

    source.control.release();
    await waitFor(() => observer.getSnapshot().isFinished, 20_000);
    leave();
    const stored = await engine.getLogs(job.id, { limit: 5000 });
    const lines = received.flatMap((event) => (event.type === 'log' ? [event.entry] : []));
    expect(lines.map((entry) => entry.seq)).toEqual(stored.map((entry) => entry.seq));
    expect(observer.getSnapshot().logs.map((entry) => entry.message)).toEqual(
      stored.map((entry) => entry.message),
    );
    // Live, not caught up later: a progress frame written after a line never arrives before it.
    let seen = 0;
    for (const event of received) {
      if (event.type === 'log') seen = event.entry.seq;
      if (event.type !== 'progress') continue;
      const writtenBefore = stored.filter((entry) => entry.at < event.progress.updatedAt).at(-1)?.seq ?? 0;
      expect(seen, `lines before progress at ${event.progress.updatedAt}`).toBeGreaterThanOrEqual(
        writtenBefore,
      );
    }
  } finally {
    source.control.release();
    await engine.stop({ timeoutMs: 1000 });
  }
});
