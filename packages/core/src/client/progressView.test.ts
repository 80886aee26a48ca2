import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock';
import { ScriptedEngine } from '../http/__tests__/scriptedEngine';
import type { Job } from '../job/job';
import { emptyCounters } from '../job/job';
import { createSyncClient } from './syncClient';
import type { JobSubscriptionHandlers, SyncTransport } from './syncTransport';
import { engineTransport } from './transports/engineTransport';

const ACCOUNT = { source: 'test', accountId: 'a' };
const flush = () => vi.advanceTimersByTimeAsync(1);

/** Counts the starts the client sends, to prove a press during a sync starts nothing. */
function countingTransport(inner: SyncTransport) {
  const counts = { start: 0 };
  const transport: SyncTransport = {
    ...inner,
    start: (input) => {
      counts.start++;
      return inner.start(input);
    },
  };
  return { transport, counts };
}

/** A client as a fresh page load (or a second tab) creates it: nothing shown yet. */
const freshPage = (engine: ScriptedEngine) => {
  const spy = countingTransport(engineTransport(engine));
  return { client: createSyncClient({ transport: spy.transport }), counts: spy.counts };
};

describe('ProgressView (the "progress view open" rule)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-03-01T12:00:00.000Z') });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens by itself when a page load reattaches to a running job, in every tab', async () => {
    const engine = new ScriptedEngine();
    await engine.start(ACCOUNT);
    await engine.claim();
    const first = freshPage(engine).client.progressView(ACCOUNT);
    const second = freshPage(engine).client.progressView(ACCOUNT);
    const seen: boolean[] = [];
    const leaves = [first.subscribe((snapshot) => seen.push(snapshot.open)), second.subscribe(() => {})];
    expect(first.getSnapshot().open).toBe(false);
    await flush();
    expect(first.getSnapshot().open).toBe(true);
    expect(second.getSnapshot().open).toBe(true);
    expect(seen).toEqual([true]);
    for (const leave of leaves) leave();
  });

  it('stays closed when the account has no active job', async () => {
    const engine = new ScriptedEngine();
    await engine.start(ACCOUNT);
    await engine.finish(await engine.claim(), 'failed');
    const view = freshPage(engine).client.progressView(ACCOUNT);
    const leave = view.subscribe(() => {});
    await flush();
    expect(view.getSnapshot().open).toBe(false);
    leave();
  });

  it('stays closed after a close while the job goes on, until shown again', async () => {
    const engine = new ScriptedEngine();
    await engine.start(ACCOUNT);
    const lease = await engine.claim();
    const view = freshPage(engine).client.progressView(ACCOUNT);
    const leave = view.subscribe(() => {});
    await flush();
    expect(view.getSnapshot().open).toBe(true);
    view.hide();
    for (let i = 1; i <= 5; i++) {
      await engine.progress(lease, { listed: i * 10, stored: i * 10 });
      await engine.log(lease, `batch ${i}`);
      await flush();
      expect(view.getSnapshot().open).toBe(false);
    }
    // A remount (route change, StrictMode) keeps the choice too.
    leave();
    const again = view.subscribe(() => {});
    await flush();
    expect(view.getSnapshot().open).toBe(false);
    view.show();
    expect(view.getSnapshot().open).toBe(true);
    again();
  });

  it('a press while idle starts one sync and opens; a press while it runs opens it and starts nothing', async () => {
    const engine = new ScriptedEngine();
    const page = freshPage(engine);
    const view = page.client.progressView(ACCOUNT);
    const leave = view.subscribe(() => {});
    await flush();
    expect(view.getSnapshot().open).toBe(false);

    const first = await view.startOrShow();
    expect(first).toMatchObject({ action: 'start', result: { started: true } });
    expect(view.getSnapshot().open).toBe(true);
    view.hide();
    await engine.claim();
    await flush();
    expect(view.getSnapshot().open).toBe(false);

    expect(await view.startOrShow()).toEqual({ action: 'show' });
    expect(view.getSnapshot().open).toBe(true);
    expect(page.counts.start).toBe(1);
    expect((await engine.store.listJobs({ accountId: 'a' })).length).toBe(1);
    leave();
  });

  it('a press before the reattach answered joins the running job instead of starting another', async () => {
    const engine = new ScriptedEngine();
    const { job } = await engine.start(ACCOUNT);
    await engine.claim();
    const page = freshPage(engine);
    const view = page.client.progressView(ACCOUNT);
    const result = await view.startOrShow();
    expect(result).toMatchObject({ action: 'start', result: { started: false, job: { id: job.id } } });
    expect(view.getSnapshot().open).toBe(true);
    expect((await engine.store.listJobs({ accountId: 'a' })).length).toBe(1);
  });

  it('a job it has not shown yet reopens a closed view (a start elsewhere on the page); each job only once', async () => {
    const engine = new ScriptedEngine();
    await engine.start(ACCOUNT);
    const lease = await engine.claim();
    const { client } = freshPage(engine);
    const view = client.progressView(ACCOUNT);
    const leave = view.subscribe(() => {});
    await flush();
    view.hide();
    await engine.finish(lease, 'failed');
    await flush();
    expect(view.getSnapshot().open).toBe(false);

    // "Sync failed — retry" in the status line: a new job, so the view opens on it.
    await client.watchAccount(ACCOUNT).retry();
    await flush();
    expect(view.getSnapshot().open).toBe(true);
    view.hide();
    await engine.claim();
    await flush();
    expect(view.getSnapshot().open).toBe(false);
    leave();
  });

  it('keeps one view per account, shared by every component of the client', () => {
    const { client } = freshPage(new ScriptedEngine());
    expect(client.progressView(ACCOUNT)).toBe(client.progressView({ ...ACCOUNT }));
    expect(client.progressView({ source: 'test', accountId: 'b' })).not.toBe(client.progressView(ACCOUNT));
    client.progressView(ACCOUNT).show();
    expect(client.progressView({ source: 'test', accountId: 'b' }).getSnapshot().open).toBe(false);
    expect(client.progressView(ACCOUNT).getServerSnapshot().open).toBe(false);
  });

  it('does not open on a stale job, and opens once a worker picks it up again', async () => {
    const now = Date.now();
    const job: Job = {
      id: '0b9e8a4e-8a5d-4a7b-9c1d-2f3e4a5b6c7d',
      source: 'test',
      accountId: 'a',
      status: 'running',
      phase: 'fetching',
      mode: 'full',
      trigger: 'manual',
      counters: { ...emptyCounters(), total: 100, stored: 10 },
      categoryCounts: {},
      percent: 10,
      ratePerSec: null,
      etaSeconds: null,
      currentItem: null,
      waiting: null,
      createdAt: new Date(now - 300_000).toISOString(),
      startedAt: new Date(now - 300_000).toISOString(),
      updatedAt: new Date(now - 120_000).toISOString(),
      heartbeatAt: new Date(now - 120_000).toISOString(),
      leaseExpiresAt: new Date(now - 60_000).toISOString(),
      finishedAt: null,
      attempt: 1,
      cancelRequested: false,
      error: null,
      lastLogSeq: 0,
    };
    let handlers: JobSubscriptionHandlers | null = null;
    const transport = {
      getActive: async () => job,
      listJobs: async () => [job],
      subscribe(_id, _options, subscription) {
        handlers = subscription;
        subscription.onEvent({ type: 'snapshot', jobId: job.id, job });
        return () => {};
      },
    } as Partial<SyncTransport> as SyncTransport;
    const clock: Clock = {
      now: () => Date.now(),
      setTimeout: (callback, ms) => setTimeout(callback, ms),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const view = createSyncClient({ transport, clock }).progressView(ACCOUNT);
    const leave = view.subscribe(() => {});
    await flush();
    expect(view.getSnapshot().open).toBe(false);

    await vi.advanceTimersByTimeAsync(5_000);
    const resumed = {
      ...job,
      attempt: 2,
      updatedAt: new Date(Date.now()).toISOString(),
      leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
    };
    (handlers as JobSubscriptionHandlers | null)?.onEvent({ type: 'snapshot', jobId: job.id, job: resumed });
    await flush();
    expect(view.getSnapshot().open).toBe(true);
    leave();
  });
});
