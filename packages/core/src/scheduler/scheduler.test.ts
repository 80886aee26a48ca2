import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSyncEngine } from '../engine/syncEngine';
import { SyncError } from '../errors';
import type { CycleEvent } from '../events/syncEvents';
import type { Job } from '../job/job';
import { isActiveStatus } from '../job/job';
import { cancelTransition } from '../job/jobLifecycle';
import type { SourceContext, SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import type { SyncStore } from '../store/syncStore';
import { createTestSource } from '../testing/testSource';

const key = (accountId: string) => ({ source: 'test', accountId });
const HOUR = 3_600_000;

/** The test source, except that the accounts in `failing` fail with the code given. */
function sourceFailingFor(failing: Map<string, SyncError>): SyncSource {
  const inner = createTestSource({ messages: 20, batchSize: 10 });
  inner.control.setDelay(1_000);
  return {
    id: 'test',
    async *run(ctx: SourceContext) {
      const error = failing.get(ctx.account.accountId);
      if (error) throw error;
      yield* inner.run(ctx as SourceContext<never>);
    },
  };
}

function setup(options: { failing?: Map<string, SyncError>; store?: SyncStore } = {}) {
  const store = options.store ?? createMemoryStore();
  const engine = createSyncEngine({
    store,
    sources: [sourceFailingFor(options.failing ?? new Map())],
    concurrency: 10,
    pollIntervalMs: 100,
    retry: { retries: 0 },
  });
  const cycles: CycleEvent[] = [];
  engine.on('cycle', (event) => cycles.push(event));
  /** Scheduled jobs queued or running right now, and the most ever seen at once. */
  const activeScheduled = new Set<string>();
  let maxActiveScheduled = 0;
  engine.on('status', ({ job }) => {
    if (job.trigger !== 'schedule') return;
    if (isActiveStatus(job.status)) activeScheduled.add(job.id);
    else activeScheduled.delete(job.id);
    maxActiveScheduled = Math.max(maxActiveScheduled, activeScheduled.size);
  });
  return { store, engine, cycles, maxActive: () => maxActiveScheduled };
}

/** Syncs the accounts once (manual starts) and waits for them to end. */
async function syncNow(engine: ReturnType<typeof createSyncEngine>, accountIds: string[]): Promise<Job[]> {
  const ids: string[] = [];
  for (const accountId of accountIds) ids.push((await engine.start(key(accountId))).job.id);
  await vi.advanceTimersByTimeAsync(30_000);
  return Promise.all(ids.map(async (id) => (await engine.getJob(id))!));
}

/** Accounts the store knows but that never synced: a first job created and cancelled before it ran. */
async function knownAccounts(store: SyncStore, accountIds: string[]): Promise<void> {
  for (const accountId of accountIds) {
    const { job } = await store.createJob({ ...key(accountId), mode: 'full', trigger: 'manual' });
    await store.updateJob(job.id, cancelTransition);
  }
}

const startedIds = (event: CycleEvent | undefined) => event?.started.map((k) => k.accountId) ?? [];

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('engine.schedule', () => {
  it('starts incremental syncs only for accounts not synced within staleAfter, every interval', async () => {
    const { engine, store, cycles } = setup();
    await syncNow(engine, ['a', 'b', 'c']);
    await vi.advanceTimersByTimeAsync(2 * HOUR);
    await syncNow(engine, ['b']);

    const schedule = engine.schedule({ every: '5m', staleAfter: '1h', concurrency: 10 });
    await vi.advanceTimersByTimeAsync(0);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toMatchObject({ reason: 'interval', accounts: 3, stale: 2, error: null });
    expect(startedIds(cycles[0])).toEqual(['a', 'c']);
    const scheduled = await store.listJobs({ accountId: 'a', limit: 1 });
    expect(scheduled[0]).toMatchObject({ trigger: 'schedule', mode: 'incremental' });

    // The jobs complete (each frees its slot: a cycle that finds nothing due), then nothing is due
    // until `staleAfter` passes again.
    await vi.advanceTimersByTimeAsync(30_000);
    const afterRun = cycles.length;
    expect(cycles.slice(1).every((c) => c.started.length === 0)).toBe(true);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(cycles.length).toBe(afterRun + 1);
    expect(cycles.at(-1)).toMatchObject({ reason: 'interval', stale: 0, started: [] });
    expect(schedule.cycles).toBe(cycles.length);

    // An hour later every account is due again.
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(
      cycles
        .flatMap((c) => startedIds(c))
        .slice(2)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    await engine.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a full sync for an account without a cursor', async () => {
    const store = createMemoryStore();
    await knownAccounts(store, ['new']);
    const { engine, cycles } = setup({ store });
    engine.schedule({ every: '5m', staleAfter: '1h' });
    await vi.advanceTimersByTimeAsync(0);
    expect(startedIds(cycles[0])).toEqual(['new']);
    expect((await store.listJobs({ accountId: 'new', limit: 1 }))[0]).toMatchObject({
      mode: 'full',
      trigger: 'schedule',
    });
    await engine.stop();
  });

  it('keeps at most `concurrency` scheduled jobs active, and fills a freed slot at once', async () => {
    const store = createMemoryStore();
    const accounts = ['a', 'b', 'c', 'd', 'e'];
    await knownAccounts(store, accounts);
    const { engine, cycles, maxActive } = setup({ store });

    engine.schedule({ every: '1h', staleAfter: '1h', concurrency: 2 });
    await vi.advanceTimersByTimeAsync(0);
    expect(cycles[0]).toMatchObject({ stale: 5, skipped: { noSlot: 3, active: 0, reauthRequired: 0 } });
    expect(startedIds(cycles[0])).toEqual(['a', 'b']);

    // Well before the next interval, the freed slots have drained the backlog two at a time.
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(maxActive()).toBe(2);
    for (const accountId of accounts) {
      expect((await store.getAccountState(key(accountId)))?.lastSyncedAt, accountId).not.toBeNull();
    }
    expect(cycles.some((c) => c.reason === 'slotFreed' && c.started.length > 0)).toBe(true);

    // A manual sync does not take a scheduled slot, and an account already running is not started twice.
    await vi.advanceTimersByTimeAsync(2 * HOUR - 10 * 60_000 - 1_000);
    await engine.start(key('a'));
    await vi.advanceTimersByTimeAsync(1_000);
    const cycle = cycles.at(-1)!;
    expect(cycle).toMatchObject({ reason: 'interval', stale: 5, skipped: { active: 1, noSlot: 2 } });
    expect(startedIds(cycle)).toEqual(['b', 'c']);
    await engine.stop();
  });

  it('does not let a failing account starve the others', async () => {
    const failing = new Map([['a', new SyncError('PROVIDER_ERROR', 'The provider broke.')]]);
    const store = createMemoryStore();
    await knownAccounts(store, ['a', 'b', 'c']);
    // Known for a while: every later attempt is newer than these first jobs.
    await vi.advanceTimersByTimeAsync(60_000);
    const { engine, cycles } = setup({ failing, store });

    engine.schedule({ every: '5m', staleAfter: '1h', concurrency: 1 });
    await vi.advanceTimersByTimeAsync(0);
    // All three are equally due; `a` goes first and fails.
    expect(startedIds(cycles[0])).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await store.listJobs({ accountId: 'a', limit: 1 }))[0]).toMatchObject({ status: 'failed' });

    // `a` was attempted last, so the next cycles serve `b` and `c` before trying `a` again.
    await vi.advanceTimersByTimeAsync(5 * 60_000 + 30_000);
    expect(cycles.flatMap((c) => startedIds(c))).toEqual(['a', 'b', 'c', 'a']);
    expect((await store.getAccountState(key('b')))?.lastSyncedAt).not.toBeNull();
    expect((await store.getAccountState(key('c')))?.lastSyncedAt).not.toBeNull();

    // And it keeps being tried, once per interval, without starving anyone.
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(cycles.flatMap((c) => startedIds(c))).toEqual(['a', 'b', 'c', 'a', 'a', 'a']);
    await engine.stop();
  });

  it('skips an account whose last job needs re-authorisation until a newer job is started', async () => {
    const failing = new Map([['a', new SyncError('REAUTH_REQUIRED', 'The user revoked access.')]]);
    const { engine, store, cycles } = setup({ failing });
    const [failed] = await syncNow(engine, ['a', 'b']);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'REAUTH_REQUIRED' } });
    await vi.advanceTimersByTimeAsync(2 * HOUR);

    engine.schedule({ every: '5m', staleAfter: '1h', concurrency: 5 });
    await vi.advanceTimersByTimeAsync(0);
    expect(cycles[0]).toMatchObject({ stale: 2, skipped: { reauthRequired: 1 } });
    expect(startedIds(cycles[0])).toEqual(['b']);
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(cycles.flatMap((c) => startedIds(c))).toEqual(['b']);

    // The user signed in again: the app says so; that sync runs now and the account is scheduled again.
    failing.clear();
    const { job } = await engine.markReauthorized(key('a'));
    expect(job).toMatchObject({ trigger: 'manual', status: 'queued' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed' });
    await vi.advanceTimersByTimeAsync(HOUR + 5 * 60_000);
    expect(cycles.flatMap((c) => startedIds(c))).toContain('a');
    await engine.stop();
  });

  it('reports a cycle that could not read the store, and carries on at the next interval', async () => {
    const store = createMemoryStore();
    let broken = true;
    const flaky = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'listAccountStates' && broken) {
          return () => Promise.reject(new SyncError('STORE_UNAVAILABLE', 'The database is down.'));
        }
        return Reflect.get(target, property, receiver);
      },
    });
    await knownAccounts(store, ['a']);
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const engine = createSyncEngine({ store: flaky, sources: [createTestSource()], logger });
    const cycles: CycleEvent[] = [];
    engine.on('cycle', (event) => cycles.push(event));
    const schedule = engine.schedule({ every: '1m' });
    await vi.advanceTimersByTimeAsync(0);
    expect(cycles[0]?.error).toEqual({ code: 'STORE_UNAVAILABLE', message: 'The database is down.' });
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringMatching(/the cycle failed: The database is down/),
      {
        code: 'STORE_UNAVAILABLE',
      },
    );
    broken = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(startedIds(cycles[1])).toEqual(['a']);
    expect(logger.info).toHaveBeenCalledWith(
      expect.stringMatching(/^Sync cycle \(interval\): 1 of 1 accounts due, started test\/a/),
    );
    schedule.stop();
    const count = cycles.length;
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect(cycles.length).toBe(count);
    await engine.stop();
  });

  it('refuses bad options', () => {
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [createTestSource()],
      worker: false,
    });
    expect(() => engine.schedule({ every: 'often' })).toThrow(/every must be/);
    expect(() => engine.schedule({ every: '5m', staleAfter: '1 hour' })).toThrow(/staleAfter must be/);
    expect(() => engine.schedule({ every: 0 })).toThrow(/at least 1 ms/);
    expect(() => engine.schedule({ every: '5m', sources: ['gmail'] })).toThrow(/not registered/);
  });
});
