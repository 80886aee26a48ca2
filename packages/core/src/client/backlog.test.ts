import { afterEach, describe, expect, it, vi } from 'vitest';
import { ScriptedEngine } from '../http/__tests__/scriptedEngine';
import { type ServedEngine, serveEngine, waitFor } from './__tests__/httpFixture';
import { createSyncClient } from './syncClient';
import type { SyncTransport } from './syncTransport';
import { engineTransport } from './transports/engineTransport';
import { pollingTransport } from './transports/pollingTransport';
import { sseTransport } from './transports/sseTransport';

const LINES = 10_000;

/** A running job holding "Sync queued." and 10,000 more lines. */
async function jobWithBacklog() {
  const engine = new ScriptedEngine();
  const { job } = await engine.start({ source: 'test', accountId: 'a' });
  const lease = await engine.claim();
  for (let from = 0; from < LINES; from += 1000) {
    await engine.log(lease, ...Array.from({ length: 1000 }, (_, i) => `line ${from + i + 1}`));
  }
  return { engine, job, lease };
}

/** Subscribes and records each new number of lines the notifications showed (0 while connecting). */
function watch(transport: SyncTransport, jobId: string) {
  const observer = createSyncClient({ transport }).observe(jobId);
  const seen: number[] = [];
  const leave = observer.subscribe((snapshot) => {
    if (seen.at(-1) !== snapshot.logs.length) seen.push(snapshot.logs.length);
  });
  return { observer, seen, leave };
}

describe('a 10,000-line backlog is one state change', () => {
  let served: ServedEngine | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await served?.close();
    served = undefined;
  });

  it('engineTransport', async () => {
    const { engine, job, lease } = await jobWithBacklog();
    const { observer, seen, leave } = watch(engineTransport(engine), job.id);
    await waitFor(() => observer.getSnapshot().logs.length === LINES);
    expect(seen).toEqual([0, LINES]);
    await engine.log(lease, 'live');
    await waitFor(() => observer.getSnapshot().lastSeq === LINES + 2);
    expect(observer.getSnapshot().logs.at(-1)?.message).toBe('live');
    leave();
  });

  it('sseTransport over a real server (snapshot and backlog, then live lines one by one)', async () => {
    const { engine, job, lease } = await jobWithBacklog();
    served = await serveEngine(engine);
    const { observer, seen, leave } = watch(sseTransport({ baseUrl: served.baseUrl }), job.id);
    await waitFor(() => observer.getSnapshot().logs.length === LINES);
    expect(seen).toEqual([0, LINES]);
    await engine.log(lease, 'live');
    await waitFor(() => observer.getSnapshot().lastSeq === LINES + 2);
    expect(observer.getSnapshot().logs.at(-1)?.message).toBe('live');
    leave();
  });

  it('pollingTransport (ten pages in one round)', async () => {
    vi.useFakeTimers();
    const { engine, job } = await jobWithBacklog();
    const fakeFetch: typeof fetch = async (input) => {
      const url = new URL(String(input));
      if (url.pathname.endsWith('/logs')) {
        const afterSeq = Number(url.searchParams.get('afterSeq'));
        const limit = Number(url.searchParams.get('limit'));
        const logs = await engine.getLogs(job.id, { afterSeq, limit });
        return Response.json({ logs, lastSeq: logs.at(-1)?.seq ?? afterSeq, hasMore: logs.length === limit });
      }
      return Response.json({ job: await engine.getJob(job.id) });
    };
    const { observer, seen, leave } = watch(
      pollingTransport({ baseUrl: 'http://x', intervalMs: 1000, fetch: fakeFetch }),
      job.id,
    );
    await vi.advanceTimersByTimeAsync(10);
    expect(observer.getSnapshot().logs).toHaveLength(LINES);
    expect(seen).toEqual([0, LINES]);
    leave();
  });
});
