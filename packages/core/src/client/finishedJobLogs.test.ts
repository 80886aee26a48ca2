import { afterEach, describe, expect, it, vi } from 'vitest';
import { ScriptedEngine } from '../http/__tests__/scriptedEngine';
import { countingFetch, type ServedEngine, serveEngine, waitFor } from './__tests__/httpFixture';
import { createSyncClient } from './syncClient';
import type { SyncTransport } from './syncTransport';
import { engineTransport } from './transports/engineTransport';
import { pollingTransport } from './transports/pollingTransport';
import { sseTransport } from './transports/sseTransport';

const account = { source: 'test', accountId: 'a' };
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** An engine whose latest job for `account` ended with three lines: "Sync queued.", "working", "Sync failed.". */
async function finishedJob() {
  const engine = new ScriptedEngine();
  await engine.start(account);
  const lease = await engine.claim();
  await engine.log(lease, 'working');
  const job = await engine.finish(lease, 'failed');
  return { engine, job };
}

function countSubscribes(inner: SyncTransport) {
  let subscribes = 0;
  const transport: SyncTransport = {
    ...inner,
    subscribe: (jobId, options, handlers) => {
      subscribes++;
      return inner.subscribe(jobId, options, handlers);
    },
  };
  return {
    transport,
    get subscribes() {
      return subscribes;
    },
  };
}

describe('the latest job, already finished (after a page refresh)', () => {
  let served: ServedEngine | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await served?.close();
    served = undefined;
  });

  it('engineTransport: its logs load once, and leaving and coming back subscribes no more', async () => {
    const { engine, job } = await finishedJob();
    const counted = countSubscribes(engineTransport(engine));
    const watcher = createSyncClient({ transport: counted.transport }).watchAccount(account);
    let leave = watcher.subscribe(() => {});
    await waitFor(() => watcher.getSnapshot().logs.length === 3);
    expect(watcher.getSnapshot()).toMatchObject({
      job: { id: job.id, status: 'failed' },
      connection: 'closed',
    });
    expect(watcher.getSnapshot().logs.map((entry) => entry.message)).toEqual([
      'Sync queued.',
      'working',
      'Sync failed.',
    ]);
    leave();
    await tick();
    leave = watcher.subscribe(() => {});
    for (let i = 0; i < 5; i++) await tick();
    expect(counted.subscribes).toBe(1);
    expect(engine.listenerCount('log')).toBe(0);
    leave();
  });

  it('sseTransport: one events request loads the logs, then no request at all', async () => {
    const { engine, job } = await finishedJob();
    served = await serveEngine(engine, { keepAliveMs: 20 });
    const counting = countingFetch();
    const client = createSyncClient({
      transport: sseTransport({
        baseUrl: served.baseUrl,
        fetch: counting.fetch,
        reconnect: { initialDelayMs: 5 },
      }),
    });
    const watcher = client.watchAccount(account);
    let leave = watcher.subscribe(() => {});
    await waitFor(() => watcher.getSnapshot().logs.length === 3);
    expect(watcher.getSnapshot().job?.status).toBe('failed');
    await waitFor(() => watcher.getSnapshot().connection === 'closed');
    leave();
    // Coming back (a component remounting) asks for the active job again, but not for the logs.
    leave = watcher.subscribe(() => {});
    await new Promise((resolve) => setTimeout(resolve, 150));
    const paths = counting.requests.map((request) => request.replace(served!.baseUrl, '').split('?')[0]);
    expect(paths).toEqual([
      'GET /jobs/active',
      'GET /jobs',
      `GET /jobs/${job.id}/events`,
      'GET /jobs/active',
      'GET /jobs',
    ]);
    leave();
  });

  it('pollingTransport: one job read and one logs page, then no request at all', async () => {
    vi.useFakeTimers();
    const { engine, job } = await finishedJob();
    const requests: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      const url = new URL(String(input));
      requests.push(url.pathname.replace(job.id, ':id'));
      if (url.pathname.endsWith('/active')) return Response.json({ job: null });
      if (url.pathname.endsWith('/jobs')) return Response.json({ jobs: [await engine.getJob(job.id)] });
      if (url.pathname.endsWith('/logs')) {
        const logs = await engine.getLogs(job.id, { afterSeq: Number(url.searchParams.get('afterSeq')) });
        return Response.json({ logs, lastSeq: logs.at(-1)?.seq ?? 0, hasMore: false });
      }
      return Response.json({ job: await engine.getJob(job.id) });
    };
    const client = createSyncClient({
      transport: pollingTransport({ baseUrl: 'http://x', intervalMs: 500, fetch: fakeFetch }),
    });
    const watcher = client.watchAccount(account);
    const leave = watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(watcher.getSnapshot().logs.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    expect(watcher.getSnapshot().connection).toBe('closed');
    expect(requests).toEqual(['/jobs/active', '/jobs', '/jobs/:id', '/jobs/:id/logs']);
    expect(vi.getTimerCount()).toBe(0);
    leave();
  });
});
