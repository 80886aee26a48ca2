import type { BatchCommit } from '@syncjob/core';
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
} from './helpers';

const running = emulatorForFile({ users: [{ address: ADDRESS, messages: 4_000, seed: 31 }], speed: 200 });

describe('full sync, newest first', () => {
  it('stores the newest messages while the listing goes on, and still fetches each message once', async () => {
    const store = createMemoryStore();
    const commits: BatchCommit[] = [];
    const watched = freezableStore(store, (commit) => {
      commits.push(commit);
      return false;
    });
    const engine = createEngine(watched.store, emulatorSource(running, { batchSize: 100, pageSize: 100 }));
    const job = await syncOnce(engine);
    await engine.stop();

    expect(job.status).toBe('completed');
    expect(job.counters).toMatchObject({ total: 4_000, listed: 4_000, fetched: 4_000, stored: 4_000 });
    expect(await storedState(store)).toEqual(mailboxState(running));

    const firstStore = commits.findIndex((commit) => commit.write?.upsertMessages?.length);
    const listedBefore = commits
      .slice(0, firstStore)
      .reduce((sum, commit) => sum + (commit.stage?.add?.length ?? 0), 0);
    // Only a window of the 40 pages was listed before the first messages were stored…
    expect(listedBefore).toBeGreaterThan(0);
    expect(listedBefore).toBeLessThan(2_000);
    // …and they are the newest: the mailbox's latest message among them.
    const mailbox = running.emulator.mailbox(ADDRESS);
    const firstIds = commits[firstStore]!.write!.upsertMessages!.map((message) => message.id);
    expect(firstIds).toContain(mailbox.idOf(mailbox.size - 1));
    // The rest of the listing was committed between fetched batches, not all before them.
    const lastList = commits.findLastIndex((commit) => commit.stage?.add?.length);
    expect(lastList).toBeGreaterThan(firstStore);

    // Threads met their older messages within the look-ahead: no message was fetched twice, and
    // whole-thread fetches still carried 3+ messages for two gets.
    const stats = running.emulator.stats();
    expect(stats.byUser[ADDRESS]!.fetches.refetchedMessages).toBe(0);
    expect(stats.byMethod['users.threads.get']?.requests).toBeGreaterThan(0);
    const fetchUnits =
      (stats.byMethod['users.messages.get']?.units ?? 0) + (stats.byMethod['users.threads.get']?.units ?? 0);
    expect(fetchUnits / (4_000 * 5)).toBeLessThanOrEqual(0.62);
  });
});
