import type { BatchCommit, SyncStore } from '@syncjob/core';
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
  syncOnce,
  waitForEnd,
} from './helpers';

const running = emulatorForFile({ users: [{ address: ADDRESS, messages: 1_500, seed: 33 }], speed: 200 });

/** Deletes `deletes` live messages and adds `adds` new ones; returns the deleted ids. */
function churn(deletes: number, adds: number, seed: number): string[] {
  const live = mailboxState(running);
  const deleted = new Set<string>();
  for (let i = 0; deleted.size < deletes; i++) {
    deleted.add(live[(seed * 7919 + i * 104_729) % live.length]!.id);
  }
  for (const id of deleted) running.emulator.deleteMessage(ADDRESS, id);
  for (let i = 0; i < adds; i++) running.emulator.addMessage(ADDRESS);
  return [...deleted];
}

/** Every `write.generation` and `pruneMessages` a store is asked to commit. */
function recordingGenerations(store: SyncStore) {
  const stamped = new Set<string>();
  const pruned: string[] = [];
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'commitBatch' || typeof value !== 'function') return value;
      return (lease: unknown, commit: BatchCommit) => {
        if (commit.write?.generation !== undefined) stamped.add(commit.write.generation);
        if (commit.write?.pruneMessages) pruned.push(commit.write.pruneMessages.keepGeneration);
        return value.call(target, lease, commit);
      };
    },
  });
  return { store: proxy, stamped, pruned };
}

const storedIds = async (store: SyncStore) =>
  new Set((await storedState(store)).map((message) => message.id));

describe('full resync removes messages that left the mailbox', () => {
  it('after an expired history (404) and after a requested full sync, the store equals the mailbox', async () => {
    const store = createMemoryStore();
    const engine = createEngine(store, emulatorSource(running));
    expect((await syncOnce(engine)).status).toBe('completed');
    expect(await storedState(store)).toEqual(mailboxState(running));

    // Deleted while the history is gone: no history record will ever tell the sync about them.
    const deleted = churn(40, 25, 1);
    running.emulator.expireHistory(ADDRESS);
    const resync = await syncOnce(engine);
    expect(resync.error).toBeNull();
    expect(resync.mode).toBe('full');
    const afterResync = await storedIds(store);
    expect(deleted.filter((id) => afterResync.has(id))).toEqual([]);
    expect(await storedState(store)).toEqual(mailboxState(running));
    const logs = await store.getLogs(resync.id, { limit: 5_000 });
    expect(logs.some((line) => /did not find in the mailbox/.test(line.message))).toBe(true);

    // A full sync the user asks for over existing data does the same.
    const deletedAgain = churn(15, 5, 2);
    const full = await syncOnce(engine, ADDRESS, 'full');
    await engine.stop();
    expect(full.status).toBe('completed');
    const afterFull = await storedIds(store);
    expect(deletedAgain.filter((id) => afterFull.has(id))).toEqual([]);
    expect(await storedState(store)).toEqual(mailboxState(running));
  });

  it('a crash in the middle of the resync resumes with the same generation: no stored message is lost', async () => {
    const store = createMemoryStore();
    const seed = createEngine(store, emulatorSource(running));
    expect((await syncOnce(seed)).status).toBe('completed');
    await seed.stop();

    const deleted = churn(30, 10, 3);
    running.emulator.expireHistory(ADDRESS);
    const firstRecorder = recordingGenerations(store);
    let fetchCommits = 0;
    const dying = freezableStore(firstRecorder.store, (commit) => {
      if (commit.write?.upsertMessages?.length) fetchCommits += 1;
      return fetchCommits === 6;
    });
    const lease = { leaseMs: 400, heartbeatMs: 100 };
    const first = createEngine(dying.store, emulatorSource(running, { batchSize: 100 }), lease);
    const started = await first.start({ source: 'gmail', accountId: ADDRESS });
    while (!dying.frozen) await new Promise((resolve) => setTimeout(resolve, 20));
    const halfway = await store.getJob(started.job.id);
    expect(halfway).toMatchObject({ status: 'running', mode: 'full' });
    expect(halfway?.counters.stored).toBeGreaterThan(0);

    const secondRecorder = recordingGenerations(store);
    const second = createEngine(secondRecorder.store, emulatorSource(running, { batchSize: 100 }), lease);
    const job = await waitForEnd(second, started.job.id);
    await second.stop();
    dying.thaw();
    await first.stop({ timeoutMs: 100 });

    expect(job.error).toBeNull();
    expect(job).toMatchObject({ status: 'completed', mode: 'full', attempt: 2 });
    // One generation across the crash: the resumed run stamps and prunes with the first run's.
    expect(firstRecorder.stamped.size).toBe(1);
    expect([...secondRecorder.stamped]).toEqual([...firstRecorder.stamped]);
    expect(secondRecorder.pruned).toEqual([...firstRecorder.stamped]);
    const stored = await storedIds(store);
    expect(deleted.filter((id) => stored.has(id))).toEqual([]);
    expect(await storedState(store)).toEqual(mailboxState(running));
  });
});
