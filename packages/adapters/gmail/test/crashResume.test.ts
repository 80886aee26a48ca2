import { describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  freezableStore,
  mailboxState,
  storedState,
  waitForEnd,
} from './helpers';

const running = emulatorForFile({ users: [{ address: ADDRESS, messages: 3_000, seed: 21 }], speed: 200 });

describe('crash and resume', () => {
  it('a new worker resumes from the checkpoint after the lease expires; at most one batch is fetched twice', async () => {
    const store = createMemoryStore();
    let fetchCommits = 0;
    const dying = freezableStore(store, (commit) => {
      if (commit.write?.upsertMessages?.length) fetchCommits += 1;
      return fetchCommits === 12;
    });
    const batchSize = 100;
    const lease = { leaseMs: 400, heartbeatMs: 100 };
    const first = createEngine(dying.store, emulatorSource(running, { batchSize }), lease);
    const started = await first.start({ source: 'gmail', accountId: ADDRESS });
    while (!dying.frozen) await new Promise((resolve) => setTimeout(resolve, 20));

    const before = await store.getJob(started.job.id);
    expect(before?.status).toBe('running');
    expect(before?.counters.stored).toBeGreaterThan(0);
    expect(before?.counters.stored).toBeLessThan(3_000);

    const second = createEngine(store, emulatorSource(running, { batchSize }), lease);
    const job = await waitForEnd(second, started.job.id);
    await second.stop();
    dying.thaw();
    await first.stop({ timeoutMs: 100 });

    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(job.attempt).toBe(2);
    expect(job.counters).toMatchObject({ total: 3_000, listed: 3_000, stored: 3_000, fetched: 3_000 });
    expect(await storedState(store)).toEqual(mailboxState(running));

    const fetches = running.emulator.stats().byUser[ADDRESS]!.fetches;
    expect(fetches.distinctMessages).toBe(3_000);
    expect(fetches.refetchedMessages).toBeGreaterThan(0);
    // One batch is about `batchSize` messages (a batch never splits a thread, so it may run a little over).
    expect(fetches.refetchedMessages).toBeLessThanOrEqual(batchSize + 20);
    expect(fetches.maxFetchesPerMessage).toBe(2);

    const logs = await store.getLogs(job.id, { limit: 5_000 });
    expect(logs.some((line) => /resum/i.test(line.message))).toBe(true);
  });

  it('a crash while listing resumes listing from the saved page token', async () => {
    running.emulator.resetStats();
    const store = createMemoryStore();
    let listCommits = 0;
    const dying = freezableStore(store, (commit) => {
      if (commit.stage?.add?.length) listCommits += 1;
      return listCommits === 3;
    });
    const lease = { leaseMs: 400, heartbeatMs: 100 };
    const first = createEngine(dying.store, emulatorSource(running), lease);
    const started = await first.start({ source: 'gmail', accountId: ADDRESS });
    while (!dying.frozen) await new Promise((resolve) => setTimeout(resolve, 20));

    const second = createEngine(store, emulatorSource(running), lease);
    const job = await waitForEnd(second, started.job.id);
    await second.stop();
    dying.thaw();
    await first.stop({ timeoutMs: 100 });

    expect(job.status).toBe('completed');
    expect(job.counters).toMatchObject({ listed: 3_000, stored: 3_000 });
    expect(await storedState(store)).toEqual(mailboxState(running));
    // 6 pages of 500: pages 1–2 were saved, page 3 was listed twice, nothing else.
    expect(running.emulator.stats().byMethod['users.messages.list']?.requests).toBe(7);
    expect(running.emulator.stats().byUser[ADDRESS]!.fetches.refetchedMessages).toBe(0);
  });

  it('a crash while listing and fetching interleave resumes both: nothing lost, nothing stored twice, one batch refetched', async () => {
    running.emulator.resetStats();
    const store = createMemoryStore();
    // Pages of 100 keep the listing going long after the first batches are stored.
    const options = { batchSize: 100, pageSize: 100 };
    let fetchCommits = 0;
    let saved: unknown;
    const dying = freezableStore(store, (commit) => {
      if (commit.write?.upsertMessages?.length) fetchCommits += 1;
      if (fetchCommits === 6) return true;
      if (commit.checkpoint) saved = commit.checkpoint.data;
      return false;
    });
    // A longer lease than above: a second lease loss on a loaded machine would be a second crash.
    const lease = { leaseMs: 1_500, heartbeatMs: 250 };
    const first = createEngine(dying.store, emulatorSource(running, options), lease);
    const started = await first.start({ source: 'gmail', accountId: ADDRESS });
    while (!dying.frozen) await new Promise((resolve) => setTimeout(resolve, 20));

    // The crash hit mid-listing, after 5 batches were stored.
    expect(saved).toMatchObject({ stage: 'listing', batch: 5 });
    const before = await store.getJob(started.job.id);
    // Five batches of about 100 (a batch never splits a thread, so it may run a little over).
    expect(before?.counters.stored).toBeGreaterThanOrEqual(500);
    expect(before?.counters.listed).toBeLessThan(3_000);

    const second = createEngine(store, emulatorSource(running, options), lease);
    const job = await waitForEnd(second, started.job.id, 90_000);
    await second.stop();
    dying.thaw();
    await first.stop({ timeoutMs: 100 });

    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(job.attempt).toBe(2);
    // Counted once each: the batch in flight at the crash was never committed.
    expect(job.counters).toMatchObject({ total: 3_000, listed: 3_000, stored: 3_000, fetched: 3_000 });
    expect(await storedState(store)).toEqual(mailboxState(running));

    const stats = running.emulator.stats();
    const fetches = stats.byUser[ADDRESS]!.fetches;
    expect(fetches.distinctMessages).toBe(3_000);
    expect(fetches.refetchedMessages).toBeGreaterThan(0);
    expect(fetches.refetchedMessages).toBeLessThanOrEqual(options.batchSize + 20);
    expect(fetches.maxFetchesPerMessage).toBe(2);
    // 30 pages; at most the one in flight at the crash is listed twice.
    expect(stats.byMethod['users.messages.list']?.requests).toBeLessThanOrEqual(31);
  }, 120_000);
});
