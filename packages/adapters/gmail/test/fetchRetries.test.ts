import type { BatchCommit } from '@syncjob/core';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  freezableStore,
  mailboxState,
  storedState,
  syncOnce,
  waitForEnd,
} from './helpers';

const MESSAGES = 1_000;
/** A mailbox large enough that a full sync fetches its newest mail while the listing goes on. */
const LARGE = 'large@example.com';
const LARGE_MESSAGES = 4_000;
const running = emulatorForFile({
  users: [
    { address: ADDRESS, messages: MESSAGES, seed: 8 },
    { address: LARGE, messages: LARGE_MESSAGES, seed: 9 },
  ],
  speed: 200,
});
beforeEach(() => {
  running.emulator.clearFaults();
  running.emulator.resetStats();
});

/** A memory store that records every batch commit the engine makes. */
function recordingStore() {
  const store = createMemoryStore();
  const commits: BatchCommit[] = [];
  const commitBatch = store.commitBatch.bind(store);
  store.commitBatch = (lease, commit) => {
    commits.push(commit);
    return commitBatch(lease, commit);
  };
  return { store, commits };
}

describe.each(['batch', 'single'] as const)('failed fetch calls with the %s transport', (transport) => {
  it('are sent again in a later batch while the failing batch commits the rest; each message is stored once', async () => {
    running.emulator.addFault({
      methods: ['users.messages.get', 'users.threads.get'],
      errorRate: 0.05,
      errorStatus: 503,
    });
    const { store, commits } = recordingStore();
    const engine = createEngine(store, emulatorSource(running, { transport, batchSize: 100 }));
    const job = await syncOnce(engine);
    await engine.stop();

    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(job.counters).toMatchObject({ listed: MESSAGES, fetched: MESSAGES, stored: MESSAGES, failed: 0 });
    expect(await storedState(store)).toEqual(mailboxState(running));
    const stats = running.emulator.stats();
    expect(stats.totals.serverErrors).toBeGreaterThan(0);
    // Every message was answered once: a failed call is sent again, never a call that succeeded.
    expect(stats.byUser[ADDRESS]!.fetches).toMatchObject({
      distinctMessages: MESSAGES,
      maxFetchesPerMessage: 1,
    });

    // Each id leaves the stage once, in the commit that stores its message.
    const fetchCommits = commits.filter((commit) => commit.write?.upsertMessages);
    const unstaged = fetchCommits.flatMap((commit) => commit.stage?.remove ?? []);
    expect(unstaged).toHaveLength(MESSAGES);
    expect(new Set(unstaged).size).toBe(MESSAGES);
    for (const commit of fetchCommits) {
      const removed = new Set(commit.stage?.remove);
      for (const message of commit.write!.upsertMessages!) expect(removed.has(message.id)).toBe(true);
    }

    // The batch with failed calls did not wait for them: their messages came with a later commit.
    const lines = fetchCommits.flatMap((commit) => commit.logs ?? []);
    expect(lines.some((line) => (line.data?.callsToRetry as number) > 0)).toBe(true);
    expect(lines.some((line) => (line.data?.retriedCalls as number) > 0)).toBe(true);
    const logs = await store.getLogs(job.id, { limit: 5_000 });
    expect(
      logs.some(
        (line) => line.level === 'warn' && /calls of fetch batch \d+ failed \(NETWORK/.test(line.message),
      ),
    ).toBe(true);
  });
});

it('a call that keeps failing fails the job once the retry budget is spent; what was fetched stays stored and a new run completes', async () => {
  // Every single-message get fails; whole threads still come.
  running.emulator.addFault({ methods: ['users.messages.get'], errorRate: 1, errorStatus: 500 });
  const store = createMemoryStore();
  const engine = createEngine(store, emulatorSource(running, { batchSize: 100 }), {
    retry: { retries: 3, minDelayMs: 10, maxDelayMs: 50 },
  });
  const failed = await syncOnce(engine);

  expect(failed.status).toBe('failed');
  expect(failed.error).toMatchObject({ code: 'NETWORK' });
  expect(failed.error?.message).toMatch(/calls failed \(Gmail answered 500/);
  const getCalls = running.emulator.stats().byMethod['users.messages.get']!;
  expect(getCalls.serverErrors).toBeGreaterThan(0);
  expect(getCalls.requests).toBe(getCalls.serverErrors);
  // The budget: the first attempt and 3 retries, each retry logged, none past it.
  const logs = await store.getLogs(failed.id, { limit: 5_000 });
  const retries = logs.filter((line) => /calls of fetch batch \d+ failed/.test(line.message));
  expect(retries.some((line) => line.data?.attempt === 3 && line.data?.attempts === 4)).toBe(true);
  expect(retries.every((line) => (line.data?.attempt as number) <= 3)).toBe(true);
  // The whole-thread fetches that succeeded before the job failed are kept.
  const kept = await storedState(store);
  expect(kept.length).toBe(failed.counters.stored);
  const mailbox = new Map(mailboxState(running).map((message) => [message.id, message]));
  for (const message of kept) expect(message).toEqual(mailbox.get(message.id));

  // Gmail recovers: the next sync stores the whole mailbox, each message once.
  running.emulator.clearFaults();
  const retried = await syncOnce(engine);
  await engine.stop();
  expect(retried.status).toBe('completed');
  expect(await storedState(store)).toEqual(mailboxState(running));
});

describe('failed fetch calls while the listing goes on (newest first)', () => {
  const sometimes503 = () =>
    running.emulator.addFault({
      methods: ['users.messages.get', 'users.threads.get'],
      errorRate: 0.05,
      errorStatus: 503,
    });
  const checkpointStage = (commit: BatchCommit) =>
    (commit.checkpoint?.data as { stage?: string } | undefined)?.stage;

  it('are sent again while later batches are listed and fetched; each message is stored once', async () => {
    sometimes503();
    const { store, commits } = recordingStore();
    const engine = createEngine(store, emulatorSource(running, { batchSize: 100, pageSize: 100 }));
    const job = await syncOnce(engine, LARGE);
    await engine.stop();

    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(job.counters).toMatchObject({
      listed: LARGE_MESSAGES,
      fetched: LARGE_MESSAGES,
      stored: LARGE_MESSAGES,
      failed: 0,
    });
    expect(await storedState(store, LARGE)).toEqual(mailboxState(running, LARGE));
    expect(running.emulator.stats().byUser[LARGE]!.fetches).toMatchObject({
      distinctMessages: LARGE_MESSAGES,
      maxFetchesPerMessage: 1,
    });

    const fetchCommits = commits.filter((commit) => commit.write?.upsertMessages);
    const unstaged = fetchCommits.flatMap((commit) => commit.stage?.remove ?? []);
    expect(unstaged).toHaveLength(LARGE_MESSAGES);
    expect(new Set(unstaged).size).toBe(LARGE_MESSAGES);
    for (const commit of fetchCommits) {
      const removed = new Set(commit.stage?.remove);
      for (const message of commit.write!.upsertMessages!) expect(removed.has(message.id)).toBe(true);
    }

    // Failed calls did not hold up the listing: batches that left calls to retry, and batches that
    // brought retried calls in, were committed while pages were still being listed.
    const dataOf = (commit: BatchCommit) => commit.logs?.[0]?.data ?? {};
    const duringListing = fetchCommits.filter((commit) => checkpointStage(commit) === 'listing');
    expect(duringListing.some((commit) => (dataOf(commit).callsToRetry as number) > 0)).toBe(true);
    expect(duringListing.some((commit) => (dataOf(commit).retriedCalls as number) > 0)).toBe(true);
    const firstToRetry = commits.findIndex((commit) => (dataOf(commit).callsToRetry as number) > 0);
    const lastList = commits.findLastIndex((commit) => commit.stage?.add?.length);
    expect(lastList).toBeGreaterThan(firstToRetry);
    // The prune comes after the last stored message: nothing was waiting for a retry by then.
    const finalizing = commits.findIndex((commit) => commit.progress?.phase === 'finalizing');
    expect(finalizing).toBeGreaterThan(
      commits.findLastIndex((commit) => commit.write?.upsertMessages?.length),
    );
  });

  it('a crash while calls wait for their retry leaves their ids staged; the resume fetches them', async () => {
    sometimes503();
    const store = createMemoryStore();
    let waiting = false;
    // The worker dies at the commit after a batch left calls to retry during the listing, so
    // whatever those calls bring is never committed.
    const dying = freezableStore(store, (commit) => {
      if (waiting) return true;
      waiting = checkpointStage(commit) === 'listing' && (commit.logs?.[0]?.data?.callsToRetry as number) > 0;
      return false;
    });
    const options = { batchSize: 100, pageSize: 100 };
    const lease = { leaseMs: 400, heartbeatMs: 100 };
    const first = createEngine(dying.store, emulatorSource(running, options), lease);
    const started = await first.start({ source: 'gmail', accountId: LARGE });
    while (!dying.frozen) await new Promise((resolve) => setTimeout(resolve, 20));
    const before = await store.getJob(started.job.id);
    expect(before?.counters.stored).toBeGreaterThan(0);
    expect(before?.counters.stored).toBeLessThan(LARGE_MESSAGES);

    const second = createEngine(store, emulatorSource(running, options), lease);
    const job = await waitForEnd(second, started.job.id);
    await second.stop();
    dying.thaw();
    await first.stop({ timeoutMs: 100 });

    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(job.attempt).toBe(2);
    expect(job.counters).toMatchObject({ listed: LARGE_MESSAGES, stored: LARGE_MESSAGES });
    expect(await storedState(store, LARGE)).toEqual(mailboxState(running, LARGE));
  });
});
