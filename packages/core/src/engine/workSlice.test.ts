import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Job } from '../job/job';
import { processedCount } from '../job/job';
import { createMemoryStore } from '../store/memoryStore';
import type { SyncStore } from '../store/syncStore';
import type { TestSourceOptions } from '../testing/testSource';
import { createTestSource } from '../testing/testSource';
import type { SyncEngineOptions } from './engineTypes';
import { createSyncEngine } from './syncEngine';
import type { WorkOptions, WorkResult } from './workSlice';

const account = { source: 'test', accountId: 'alice@example.test' };

function setup(
  sourceOptions: TestSourceOptions = {},
  engineOptions: Partial<SyncEngineOptions> = {},
  store: SyncStore = createMemoryStore(),
) {
  const source = createTestSource(sourceOptions);
  const engine = createSyncEngine({
    store,
    sources: [source],
    worker: false,
    retry: { minDelayMs: 1_000, maxDelayMs: 10_000 },
    ...engineOptions,
  });
  return { store, source, control: source.control, engine };
}

/** Runs one `work` call on fake time; resolves with its result and how long it took. */
async function slice(
  engine: ReturnType<typeof createSyncEngine>,
  options: WorkOptions,
): Promise<WorkResult & { tookMs: number }> {
  const startedAt = Date.now();
  let settled = false;
  const call = engine.work(options).finally(() => {
    settled = true;
  });
  while (!settled) await vi.advanceTimersByTimeAsync(50);
  const result = await call;
  return { ...result, tookMs: Date.now() - startedAt };
}

/** No worker may write to the job: no lease expiry, and `queued` or ended. */
function expectNoLease(job: Job | null) {
  expect(job?.leaseExpiresAt).toBeNull();
  expect(job?.status).not.toBe('running');
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('engine.work: time slices', () => {
  it('runs a job over several slices: each stops at a batch boundary within the budget, hands the lease back, and the next resumes', async () => {
    const { store, engine, control } = setup(
      { messages: 100, pageSize: 100, batchSize: 10 },
      { maxAttempts: 2 },
    );
    control.setDelay(1_000);
    const { job } = await engine.start(account);

    const results: Array<WorkResult & { tookMs: number }> = [];
    const stored: number[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await slice(engine, { maxMs: 5_000 });
      results.push(result);
      const after = await store.getJob(job.id);
      // Handed back at once: no lease is held between slices.
      expectNoLease(after);
      stored.push(after!.counters.stored);
      if (!result.moreWork) break;
      await vi.advanceTimersByTimeAsync(3_000);
    }

    expect(results.length).toBeGreaterThan(2);
    for (const result of results) {
      expect(result.ran).toBe(1);
      // The call returns within its budget (the last batch that fits, then the hand-back).
      expect(result.tookMs).toBeLessThanOrEqual(5_000);
    }
    // First slice: listing (1 s) then 3 batches; the 4th would end past the budget, so it stops at 4 s.
    expect(results[0]).toMatchObject({
      moreWork: true,
      jobs: [{ id: job.id, status: 'queued', handedBack: true, processed: 30, percent: 30 }],
    });
    expect(results[0]!.tookMs).toBe(4_000);
    expect(results.at(-1)).toMatchObject({
      moreWork: false,
      jobs: [{ status: 'completed', handedBack: false }],
    });
    // Progress goes on from slice to slice, never backwards; every message fetched and stored once.
    expect(stored).toEqual([...stored].sort((a, b) => a - b));
    expect(results.reduce((sum, r) => sum + r.jobs[0]!.processed, 0)).toBe(100);
    expect(await store.data.countMessages(account)).toBe(100);
    expect([...control.fetchCounts.values()].every((n) => n === 1)).toBe(true);
    // Slices are not attempts: maxAttempts 2 and still attempt 1 at the end.
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', attempt: 1 });
    const messages = (await store.getLogs(job.id, { limit: 500 })).map((l) => l.message);
    expect(messages.filter((m) => m.startsWith('Time slice over'))).toHaveLength(results.length - 1);
    expect(messages.filter((m) => m.startsWith('Time slice: resuming full sync'))).toHaveLength(
      results.length - 1,
    );
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not spend attempts over many slices, and a slice whose process died is still resumed', async () => {
    const store = createMemoryStore();
    const { engine, control } = setup(
      { messages: 200, pageSize: 200, batchSize: 10 },
      { maxAttempts: 2, leaseMs: 10_000, heartbeatMs: 2_000 },
      store,
    );
    control.setDelay(1_000);
    const { job } = await engine.start(account);
    let slices = 0;
    for (;;) {
      slices += 1;
      const result = await slice(engine, { maxMs: 1_500 });
      if (slices === 5) {
        // A host that froze the function mid-slice: the claim is never handed back.
        const claimed = await store.claimJob({ workerId: 'frozen', leaseMs: 10_000 });
        expect(claimed?.job.id).toBe(job.id);
        await vi.advanceTimersByTimeAsync(11_000);
      }
      if (!result.moreWork) break;
    }
    expect(slices).toBeGreaterThan(15);
    // The frozen slice cost one attempt of two; the handed-back ones none.
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', attempt: 2 });
    expect(await store.data.countMessages(account)).toBe(200);
  });

  it('never runs one job in two concurrent calls: the lease fences it', async () => {
    const store = createMemoryStore();
    const first = setup({ messages: 50, pageSize: 50, batchSize: 10 }, {}, store);
    const second = createSyncEngine({ store, sources: [first.source], worker: false });
    first.control.setDelay(500);
    const { job } = await first.engine.start(account);

    const [a, b] = await Promise.all([
      slice(first.engine, { maxMs: 2_000 }),
      slice(second, { maxMs: 2_000 }),
    ]);
    expect(a.ran + b.ran).toBe(1);
    expect([...a.jobs, ...b.jobs].map((j) => j.id)).toEqual([job.id]);
    // One run of the source, not two.
    expect(first.control.runs).toBe(1);
    expectNoLease(await store.getJob(job.id));
  });

  it('runs different jobs in concurrent calls, and claims the next queued job when one ends early', async () => {
    const store = createMemoryStore();
    const { engine, control } = setup(
      { messages: 20, pageSize: 20, batchSize: 10 },
      { concurrency: 1 },
      store,
    );
    control.setDelay(100);
    const accounts = ['a@example.test', 'b@example.test', 'c@example.test'];
    for (const accountId of accounts) await engine.start({ source: 'test', accountId });
    const result = await slice(engine, { maxMs: 10_000 });
    // Each job takes ~0.3 s: one call runs all three, one after the other.
    expect(result.ran).toBe(3);
    expect(result.jobs.map((j) => j.status)).toEqual(['completed', 'completed', 'completed']);
    expect(result.moreWork).toBe(false);
  });

  it('stops at the budget even when a batch hangs: nothing half-written, the next slice fetches it again', async () => {
    const { store, engine, control } = setup({ messages: 30, pageSize: 30, batchSize: 10 });
    control.hang({ call: 3 });
    const { job } = await engine.start(account);
    const result = await slice(engine, { maxMs: 3_000 });
    expect(result.tookMs).toBeLessThanOrEqual(3_000);
    expect(result).toMatchObject({ ran: 1, moreWork: true, jobs: [{ status: 'queued', processed: 10 }] });
    expectNoLease(await store.getJob(job.id));
    control.release();
    const next = await slice(engine, { maxMs: 3_000 });
    expect(next.jobs[0]?.status).toBe('completed');
    expect(await store.data.countMessages(account)).toBe(30);
  });

  it('hands back at once when its signal aborts', async () => {
    const { store, engine, control } = setup({ messages: 100, pageSize: 100, batchSize: 10 });
    control.setDelay(1_000);
    const { job } = await engine.start(account);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 2_500);
    const result = await slice(engine, { maxMs: 20_000, signal: controller.signal });
    expect(result.tookMs).toBeLessThan(3_000);
    expect(result.jobs[0]).toMatchObject({ status: 'queued', handedBack: true });
    expectNoLease(await store.getJob(job.id));
  });

  it('ends a job cancelled during the slice as cancelled, with nothing more to do', async () => {
    const { store, engine, control } = setup({ messages: 100, pageSize: 100, batchSize: 10 });
    control.setDelay(1_000);
    const { job } = await engine.start(account);
    setTimeout(() => void engine.cancel(job.id), 2_500);
    const result = await slice(engine, { maxMs: 10_000 });
    expect(result).toMatchObject({
      ran: 1,
      moreWork: false,
      jobs: [{ status: 'cancelled', handedBack: false }],
    });
    expectNoLease(await store.getJob(job.id));
  });

  it('says there is nothing to do, and rejects a budget under a second', async () => {
    const { engine } = setup();
    expect(await slice(engine, { maxMs: 5_000 })).toMatchObject({ ran: 0, jobs: [], moreWork: false });
    await expect(engine.work({ maxMs: 999 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(engine.work({ maxMs: Number.NaN })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('keeps the ETA truthful across slices: the gaps between them are counted', async () => {
    const { store, engine, control } = setup({ messages: 400, pageSize: 400, batchSize: 10 });
    // 10 messages/s inside a slice; 5 s slices every 10 s: about 4 messages/s of real pace.
    control.setDelay(1_000);
    const { job } = await engine.start(account);
    const samples: Array<{ at: number; done: number; eta: number | null }> = [];
    for (;;) {
      const result = await slice(engine, { maxMs: 5_000 });
      const after = (await store.getJob(job.id))!;
      samples.push({ at: Date.now(), done: processedCount(after.counters), eta: after.etaSeconds });
      if (!result.moreWork) break;
      await vi.advanceTimersByTimeAsync(10_000 - result.tookMs);
    }
    const end = Date.now();
    const quarter = samples.find((s) => s.done >= 100)!;
    const half = samples.find((s) => s.done >= 200)!;
    for (const sample of [quarter, half]) {
      const realRemaining = (end - sample.at) / 1000;
      expect(sample.eta).not.toBeNull();
      expect(Math.abs(sample.eta! - realRemaining) / realRemaining).toBeLessThan(0.2);
    }
  });
});
