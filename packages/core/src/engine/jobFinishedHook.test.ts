import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncError } from '../errors';
import type { Job } from '../job/job';
import type { SourceContext, SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import { runPendingJobs } from '../testing/runPendingJobs';
import { createTestSource } from '../testing/testSource';
import { createSyncEngine } from './syncEngine';

const account = { source: 'test', accountId: 'alice@example.test' };

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SyncEngine onJobFinished', () => {
  it('is called once per job this process finished, whatever the outcome', async () => {
    const finished: Job[] = [];
    const source = createTestSource({ messages: 20 });
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [source],
      worker: false,
      retry: { retries: 0 },
      onJobFinished: (job) => {
        finished.push(job);
      },
    });
    const completed = await engine.start(account);
    await runPendingJobs(engine);
    const queued = await engine.start(account);
    await engine.cancel(queued.job.id);
    source.control.failNext(new SyncError('REAUTH_REQUIRED', 'Sign in again.'));
    const failed = await engine.start(account);
    await runPendingJobs(engine);
    await engine.stop();

    expect(finished.map((job) => [job.id, job.status])).toEqual([
      [completed.job.id, 'completed'],
      [queued.job.id, 'cancelled'],
      [failed.job.id, 'failed'],
    ]);
    expect(finished[0]?.counters.stored).toBe(20);
    expect(finished[2]?.error?.code).toBe('REAUTH_REQUIRED');
  });

  it('logs a hook that throws or rejects and never fails the job; stop waits for a slow hook', async () => {
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    let calls = 0;
    let slowDone = false;
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [createTestSource({ messages: 5 })],
      worker: false,
      logger,
      onJobFinished: async () => {
        calls += 1;
        if (calls === 1) throw new Error('webhook down');
        if (calls === 2) return Promise.reject(new Error('smtp down'));
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        slowDone = true;
      },
    });
    for (let i = 0; i < 3; i += 1) {
      const { job } = await engine.start(account);
      await runPendingJobs(engine);
      expect(await engine.getJob(job.id)).toMatchObject({ status: 'completed' });
    }
    await vi.advanceTimersByTimeAsync(0);
    expect(logger.error).toHaveBeenCalledTimes(2);
    expect(logger.error.mock.calls[0]?.[0]).toMatch(
      /^onJobFinished failed for job .* \(completed\): webhook down$/,
    );
    expect(logger.error.mock.calls[1]?.[0]).toMatch(/smtp down$/);

    const stopped = engine.stop({ timeoutMs: 10_000 });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(slowDone).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopped;
    expect(slowDone).toBe(true);
  });
});

describe('SyncEngine quota events', () => {
  it('turns the units a source reports into quota events of its job', async () => {
    const source: SyncSource = {
      id: 'test',
      async *run(ctx: SourceContext) {
        ctx.reportQuotaUnits?.(5);
        ctx.reportQuotaUnits?.(0);
        ctx.reportQuotaUnits?.(Number.NaN);
        ctx.reportQuotaUnits?.(100);
        yield { checkpoint: null, phase: 'fetching', total: 0 };
      },
    };
    const engine = createSyncEngine({ store: createMemoryStore(), sources: [source], worker: false });
    const units: Array<[string, number]> = [];
    engine.on('quota', (event) => units.push([event.jobId, event.units]));
    const { job } = await engine.start(account);
    await runPendingJobs(engine);
    expect(units).toEqual([
      [job.id, 5],
      [job.id, 100],
    ]);
  });
});
