import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncError } from '../errors';
import type { SyncEvent } from '../events/syncEvents';
import { createMemoryStore } from '../store/memoryStore';
import type { SyncStore } from '../store/syncStore';
import { runPendingJobs } from '../testing/runPendingJobs';
import type { TestSourceOptions } from '../testing/testSource';
import { createTestSource } from '../testing/testSource';
import type { SyncEngineOptions } from './engineTypes';
import { createSyncEngine } from './syncEngine';

const account = { source: 'test', accountId: 'alice@example.test' };

/** A store, a test source and an engine without a worker loop (tests drive it with `runPendingJobs`). */
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
  return { store, source, control: source.control, engine, events: record(engine) };
}

/** Every event of an engine, in order, with the (fake) time it was emitted. */
function record(engine: ReturnType<typeof createSyncEngine>) {
  const events: Array<SyncEvent & { at: number }> = [];
  for (const name of [
    'status',
    'progress',
    'log',
    'completed',
    'failed',
    'cancelled',
    'interrupted',
  ] as const) {
    engine.on(name, (event: SyncEvent) => events.push({ ...event, at: Date.now() }));
  }
  return {
    all: events,
    of: <T extends SyncEvent['type']>(type: T) =>
      events.filter((e): e is Extract<SyncEvent, { type: T }> & { at: number } => e.type === type),
    logMessages: () => events.flatMap((e) => (e.type === 'log' ? [e.entry.message] : [])),
  };
}

/** A store whose every call fails once `kill()` is called: the process running on it is gone. */
function killableStore(store: SyncStore) {
  let dead = false;
  const rejections: string[] = [];
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (dead) return Promise.reject(new SyncError('STORE_UNAVAILABLE', 'The test killed this store.'));
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          rejections.push(`${String(property)}:${SyncError.fromUnknown(error).code}`);
          throw error;
        });
      };
    },
  });
  return {
    store: proxy,
    rejections,
    kill: () => {
      dead = true;
    },
    revive: () => {
      dead = false;
    },
  };
}

const allMessageIds = async (store: SyncStore) =>
  (await store.data.listMessages(account, { limit: 10_000 })).map((m) => m.id);

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SyncEngine: a full run', () => {
  it('lists, stages, fetches and stores every message once, then saves the cursor', async () => {
    const { store, engine, control, events } = setup({ messages: 100, pageSize: 25, batchSize: 10 });
    const started = await engine.start(account);
    expect(started.started).toBe(true);
    expect(started.job).toMatchObject({ status: 'queued', mode: 'full', trigger: 'manual' });

    expect(await runPendingJobs(engine)).toBe(1);

    const job = (await engine.getJob(started.job.id))!;
    expect(job).toMatchObject({ status: 'completed', percent: 100, etaSeconds: null, error: null });
    expect(job.counters).toMatchObject({ total: 100, listed: 100, fetched: 100, stored: 100 });
    expect(await allMessageIds(store)).toEqual(control.mailbox(account.accountId));
    expect([...control.fetchCounts.values()].every((n) => n === 1)).toBe(true);
    const state = await engine.getAccountState(account);
    expect(state).toMatchObject({ cursor: '1', checkpoint: null });
    expect(await store.countStaged(account)).toBe(0);

    const logs = await engine.getLogs(job.id, { limit: 1000 });
    expect(logs.map((l) => l.seq)).toEqual(logs.map((_, i) => i + 1));
    const messages = logs.map((l) => l.message);
    expect(messages[0]).toBe('Sync queued: full sync (manual)');
    expect(messages[1]).toBe('Sync started: full sync (attempt 1)');
    expect(messages.filter((m) => /^\d+% done/.test(m))).toEqual([
      '10% done: 10 of 100 messages',
      '25% done: 30 of 100 messages',
      '50% done: 50 of 100 messages',
      '75% done: 80 of 100 messages',
      '90% done: 90 of 100 messages',
      '100% done: 100 of 100 messages',
    ]);
    expect(messages.at(-1)).toMatch(/^Sync completed: 100 stored, 0 skipped, 0 deleted, 0 failed in /);

    // Listeners saw the same lines, each once, in order, and the status changes and the end.
    expect(events.of('log').map((e) => e.entry.seq)).toEqual(logs.map((l) => l.seq));
    expect(events.of('status').map((e) => e.job.status)).toEqual(['queued', 'running', 'completed']);
    expect(events.of('completed')).toHaveLength(1);
  });

  it('picks an incremental sync once the account has a cursor, and saves the new cursor', async () => {
    const { store, engine } = setup({ messages: 20, incrementalChanges: 3 });
    await engine.start(account);
    await runPendingJobs(engine);
    const next = await engine.start(account);
    expect(next.job.mode).toBe('incremental');
    await runPendingJobs(engine);
    expect(await engine.getJob(next.job.id)).toMatchObject({
      status: 'completed',
      counters: expect.objectContaining({ total: 3, stored: 3 }),
    });
    expect(await store.data.countMessages(account)).toBe(23);
    expect((await engine.getAccountState(account))?.cursor).toBe('2');
  });

  it('continues an incremental job as a full sync when the cursor expired: counters restart in the new mode', async () => {
    const { store, engine, control, events } = setup({ messages: 30 });
    await engine.start(account);
    await runPendingJobs(engine);
    control.expireCursor();
    const { job } = await engine.start(account);
    expect(job.mode).toBe('incremental');
    await runPendingJobs(engine);

    const done = (await engine.getJob(job.id))!;
    expect(done).toMatchObject({ status: 'completed', mode: 'full' });
    expect(done.counters).toMatchObject({ total: 30, listed: 30, stored: 30 });
    expect(events.logMessages()).toContain(
      'Cursor 1 is too old for an incremental sync: running a full sync instead',
    );
    expect(await store.data.countMessages(account)).toBe(30);
    expect((await engine.getAccountState(account))?.lastFullSyncAt).toBe(done.finishedAt);
  });

  it('survives a listener that throws, and still surfaces the listener’s error', async () => {
    const { engine } = setup({ messages: 20 });
    const rethrown: Array<() => void> = [];
    const microtask = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      rethrown.push(callback);
    });
    engine.on('progress', () => {
      throw new Error('a bug in the UI');
    });
    const { job } = await engine.start(account);
    await runPendingJobs(engine);
    microtask.mockRestore();
    expect(await engine.getJob(job.id)).toMatchObject({ status: 'completed' });
    expect(rethrown.length).toBeGreaterThan(0);
    expect(rethrown[0]).toThrow('a bug in the UI');
  });

  it('learns the total only after listing when the source cannot know it up front', async () => {
    const { engine, events } = setup({ messages: 40, totalKnown: 'afterListing' });
    await engine.start(account);
    await runPendingJobs(engine);
    const progress = events.of('progress').map((e) => e.progress);
    const listing = progress.filter((p) => p.phase === 'listing');
    expect(listing.length).toBeGreaterThan(0);
    expect(
      listing.every((p) => p.counters.total === null && p.percent === null && p.etaSeconds === null),
    ).toBe(true);
    expect(progress.at(-1)?.counters.total).toBe(40);
  });
});

describe('SyncEngine.start', () => {
  it('rejects an unknown source and a malformed account id', async () => {
    const { engine } = setup();
    await expect(engine.start({ source: 'nope', accountId: 'a' })).rejects.toMatchObject({
      code: 'UNKNOWN_SOURCE',
    });
    for (const accountId of ['', '   ', 'x'.repeat(513), undefined, 42]) {
      await expect(engine.start({ source: 'test', accountId: accountId as string })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
      });
    }
    await expect(engine.start({ ...account, mode: 'sometimes' as 'full' })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    expect(await engine.listJobs()).toEqual([]);
  });

  it('refuses a heartbeat that is not shorter than the lease', () => {
    expect(() => setup({}, { leaseMs: 10_000, heartbeatMs: 10_000 })).toThrow(
      expect.objectContaining({ code: 'INVALID_INPUT' }),
    );
  });

  it('returns the running job with alreadyRunning instead of starting a second one', async () => {
    const { engine, control } = setup({ messages: 50 });
    control.setDelay(1_000);
    const first = await engine.start(account);
    const run = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(2_500);
    expect((await engine.getJob(first.job.id))?.status).toBe('running');
    const second = await engine.start(account);
    expect(second).toEqual({
      job: expect.objectContaining({ id: first.job.id }),
      started: false,
      reason: 'alreadyRunning',
    });
    await vi.runAllTimersAsync();
    await run;
  });

  it('creates exactly one job for 50 concurrent starts', async () => {
    const { engine } = setup();
    const results = await Promise.all(Array.from({ length: 50 }, () => engine.start(account)));
    expect(results.filter((r) => r.started)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect(results.filter((r) => !r.started).every((r) => !r.started && r.reason === 'alreadyRunning')).toBe(
      true,
    );
    expect(await engine.listJobs()).toHaveLength(1);
  });
});

describe('SyncEngine.cancel and retry', () => {
  it('cancels a queued job at once', async () => {
    const { engine, events } = setup();
    const { job } = await engine.start(account);
    const cancelled = await engine.cancel(job.id);
    expect(cancelled.status).toBe('cancelled');
    expect(events.of('cancelled').map((e) => e.jobId)).toEqual([job.id]);
    expect(await engine.cancel(job.id)).toMatchObject({ status: 'cancelled' });
    expect(await runPendingJobs(engine)).toBe(0);
  });

  it('answers NOT_FOUND for an unknown job and CONFLICT for a completed one', async () => {
    const { engine } = setup({ messages: 5 });
    await expect(engine.cancel('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(engine.retry('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(engine.cancel('')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const { job } = await engine.start(account);
    await expect(engine.retry(job.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await runPendingJobs(engine);
    await expect(engine.cancel(job.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(engine.retry(job.id)).rejects.toMatchObject({ code: 'CONFLICT' });
  });
});

describe('SyncEngine: crash and resume', () => {
  it('resumes a dead worker’s job from its checkpoint: every message stored once, the dead worker’s late writes change nothing', async () => {
    const shared = createMemoryStore();
    const a = killableStore(shared);
    const source = createTestSource({ messages: 100, pageSize: 25, batchSize: 10 });
    const engineA = createSyncEngine({ store: a.store, sources: [source], worker: false, workerId: 'A' });
    const engineB = createSyncEngine({ store: shared, sources: [source], worker: false, workerId: 'B' });
    const eventsA = record(engineA);
    const eventsB = record(engineB);

    // Calls 1–4 list the pages; 5–7 fetch three batches; call 8 freezes, like a process that hangs.
    source.control.hang({ call: 8, ignoreAbort: true });
    const { job } = await engineA.start(account);
    const runA = runPendingJobs(engineA);
    await source.control.whenHanging();
    expect(await shared.data.countMessages(account)).toBe(30);

    // A is gone: its store calls fail, so it cannot heartbeat. B waits out the lease (60 s).
    a.kill();
    await vi.advanceTimersByTimeAsync(61_000);
    expect(await runPendingJobs(engineB)).toBe(1);

    const done = (await engineB.getJob(job.id))!;
    expect(done).toMatchObject({ status: 'completed', attempt: 2 });
    expect(done.counters).toMatchObject({ total: 100, stored: 100, fetched: 100, listed: 100 });
    expect(await allMessageIds(shared)).toEqual(source.control.mailbox(account.accountId));
    const logs = (await shared.getLogs(job.id, { limit: 1000 })).map((l) => l.message);
    expect(logs).toContain('Attempt 2: resuming full sync from checkpoint (30 of 100 done)');
    expect(logs.some((m) => m.includes('lease expired'))).toBe(true);
    expect(eventsB.of('completed')).toHaveLength(1);

    // A wakes up: its frozen fetch finishes and it tries to commit. The store refuses (lease lost);
    // A stops without writing anything or reporting an outcome.
    a.revive();
    source.control.release();
    await runA;
    expect(a.rejections).toContain('commitBatch:LEASE_LOST');
    expect(await shared.getJob(job.id)).toEqual(done);
    expect(await shared.data.countMessages(account)).toBe(100);
    expect(eventsA.all.filter((e) => ['completed', 'failed', 'cancelled'].includes(e.type))).toEqual([]);

    // At most one batch (the one A fetched but never committed) was fetched twice.
    const twice = [...source.control.fetchCounts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.length).toBeLessThanOrEqual(10);
    expect([...source.control.fetchCounts.values()].every((n) => n <= 2)).toBe(true);
  });

  it('marks the job interrupted when auto-resume is off, and the next start resumes from the checkpoint', async () => {
    const shared = createMemoryStore();
    const a = killableStore(shared);
    const source = createTestSource({ messages: 60, pageSize: 30, batchSize: 10 });
    const options = { sources: [source], worker: false, autoResume: false } as const;
    const engineA = createSyncEngine({ ...options, store: a.store });
    const engineB = createSyncEngine({ ...options, store: shared });
    const eventsB = record(engineB);

    source.control.hang({ call: 5, ignoreAbort: true });
    const { job } = await engineA.start(account);
    void runPendingJobs(engineA);
    await source.control.whenHanging();
    a.kill();
    await vi.advanceTimersByTimeAsync(61_000);

    expect(await runPendingJobs(engineB)).toBe(0);
    const interrupted = (await engineB.getJob(job.id))!;
    expect(interrupted).toMatchObject({ status: 'interrupted', error: { code: 'LEASE_EXPIRED' } });
    expect(eventsB.of('interrupted').map((e) => e.jobId)).toEqual([job.id]);

    const next = await engineB.start(account);
    expect(next).toMatchObject({ started: true, job: { trigger: 'resume', mode: 'full' } });
    await runPendingJobs(engineB);
    expect(await engineB.getJob(next.job.id)).toMatchObject({
      status: 'completed',
      counters: expect.objectContaining({ stored: 60, total: 60 }),
    });
    expect(await shared.data.countMessages(account)).toBe(60);
    expect(source.control.fetchCount('msg-000001')).toBe(1);
  });

  it('marks the job interrupted once its attempts are spent', async () => {
    const store = createMemoryStore();
    const { engine, events } = setup({}, { maxAttempts: 1 }, store);
    const { job } = await engine.start(account);
    // A worker that claims the job and dies at once.
    await store.claimJob({ workerId: 'dead', leaseMs: 60_000 });
    await vi.advanceTimersByTimeAsync(60_001);
    await runPendingJobs(engine);
    expect(await engine.getJob(job.id)).toMatchObject({ status: 'interrupted', attempt: 1 });
    expect(events.of('interrupted')).toHaveLength(1);
  });
});

describe('SyncEngine: cancel of a running job', () => {
  it('stops a run of this process at once; stored data and the checkpoint stay', async () => {
    const { store, engine, control, events } = setup({ messages: 100, pageSize: 50, batchSize: 10 });
    control.setDelay(1_000);
    const { job } = await engine.start(account);
    const run = runPendingJobs(engine);
    // 2 listing pages, then 3 batches stored; the 4th batch's fetch is under way.
    await vi.advanceTimersByTimeAsync(5_500);
    expect(await store.data.countMessages(account)).toBe(30);

    const requested = await engine.cancel(job.id);
    expect(requested).toMatchObject({ status: 'running', cancelRequested: true });
    await run;
    const cancelled = (await engine.getJob(job.id))!;
    expect(cancelled.status).toBe('cancelled');
    expect(events.of('cancelled').map((e) => e.jobId)).toEqual([job.id]);
    // The batch in flight was abandoned, not stored.
    expect(await store.data.countMessages(account)).toBe(30);
    const state = await engine.getAccountState(account);
    expect(state?.checkpoint?.counters.stored).toBe(30);
    expect((await engine.getLogs(job.id, { limit: 100 })).map((l) => l.message)).toContain(
      'Sync cancelled: 30 of 100 done. Stored messages and the checkpoint are kept; a new sync continues from there.',
    );

    // A new start continues from the checkpoint.
    const next = await engine.start(account);
    expect(next.job.trigger).toBe('resume');
    control.setDelay(0);
    await runPendingJobs(engine);
    expect(await engine.getJob(next.job.id)).toMatchObject({ status: 'completed' });
    expect(await allMessageIds(store)).toHaveLength(100);
    expect(control.fetchCount('msg-000001')).toBe(1);
  });

  it('stops a run of another process within one batch', async () => {
    const store = createMemoryStore();
    const worker = setup({ messages: 100, pageSize: 100, batchSize: 10 }, {}, store);
    const web = createSyncEngine({ store, sources: [worker.source], worker: false });
    worker.control.setDelay(1_000);
    const { job } = await web.start(account);
    const run = runPendingJobs(worker.engine);
    await vi.advanceTimersByTimeAsync(3_500);
    const storedBefore = await store.data.countMessages(account);

    await web.cancel(job.id);
    await vi.advanceTimersByTimeAsync(1_000);
    await run;
    expect(await store.getJob(job.id)).toMatchObject({ status: 'cancelled' });
    // The worker learned of the cancel from its next commit: at most that one batch was added.
    expect(await store.data.countMessages(account)).toBeLessThanOrEqual(storedBefore + 10);
  });
});

describe('SyncEngine: retries', () => {
  it('retries a rate-limited call after its Retry-After, logs it and shows no ETA while waiting', async () => {
    const { engine, control, events } = setup({ messages: 40, pageSize: 40, batchSize: 10 });
    const { job } = await engine.start(account);
    control.throttle(30_000);
    const run = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(0);
    expect(control.calls).toBe(1);

    const warn = events.of('log').find((e) => e.entry.level === 'warn');
    expect(warn?.entry.message).toBe(
      'messages.list page 1 failed (RATE_LIMITED: Rate limit exceeded (test source).), attempt 1 of 21; retrying in 30 s (Retry-After)',
    );
    expect(warn?.entry.data).toMatchObject({
      code: 'RATE_LIMITED',
      attempt: 1,
      // Rate limits have their own, larger budget (20 retries) than other failures (6).
      attempts: 21,
      delayMs: 30_000,
    });
    expect(events.of('progress').at(-1)?.progress.etaSeconds).toBeNull();

    // The back-off (1–10 s) is shorter than Retry-After: nothing is called before 30 s.
    await vi.advanceTimersByTimeAsync(29_999);
    expect(control.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(control.calls).toBeGreaterThan(1);
    await run;
    expect(await engine.getJob(job.id)).toMatchObject({ status: 'completed' });
  });

  it('fails the job on a permanent error, keeps what was stored, and a retry resumes from the checkpoint', async () => {
    const { store, engine, control, events } = setup({ messages: 50, pageSize: 50, batchSize: 10 });
    // Call 1 lists; calls 2–3 fetch; call 4 is refused for good.
    control.failCall(4, new SyncError('REAUTH_REQUIRED', 'The Gmail access was revoked; sign in again.'));
    const { job } = await engine.start(account);
    await runPendingJobs(engine);

    const failed = (await engine.getJob(job.id))!;
    expect(failed).toMatchObject({
      status: 'failed',
      error: {
        code: 'REAUTH_REQUIRED',
        message: 'The Gmail access was revoked; sign in again.',
        retryable: false,
      },
    });
    expect(events.of('failed').map((e) => e.job.error?.code)).toEqual(['REAUTH_REQUIRED']);
    expect(events.logMessages()).toContain(
      'Sync failed (REAUTH_REQUIRED): The Gmail access was revoked; sign in again.',
    );
    expect(events.logMessages().some((m) => m.includes('retrying'))).toBe(false);
    expect(await store.data.countMessages(account)).toBe(20);

    const retried = await engine.retry(job.id);
    expect(retried).toMatchObject({ started: true, job: { trigger: 'resume', mode: 'full' } });
    await runPendingJobs(engine);
    const done = (await engine.getJob(retried.job.id))!;
    expect(done.status).toBe('completed');
    // The new job's progress continued from the checkpoint: 50 of 50, not 30.
    expect(done.counters).toMatchObject({ total: 50, stored: 50, listed: 50 });
    expect(await store.data.countMessages(account)).toBe(50);
    expect([...control.fetchCounts.values()].every((n) => n === 1)).toBe(true);
    const logs = (await engine.getLogs(retried.job.id)).map((l) => l.message);
    expect(logs[0]).toBe('Sync queued (resume): resuming the full sync from its checkpoint (20 of 50 done)');
    expect(logs[1]).toBe('Attempt 1: resuming full sync from checkpoint (20 of 50 done)');
  });

  it('fails the job once the retries are spent', async () => {
    const { engine, control } = setup(
      { messages: 10 },
      { retry: { retries: 2, minDelayMs: 100, maxDelayMs: 1_000 } },
    );
    control.failNext(new SyncError('NETWORK', 'socket hang up'), 3);
    const { job } = await engine.start(account);
    const run = runPendingJobs(engine);
    await vi.runAllTimersAsync();
    await run;
    expect(await engine.getJob(job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'NETWORK', retryable: true },
    });
    const warnings = (await engine.getLogs(job.id)).filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.data?.attempt)).toEqual([1, 2]);
    expect(control.calls).toBe(3);
  });
});

describe('SyncEngine: store blips', () => {
  it('retries a batch commit the store could not take, without storing anything twice', async () => {
    const store = createMemoryStore();
    let refusals = 2;
    const flaky = new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'commitBatch') return value;
        return (...args: Parameters<SyncStore['commitBatch']>) => {
          if (refusals > 0 && args[1].write) {
            refusals -= 1;
            return Promise.reject(new SyncError('STORE_UNAVAILABLE', 'connection refused'));
          }
          return target.commitBatch(...args);
        };
      },
    });
    const { engine, control } = setup({ messages: 30 }, {}, flaky);
    const { job } = await engine.start(account);
    const run = runPendingJobs(engine);
    await vi.runAllTimersAsync();
    await run;
    expect(refusals).toBe(0);
    expect(await store.getJob(job.id)).toMatchObject({
      status: 'completed',
      counters: expect.objectContaining({ stored: 30 }),
    });
    expect(await store.data.countMessages(account)).toBe(30);
    expect([...control.fetchCounts.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('SyncEngine.stop', () => {
  it('releases the lease so another engine resumes at once, and leaves no timers behind', async () => {
    const store = createMemoryStore();
    const first = setup({ messages: 60, pageSize: 60, batchSize: 10 }, {}, store);
    first.control.setDelay(1_000);
    const { job } = await first.engine.start(account);
    const run = runPendingJobs(first.engine);
    await vi.advanceTimersByTimeAsync(3_500);

    await first.engine.stop();
    await run;
    const released = (await store.getJob(job.id))!;
    expect(released).toMatchObject({ status: 'queued', leaseExpiresAt: null });
    expect(first.events.logMessages()).toContain(
      'The worker is shutting down: the job is released and resumes from its checkpoint.',
    );
    expect(vi.getTimerCount()).toBe(0);

    // No lease to wait for: another engine claims it now and continues from the checkpoint.
    const second = createSyncEngine({ store, sources: [first.source], worker: false });
    first.control.setDelay(0);
    expect(await runPendingJobs(second)).toBe(1);
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', attempt: 2 });
    expect(await store.data.countMessages(account)).toBe(60);
    expect([...first.control.fetchCounts.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('SyncEngine.stop with trouble', () => {
  it('releases at once even when the source hangs and ignores the abort', async () => {
    const { store, engine, control } = setup({ messages: 30, pageSize: 30 });
    control.hang({ call: 2, ignoreAbort: true });
    const { job } = await engine.start(account);
    const run = runPendingJobs(engine);
    await control.whenHanging();
    await engine.stop({ timeoutMs: 5_000 });
    await run;
    expect(await store.getJob(job.id)).toMatchObject({ status: 'queued' });
    control.release();
  });

  it('resolves at the timeout when a run cannot drain (the store hangs)', async () => {
    const store = createMemoryStore();
    const hanging = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'releaseJob') return () => new Promise(() => {});
        return Reflect.get(target, property, receiver);
      },
    });
    const { engine, control } = setup({ messages: 30, pageSize: 30 }, {}, hanging);
    control.setDelay(1_000);
    await engine.start(account);
    void runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(1_500);
    let resolved = false;
    const stopped = engine.stop({ timeoutMs: 5_000 }).then(() => {
      resolved = true;
    });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(resolved).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopped;
    expect(resolved).toBe(true);
  });
});

describe('SyncEngine: resume during listing', () => {
  it('continues listing from the next page after a crash, not from the first', async () => {
    const shared = createMemoryStore();
    const a = killableStore(shared);
    const source = createTestSource({ messages: 100, pageSize: 25 });
    const engineA = createSyncEngine({ store: a.store, sources: [source], worker: false });
    const engineB = createSyncEngine({ store: shared, sources: [source], worker: false });
    source.control.hang({ call: 3, ignoreAbort: true });
    const { job } = await engineA.start(account);
    void runPendingJobs(engineA);
    await source.control.whenHanging();
    expect(await shared.countStaged(account)).toBe(50);
    a.kill();
    await vi.advanceTimersByTimeAsync(61_000);
    await runPendingJobs(engineB);

    const logs = (await shared.getLogs(job.id, { limit: 1000 })).map((l) => l.message);
    const resumedAt = logs.indexOf(
      'Attempt 2: resuming full sync from checkpoint (0 of 100 done, 50 listed)',
    );
    expect(resumedAt).toBeGreaterThan(0);
    expect(logs.slice(resumedAt).filter((m) => m.startsWith('Listed page'))).toEqual([
      'Listed page 3 of 4 (25 ids)',
      'Listed page 4 of 4 (25 ids)',
    ]);
    expect(await shared.getJob(job.id)).toMatchObject({
      status: 'completed',
      counters: expect.objectContaining({ listed: 100, stored: 100 }),
    });
    expect(await shared.data.countMessages(account)).toBe(100);
  });
});

describe('SyncEngine: the worker loop', () => {
  it('runs a started job in the background and polls for work until stopped', async () => {
    const store = createMemoryStore();
    // A store that tells this engine nothing (like one without cross-process notices): only the poll finds work.
    const quiet = new Proxy(store, {
      get: (target, property, receiver) =>
        property === 'subscribe' ? () => () => {} : Reflect.get(target, property, receiver),
    });
    const source = createTestSource({ messages: 30 });
    const engine = createSyncEngine({ store: quiet, sources: [source], pollIntervalMs: 500 });
    const events = record(engine);
    const { job } = await engine.start(account);
    await vi.advanceTimersByTimeAsync(0);
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed' });
    expect(events.of('completed')).toHaveLength(1);

    // A job queued by another process (no wake-up here) is found by the next poll.
    const other = createSyncEngine({ store, sources: [source], worker: false });
    const { job: second } = await other.start({ ...account, accountId: 'bob@example.test' });
    await vi.advanceTimersByTimeAsync(100);
    expect(await store.getJob(second.id)).toMatchObject({ status: 'queued' });
    await vi.advanceTimersByTimeAsync(400);
    expect(await store.getJob(second.id)).toMatchObject({ status: 'completed' });

    await engine.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('wakes an idle worker on a store notice of a queued job, long before its poll', async () => {
    const store = createMemoryStore();
    const source = createTestSource({ messages: 30 });
    let subscribers = 0;
    let claims = 0;
    const counted = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'subscribe') {
          return (listener: Parameters<SyncStore['subscribe']>[0]) => {
            subscribers += 1;
            const unsubscribe = store.subscribe(listener);
            return () => {
              subscribers -= 1;
              unsubscribe();
            };
          };
        }
        if (property === 'claimJob') {
          return (input: Parameters<SyncStore['claimJob']>[0]) => {
            claims += 1;
            return store.claimJob(input);
          };
        }
        return Reflect.get(target, property, receiver);
      },
    });
    const worker = createSyncEngine({ store: counted, sources: [source], pollIntervalMs: 60_000 });
    const control = createSyncEngine({ store, sources: [source], worker: false });
    await vi.advanceTimersByTimeAsync(0);
    expect(subscribers).toBe(1);
    const idleClaims = claims;

    const { job } = await control.start(account);
    await vi.advanceTimersByTimeAsync(0);
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed', attempt: 1 });

    // A burst of starts from the other engine: every job runs, with a few claim passes, not one per notice each.
    const before = claims;
    const burst = await Promise.all(
      ['b', 'c', 'd', 'e', 'f'].map((accountId) => control.start({ source: 'test', accountId })),
    );
    await vi.advanceTimersByTimeAsync(0);
    for (const { job: queued } of burst) {
      expect(await store.getJob(queued.id)).toMatchObject({ status: 'completed' });
    }
    expect(claims - before).toBeLessThan(20);
    expect(claims).toBeGreaterThan(idleClaims);

    // Stopped, it no longer listens: a new job waits in the queue.
    await worker.stop();
    expect(subscribers).toBe(0);
    const { job: later } = await control.start({ source: 'test', accountId: 'z' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(await store.getJob(later.id)).toMatchObject({ status: 'queued' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs at most `concurrency` jobs at once', async () => {
    const store = createMemoryStore();
    const source = createTestSource({ messages: 20, batchSize: 10 });
    source.control.setDelay(1_000);
    const engine = createSyncEngine({ store, sources: [source], concurrency: 2 });
    for (const accountId of ['a', 'b', 'c']) await engine.start({ source: 'test', accountId });
    await vi.advanceTimersByTimeAsync(100);
    expect(await store.listJobs({ statuses: ['running'] })).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await store.listJobs({ statuses: ['completed'] })).toHaveLength(3);
    await engine.stop();
  });
});

describe('SyncEngine: progress', () => {
  it('turns 10,000 items/s into a few progress events per second, and always delivers the final one', async () => {
    const { engine, control, events } = setup(
      { messages: 10_000, pageSize: 10_000, batchSize: 100 },
      { progress: { emitIntervalMs: 250 } },
    );
    control.setDelay(10);
    const { job } = await engine.start(account);
    const run = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(1_100);
    await run;

    const progress = events.of('progress');
    const start = progress[0]!.at;
    const perSecond = new Map<number, number>();
    for (const event of progress) {
      const second = Math.floor((event.at - start) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    // 4 throttled emits a second, plus the forced ones at the phase changes (listing, fetching, finalizing).
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(4 + 3);
    expect(progress.length).toBeLessThan(15);
    const last = progress.at(-1)!;
    expect(last.progress.counters.stored).toBe(10_000);
    const lastProgressIndex = events.all.lastIndexOf(last);
    expect(events.all.findIndex((e) => e.type === 'completed')).toBeGreaterThan(lastProgressIndex);
    expect(await engine.getJob(job.id)).toMatchObject({ status: 'completed' });
  });

  it('shows an ETA once there is signal, counts it down between batches, and writes it about once a second', async () => {
    const store = createMemoryStore();
    const updateProgress = vi.spyOn(store, 'updateProgress');
    const { engine, control, events } = setup({ messages: 100, pageSize: 100, batchSize: 10 }, {}, store);
    const { job } = await engine.start(account);
    // Every call takes 4 s: one listing page, then batches of 10 (2.5 messages/s).
    control.setDelay(4_000);
    const run = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(8_000);
    expect((await store.getJob(job.id))?.counters.stored).toBe(10);
    expect((await store.getJob(job.id))?.etaSeconds).toBeNull();
    await vi.advanceTimersByTimeAsync(8_000);
    // 3 batches in the 12 s since fetching began: enough signal. 70 left at 2.5/s = 28 s.
    const atBatch = (await store.getJob(job.id))!;
    expect(atBatch.counters.stored).toBe(30);
    expect(atBatch.etaSeconds).toBe(28);
    expect(atBatch.ratePerSec).toBe(2.5);

    updateProgress.mockClear();
    await vi.advanceTimersByTimeAsync(3_000);
    // No batch yet; the ETA counted down in the store, about once a second.
    expect((await store.getJob(job.id))?.etaSeconds).toBe(25);
    expect(updateProgress.mock.calls.length).toBeGreaterThanOrEqual(2);
    expect(updateProgress.mock.calls.length).toBeLessThanOrEqual(3);
    expect(events.of('progress').at(-1)?.progress.etaSeconds).toBe(25);

    await vi.runAllTimersAsync();
    await run;
    const etas = events.of('progress').map((e) => e.progress.etaSeconds);
    expect(etas.every((eta) => eta === null || (Number.isInteger(eta) && eta >= 1))).toBe(true);
  });
});
