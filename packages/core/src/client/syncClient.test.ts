import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncEvent } from '../events/syncEvents';
import { ScriptedEngine } from '../http/__tests__/scriptedEngine';
import type { Job } from '../job/job';
import { createSyncClient } from './syncClient';
import type { JobSubscriptionHandlers, SyncTransport } from './syncTransport';
import { engineTransport } from './transports/engineTransport';
import { pollingTransport } from './transports/pollingTransport';

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const flush = async () => {
  for (let i = 0; i < 5; i++) await tick();
};

/** Wraps a transport to record the calls the client makes, in order. */
function spyTransport(inner: SyncTransport) {
  const calls: string[] = [];
  const handlers: JobSubscriptionHandlers[] = [];
  let open = 0;
  const transport: SyncTransport = {
    ...inner,
    getActive: (account) => {
      calls.push('getActive');
      return inner.getActive(account);
    },
    listJobs: (query) => {
      calls.push('listJobs');
      return inner.listJobs(query);
    },
    subscribe: (jobId, options, subscriptionHandlers) => {
      calls.push(`subscribe ${options.afterSeq ?? 0}`);
      handlers.push(subscriptionHandlers);
      open++;
      const stop = inner.subscribe(jobId, options, subscriptionHandlers);
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        open--;
        stop();
      };
    },
  };
  return {
    transport,
    calls,
    handlers,
    get open() {
      return open;
    },
  };
}

describe('createSyncClient', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens one subscription per job however many listeners, and closes it when the last leaves', async () => {
    const engine = new ScriptedEngine();
    const spy = spyTransport(engineTransport(engine));
    const client = createSyncClient({ transport: spy.transport });
    const { job } = await client.start({ source: 'test', accountId: 'a' });
    expect(client.observe(job.id)).toBe(client.observe(job.id));
    const leaves = Array.from({ length: 5 }, () => client.observe(job.id).subscribe(() => {}));
    await flush();
    expect(spy.calls.filter((call) => call.startsWith('subscribe'))).toHaveLength(1);
    for (const leave of leaves.slice(0, 4)) leave();
    await flush();
    expect(spy.open).toBe(1);
    leaves[4]!();
    await flush();
    expect(spy.open).toBe(0);
    expect(engine.listenerCount('log')).toBe(0);
  });

  it('keeps one connection through an unsubscribe immediately followed by a subscribe (StrictMode)', async () => {
    const engine = new ScriptedEngine();
    const spy = spyTransport(engineTransport(engine));
    const client = createSyncClient({ transport: spy.transport });
    const { job } = await client.start({ source: 'test', accountId: 'a' });
    const observer = client.observe(job.id);
    observer.subscribe(() => {})();
    const leave = observer.subscribe(() => {});
    await flush();
    expect(spy.calls.filter((call) => call.startsWith('subscribe'))).toHaveLength(1);
    expect(spy.open).toBe(1);
    leave();
  });

  it('folds events with applyEvent; getSnapshot is the same object until something changes', async () => {
    const engine = new ScriptedEngine();
    const client = createSyncClient({ transport: engineTransport(engine) });
    const { job } = await client.start({ source: 'test', accountId: 'a' });
    const observer = client.observe(job.id);
    const leave = observer.subscribe(() => {});
    await flush();
    const before = observer.getSnapshot();
    expect(observer.getSnapshot()).toBe(before);
    const lease = await engine.claim();
    await engine.log(lease, 'hello');
    await flush();
    const after = observer.getSnapshot();
    expect(after).not.toBe(before);
    expect(after.job?.status).toBe('running');
    expect(after.logs.map((entry) => entry.message)).toEqual(['Sync queued.', 'hello']);
    await engine.finish(lease);
    await flush();
    expect(observer.getSnapshot()).toMatchObject({ isFinished: true, connection: 'closed' });
    expect(observer.isConnected).toBe(false);
    leave();
  });

  it('a dropped stream is not a finished job: only a terminal status ends the subscription', () => {
    let handlers: JobSubscriptionHandlers | undefined;
    const unsubscribe = vi.fn();
    const transport = {
      subscribe: (_id: string, _options: unknown, h: JobSubscriptionHandlers) => {
        handlers = h;
        return unsubscribe;
      },
    } as unknown as SyncTransport;
    const client = createSyncClient({ transport });
    const job = {
      id: 'job-1',
      status: 'running',
      updatedAt: '2026-01-01T00:00:00.000Z',
      lastLogSeq: 0,
    } as unknown as Job;
    const observer = client.observe('job-1');
    observer.subscribe(() => {});
    handlers!.onEvent({ type: 'snapshot', jobId: 'job-1', job });
    handlers!.onConnectionChange?.('reconnecting');
    expect(observer.getSnapshot()).toMatchObject({ isFinished: false, connection: 'reconnecting' });
    expect(unsubscribe).not.toHaveBeenCalled();
    const done: SyncEvent = {
      type: 'completed',
      jobId: 'job-1',
      job: { ...job, status: 'completed', updatedAt: '2026-01-01T00:00:01.000Z' },
    };
    handlers!.onEvent(done);
    expect(observer.getSnapshot()).toMatchObject({ isFinished: true, connection: 'closed' });
    expect(unsubscribe).toHaveBeenCalledOnce();
  });

  it('watchAccount reattaches: asks jobs/active first, then subscribes to that job', async () => {
    const engine = new ScriptedEngine();
    const running = (await engine.start({ source: 'test', accountId: 'a' })).job;
    const lease = await engine.claim();
    await engine.log(lease, 'before the refresh');
    const spy = spyTransport(engineTransport(engine));
    const client = createSyncClient({ transport: spy.transport });
    const watcher = client.watchAccount({ source: 'test', accountId: 'a' });
    expect(client.watchAccount({ source: 'test', accountId: 'a' })).toBe(watcher);
    const leave = watcher.subscribe(() => {});
    expect(watcher.getSnapshot().status).toBe('loading');
    await flush();
    expect(spy.calls).toEqual(['getActive', 'subscribe 0']);
    expect(watcher.getSnapshot()).toMatchObject({ status: 'ready', isActive: true, job: { id: running.id } });
    expect(watcher.getSnapshot().logs.map((entry) => entry.message)).toContain('before the refresh');
    await engine.finish(lease, 'interrupted');
    await flush();
    expect(watcher.getSnapshot()).toMatchObject({ isActive: false, job: { status: 'interrupted' } });

    const retried = await watcher.retry();
    await flush();
    expect(retried?.started).toBe(true);
    expect(watcher.getSnapshot().job?.id).toBe(retried?.job.id);
    expect(watcher.getSnapshot().isActive).toBe(true);
    leave();
  });

  it('watchAccount exposes the latest job when none is active, and follows a start', async () => {
    const engine = new ScriptedEngine();
    const old = (await engine.start({ source: 'test', accountId: 'a' })).job;
    await engine.finish(await engine.claim(), 'failed');
    const spy = spyTransport(engineTransport(engine));
    const client = createSyncClient({ transport: spy.transport });
    const watcher = client.watchAccount({ source: 'test', accountId: 'a' });
    const leave = watcher.subscribe(() => {});
    await flush();
    // The finished job is subscribed to once, for its log lines, and the subscription then ends.
    expect(spy.calls).toEqual(['getActive', 'listJobs', 'subscribe 0']);
    expect(spy.open).toBe(0);
    expect(watcher.getSnapshot()).toMatchObject({ isActive: false, job: { id: old.id, status: 'failed' } });

    const result = await watcher.start();
    await flush();
    expect(result?.started).toBe(true);
    expect(watcher.getSnapshot()).toMatchObject({ isActive: true, job: { id: result?.job.id } });
    expect(spy.open).toBe(1);
    leave();
    await flush();
    expect(spy.open).toBe(0);
  });

  it('watchAccount stores action errors instead of throwing', async () => {
    const engine = new ScriptedEngine();
    const client = createSyncClient({ transport: engineTransport(engine) });
    const watcher = client.watchAccount({ source: 'imap', accountId: 'a' });
    expect(await watcher.start()).toBeNull();
    expect(watcher.getSnapshot().error?.code).toBe('UNKNOWN_SOURCE');
  });
});

describe('pollingTransport', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls the job and the logs after the last seq, and stops every request at the terminal status', async () => {
    vi.useFakeTimers();
    const engine = new ScriptedEngine();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    const lease = await engine.claim();
    const requests: string[] = [];
    const fakeFetch: typeof fetch = async (input) => {
      const url = new URL(String(input));
      requests.push(url.pathname.replace(/.*\/jobs\/[^/]+/, '') + url.search);
      if (url.pathname.endsWith('/logs')) {
        const afterSeq = Number(url.searchParams.get('afterSeq'));
        const logs = await engine.getLogs(job.id, { afterSeq });
        return Response.json({ logs, lastSeq: logs.at(-1)?.seq ?? afterSeq, hasMore: false });
      }
      return Response.json({ job: await engine.getJob(job.id) });
    };
    const client = createSyncClient({
      transport: pollingTransport({ baseUrl: 'http://x/api', intervalMs: 1000, fetch: fakeFetch }),
    });
    const observer = client.observe(job.id);
    const leave = observer.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toEqual(['', '/logs?afterSeq=0&limit=1000']);
    expect(observer.getSnapshot().connection).toBe('polling');
    await engine.log(lease, 'two');
    await vi.advanceTimersByTimeAsync(1000);
    expect(requests.slice(2)).toEqual(['', '/logs?afterSeq=1&limit=1000']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(requests.slice(4)).toEqual(['']);
    await engine.finish(lease);
    await vi.advanceTimersByTimeAsync(1000);
    expect(observer.getSnapshot()).toMatchObject({ isFinished: true, job: { status: 'completed' } });
    expect(observer.getSnapshot().logs.map((entry) => entry.seq)).toEqual([1, 2, 3]);
    const count = requests.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(requests.length).toBe(count);
    expect(vi.getTimerCount()).toBe(0);
    leave();
  });

  it('stops polling when the last subscriber leaves', async () => {
    vi.useFakeTimers();
    const engine = new ScriptedEngine();
    const { job } = await engine.start({ source: 'test', accountId: 'a' });
    let requests = 0;
    const fakeFetch: typeof fetch = async () => {
      requests++;
      return Response.json({ job: await engine.getJob(job.id) });
    };
    const client = createSyncClient({
      transport: pollingTransport({ baseUrl: 'http://x', intervalMs: 500, fetch: fakeFetch }),
    });
    const leave = client.observe(job.id).subscribe(() => {});
    await vi.advanceTimersByTimeAsync(1600);
    expect(requests).toBeGreaterThanOrEqual(4);
    leave();
    await vi.advanceTimersByTimeAsync(1);
    const count = requests;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(requests).toBe(count);
    expect(vi.getTimerCount()).toBe(0);
  });
});
