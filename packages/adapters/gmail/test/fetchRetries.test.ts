import type { BatchCommit } from '@syncjob/core';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  mailboxState,
  storedState,
  syncOnce,
} from './helpers';

const MESSAGES = 1_000;
const running = emulatorForFile({ users: [{ address: ADDRESS, messages: MESSAGES, seed: 8 }], speed: 200 });
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
