import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SyncEvent } from '../events/syncEvents';
import type { Job } from '../job/job';
import { emptyCounters } from '../job/job';
import { createSyncClient } from './syncClient';
import { SyncJobObserver } from './syncJobObserver';
import type { JobSubscriptionHandlers, SyncTransport } from './syncTransport';

const baseJob = (patch: Partial<Job> = {}): Job => ({
  id: '0b9e8a4e-8a5d-4a7b-9c1d-2f3e4a5b6c7d',
  source: 'test',
  accountId: 'a',
  status: 'running',
  phase: 'fetching',
  mode: 'full',
  trigger: 'manual',
  counters: { ...emptyCounters(), total: 5_000 },
  categoryCounts: {},
  percent: 0,
  ratePerSec: null,
  etaSeconds: null,
  currentItem: null,
  waiting: null,
  createdAt: new Date(0).toISOString(),
  startedAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
  heartbeatAt: null,
  leaseExpiresAt: null,
  finishedAt: null,
  attempt: 1,
  cancelRequested: false,
  error: null,
  lastLogSeq: 0,
  ...patch,
});

/** A transport over one scripted job: the test pushes its events. */
function scriptedTransport(job: Job) {
  let handlers: JobSubscriptionHandlers | null = null;
  let getActiveCalls = 0;
  const transport: SyncTransport = {
    start: async () => ({ job, started: false, reason: 'alreadyRunning' }),
    cancel: async () => job,
    retry: async () => ({ job, started: true }),
    getJob: async () => job,
    getActive: async () => {
      getActiveCalls++;
      return job;
    },
    listJobs: async () => [job],
    subscribe(_jobId, _options, subscription) {
      handlers = subscription;
      subscription.onConnectionChange?.('open');
      subscription.onEvent({ type: 'snapshot', jobId: job.id, job });
      return () => {
        handlers = null;
      };
    },
  };
  return {
    transport,
    emit: (event: SyncEvent) => handlers?.onEvent(event),
    get connected() {
      return handlers !== null;
    },
    get getActiveCalls() {
      return getActiveCalls;
    },
  };
}

describe('SyncJobObserver', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells its listeners at most ten times a second under 1,000 events a second, and ends on the last state', async () => {
    vi.useFakeTimers();
    const job = baseJob();
    const scripted = scriptedTransport(job);
    const observer = new SyncJobObserver(createSyncClient({ transport: scripted.transport }), {
      source: 'test',
      accountId: 'a',
    });
    const notifiedAt: number[] = [];
    observer.subscribe(() => notifiedAt.push(Date.now()));
    await vi.advanceTimersByTimeAsync(10);
    expect(observer.getSnapshot().job?.id).toBe(job.id);
    const start = Date.now();
    notifiedAt.length = 0;
    for (let i = 1; i <= 5_000; i++) {
      scripted.emit({
        type: 'log',
        jobId: job.id,
        entry: { jobId: job.id, seq: i, at: new Date().toISOString(), level: 'info', message: `line ${i}` },
      });
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(200);
    for (let second = 0; second < 5; second++) {
      const inSecond = notifiedAt.filter(
        (at) => at >= start + second * 1000 && at < start + (second + 1) * 1000,
      );
      expect(inSecond.length).toBeLessThanOrEqual(10);
    }
    expect(observer.getSnapshot().logs.at(-1)?.seq).toBe(5_000);
    scripted.emit({ type: 'completed', jobId: job.id, job: baseJob({ status: 'completed', percent: 100 }) });
    expect(observer.getSnapshot().status).toBe('completed');
  });

  it('connects only once enabled, and lets go when disabled again', async () => {
    const scripted = scriptedTransport(baseJob());
    const observer = new SyncJobObserver(createSyncClient({ transport: scripted.transport }), {
      source: 'test',
      accountId: 'a',
      enabled: false,
    });
    const unsubscribe = observer.subscribe(() => {});
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(scripted.getActiveCalls).toBe(0);
    expect(observer.getSnapshot().job).toBeNull();
    observer.setOptions({ source: 'test', accountId: 'a', enabled: true });
    await vi.waitFor(() => expect(observer.getSnapshot().status).toBe('running'));
    expect(scripted.getActiveCalls).toBe(1);
    expect(observer.getSnapshot().isRunning).toBe(true);
    observer.setOptions({ source: 'test', accountId: 'a', enabled: false });
    unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(scripted.connected).toBe(false);
  });

  it('turns stale when the lease runs out, without any event', async () => {
    vi.useFakeTimers({ now: 0 });
    const scripted = scriptedTransport(baseJob({ leaseExpiresAt: new Date(60_000).toISOString() }));
    const observer = new SyncJobObserver(createSyncClient({ transport: scripted.transport }), {
      source: 'test',
      accountId: 'a',
    });
    observer.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(10);
    expect(observer.getSnapshot().isStale).toBe(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(observer.getSnapshot().isStale).toBe(true);
  });
});
