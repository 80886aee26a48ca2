import { afterEach, describe, expect, it, vi } from 'vitest';
import { sleep } from '../clock';
import { createSyncEngine } from '../engine/syncEngine';
import { cancelTransition } from '../job/jobLifecycle';
import type { SourceContext, SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import { SteppedClock } from '../testing/steppedClock';
import { createTestSource } from '../testing/testSource';
import { fairShares } from './fairShares';
import { createProjectQuotaGovernor, type ProjectQuotaWait } from './projectQuota';

const demand = (demander: string, priority: number, wanted: number | null) => ({
  demander,
  priority,
  wanted,
  seenAt: 0,
});

describe('fairShares', () => {
  it('splits evenly among demanders that would take any amount', () => {
    const shares = fairShares(90, [demand('a', 0, null), demand('b', 0, null), demand('c', 0, null)]);
    expect([...shares.values()]).toEqual([30, 30, 30]);
  });

  it('gives a small demander what it asks and splits the rest among the others (max-min fair)', () => {
    const shares = fairShares(100, [demand('a', 0, 10), demand('b', 0, null), demand('c', 0, 60)]);
    expect(Object.fromEntries(shares)).toEqual({ a: 10, b: 45, c: 45 });
  });

  it('serves higher priorities first and gives the next what they leave', () => {
    const shares = fairShares(100, [demand('s1', 0, null), demand('m', 1, 40), demand('s2', 0, null)]);
    expect(Object.fromEntries(shares)).toEqual({ m: 40, s1: 30, s2: 30 });
    const greedyManual = fairShares(100, [demand('s1', 0, null), demand('m', 1, null)]);
    expect(Object.fromEntries(greedyManual)).toEqual({ m: 100, s1: 0 });
  });
});

describe('project quota governor', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses bad settings with INVALID_INPUT', () => {
    const store = createMemoryStore();
    const clock = new SteppedClock(0);
    for (const options of [
      { unitsPerMinute: 0 },
      { unitsPerMinute: 100, unitsPerDay: -1 },
      { unitsPerMinute: 100, share: 1.5 },
      { unitsPerMinute: 100, share: 0 },
      { unitsPerMinute: 100, slices: 0.5 },
      { unitsPerMinute: 100, speed: 0 },
    ]) {
      expect(() => createProjectQuotaGovernor(store, clock, options)).toThrow(
        expect.objectContaining({ code: 'INVALID_INPUT' }),
      );
    }
  });

  it('holds a job back when the day is spent, says until when (UTC midnight), and resumes on its own', async () => {
    const store = createMemoryStore();
    const midnight = Date.UTC(2030, 0, 2);
    const clock = new SteppedClock(midnight - 30_000);
    const governor = createProjectQuotaGovernor(store, clock, {
      unitsPerMinute: 61_000,
      unitsPerDay: 400,
      share: 0.5,
    });
    const waits: Array<ProjectQuotaWait | null> = [];
    const backoffs: number[] = [];
    const quota = governor.forJob(
      { source: 'gmail', accountId: 'ada', trigger: 'schedule' },
      {
        signal: new AbortController().signal,
        reportBackoff: (ms) => backoffs.push(ms),
        reportWait: (wait) => waits.push(wait),
      },
    );
    // The app's half of the day: 200 units, 50 at a time.
    for (let i = 0; i < 4; i++) await quota.take(50);
    expect(await governor.dailyRemaining()).toBe(0);
    const next = quota.take(50);
    await clock.step(1);
    await next;
    expect(clock.now()).toBe(midnight);
    expect(waits).toEqual([{ for: 'project-daily-quota', until: new Date(midnight) }, null]);
    expect(backoffs).toEqual([30_000]);
    expect(await governor.dailyRemaining()).toBe(150);
    quota.close();
  });

  it('gathers a call dearer than a whole slice over several slices, never more than a slice each', async () => {
    const store = createMemoryStore();
    const start = Date.UTC(2030, 0, 1, 12);
    const clock = new SteppedClock(start);
    // 6,100 units a minute: 100 per one-second slice.
    const governor = createProjectQuotaGovernor(store, clock, { unitsPerMinute: 6_100 });
    const backoffs: number[] = [];
    const quota = governor.forJob(
      { source: 'gmail', accountId: 'ada', trigger: 'manual' },
      { signal: new AbortController().signal, reportBackoff: (ms) => backoffs.push(ms) },
    );
    const dear = quota.take(250);
    await clock.step(1);
    await clock.step(1);
    await dear;
    // 100 in the first slice, 100 in the second, 50 in the third.
    expect(clock.now()).toBe(start + 2_000);
    expect(backoffs).toEqual([1_000, 1_000]);
    // What the last two slice rows hold (the governor's own row keys, `slice:<index>`; the first
    // row has expired: a row lives two slices).
    const used = [];
    for (const index of [1, 2]) {
      const key = `slice:${start / 1_000 + index}`;
      const read = await store.takeQuota({
        scope: 'project',
        units: 0,
        windows: [{ key, limit: 1, expiresAt: 0 }],
      });
      used.push(read.used[0]);
    }
    expect(used).toEqual([100, 50]);
    quota.close();
  });

  it('saves the share for a call dearer than it and grants the call whole in the slice it is sent', async () => {
    const store = createMemoryStore();
    const start = Date.UTC(2030, 0, 1, 12);
    const clock = new SteppedClock(start);
    // 100 units per one-second slice, split between two accounts: 50 each.
    const governor = createProjectQuotaGovernor(store, clock, { unitsPerMinute: 6_100 });
    const hooks = { signal: new AbortController().signal, reportBackoff: () => {} };
    const ada = governor.forJob({ source: 'gmail', accountId: 'ada', trigger: 'schedule' }, hooks);
    const bob = governor.forJob({ source: 'gmail', accountId: 'bob', trigger: 'schedule' }, hooks);
    expect(ada.maxCallUnits).toBe(10);
    const dear = ada.take(80);
    await clock.step(1);
    await dear;
    expect(clock.now()).toBe(start + 1_000);
    // Nothing of it counted in the first slice, all 80 in the second: a provider counting the call
    // when it arrives sees the units in the slice the governor counted them.
    const used = [];
    for (const index of [0, 1]) {
      const key = `slice:${start / 1_000 + index}`;
      const read = await store.takeQuota({
        scope: 'project',
        units: 0,
        windows: [{ key, limit: 1, expiresAt: 0 }],
      });
      used.push(read.used[0] ?? 0);
    }
    expect(used).toEqual([0, 80]);
    ada.close();
    bob.close();
  });

  it('stops waiting when the job is cancelled', async () => {
    const store = createMemoryStore();
    const clock = new SteppedClock(Date.UTC(2030, 0, 1, 12));
    const governor = createProjectQuotaGovernor(store, clock, { unitsPerMinute: 61_000, unitsPerDay: 100 });
    const controller = new AbortController();
    const quota = governor.forJob(
      { source: 'gmail', accountId: 'ada', trigger: 'manual' },
      { signal: controller.signal, reportBackoff: () => {} },
    );
    await quota.take(100);
    const waiting = quota.take(1);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    quota.close();
  });
});

/** The test source, spending `units` of the project's budget before each batch of messages. */
function spendingSource(units: number): SyncSource {
  const inner = createTestSource({ messages: 30, batchSize: 10 });
  return {
    id: 'test',
    async *run(ctx: SourceContext) {
      for await (const batch of inner.run(ctx as SourceContext<never>)) {
        if (batch.write?.upsertMessages?.length) await ctx.projectQuota?.take(units);
        yield batch;
      }
    },
  };
}

describe('engine with projectQuota', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives sources the shared budget through ctx.projectQuota and forgets the demand when the job ends', async () => {
    const store = createMemoryStore();
    const engine = createSyncEngine({
      store,
      sources: [spendingSource(70)],
      projectQuota: { unitsPerMinute: 6_100_000, unitsPerDay: 1_000_000 },
      pollIntervalMs: 20,
    });
    try {
      const { job } = await engine.start({ source: 'test', accountId: 'ada' });
      while (!['completed', 'failed'].includes((await engine.getJob(job.id))?.status ?? '')) await sleep(10);
      expect((await engine.getJob(job.id))?.status).toBe('completed');
      const day = `day:${Math.floor(Date.now() / 86_400_000)}`;
      const { used } = await store.takeQuota({
        scope: 'project',
        units: 0,
        windows: [{ key: day, limit: 1, expiresAt: Date.now() + 86_400_000 }],
      });
      // Three batches of messages, 70 units each.
      expect(used).toEqual([210]);
      // The ended job's account is no longer a demander: the others' shares grow at once.
      await vi.waitFor(async () =>
        expect(await store.reportQuotaDemand({ scope: 'project', activeSince: 0, now: Date.now() })).toEqual(
          [],
        ),
      );
    } finally {
      await engine.stop();
    }
  });

  it('cancels a job waiting for the daily budget at once', async () => {
    const store = createMemoryStore();
    const engine = createSyncEngine({
      store,
      sources: [spendingSource(600)],
      projectQuota: { unitsPerMinute: 6_100_000, unitsPerDay: 1_000 },
      pollIntervalMs: 20,
      heartbeatMs: 200,
    });
    try {
      const { job } = await engine.start({ source: 'test', accountId: 'ada' });
      // The first batch fits; the second waits for tomorrow.
      while (((await engine.getJob(job.id))?.counters.stored ?? 0) < 10) await sleep(10);
      await sleep(50);
      expect((await engine.getJob(job.id))?.status).toBe('running');
      await engine.cancel(job.id);
      while ((await engine.getJob(job.id))?.status === 'running') await sleep(10);
      expect((await engine.getJob(job.id))?.status).toBe('cancelled');
      expect((await engine.getJob(job.id))?.counters.stored).toBe(10);
    } finally {
      await engine.stop();
    }
  });

  it('schedules incremental syncs first and new full syncs only while the day lasts', async () => {
    vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
    const store = createMemoryStore();
    const engine = createSyncEngine({
      store,
      sources: [spendingSource(250)],
      projectQuota: { unitsPerMinute: 6_100_000, unitsPerDay: 750 },
      pollIntervalMs: 10_000,
    });
    const cycles: Array<{ started: string[]; dailyBudget: number }> = [];
    engine.on('cycle', (event) =>
      cycles.push({
        started: event.started.map((key) => key.accountId),
        dailyBudget: event.skipped.dailyBudget,
      }),
    );
    try {
      // `old` synced once (3 batches × 250: the whole day's budget); `new1`, `new2` never did.
      await engine.start({ source: 'test', accountId: 'old' });
      for (const accountId of ['new1', 'new2']) {
        const { job } = await store.createJob({ source: 'test', accountId, mode: 'full', trigger: 'manual' });
        await store.updateJob(job.id, cancelTransition);
      }
      await vi.advanceTimersByTimeAsync(5_000);
      expect((await engine.getAccountState({ source: 'test', accountId: 'old' }))?.cursor).not.toBeNull();
      const schedule = engine.schedule({ every: '1h', staleAfter: 0, concurrency: 5 });
      await vi.advanceTimersByTimeAsync(1_000);
      expect(cycles[0]).toEqual({ started: ['old'], dailyBudget: 2 });
      // A new UTC day: the full syncs start.
      await vi.advanceTimersByTimeAsync(14 * 3_600_000);
      expect(cycles.some((cycle) => cycle.started.includes('new1') && cycle.started.includes('new2'))).toBe(
        true,
      );
      schedule.stop();
    } finally {
      await engine.stop();
    }
  });
});
