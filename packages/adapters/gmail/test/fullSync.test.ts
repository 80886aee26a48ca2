import { describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  mailboxState,
  startEmulator,
  storedState,
  syncOnce,
} from './helpers';

const running = emulatorForFile({ users: [{ address: ADDRESS, messages: 5_000, seed: 11 }], speed: 200 });

describe('full sync', () => {
  it('stores exactly the mailbox: ids, threads, labels and headers, with matching counts', async () => {
    const store = createMemoryStore();
    const source = emulatorSource(running);
    const engine = createEngine(store, source);
    let reportedUnits = 0;
    engine.on('quota', (event) => {
      reportedUnits += event.units;
    });
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    const expected = mailboxState(running);
    expect(expected).toHaveLength(5_000);
    const stored = await storedState(store);
    expect(stored.length).toBe(expected.length);
    expect(stored).toEqual(expected);
    expect(job.counters).toMatchObject({
      total: 5_000,
      listed: 5_000,
      fetched: 5_000,
      stored: 5_000,
      deleted: 0,
      failed: 0,
    });
    const labels = await store.data.listLabels({ source: 'gmail', accountId: ADDRESS });
    expect(labels.map((label) => label.id)).toEqual(expect.arrayContaining(['INBOX', 'SENT', 'Label_1']));
    // Every unit Gmail charged is reported to the engine (for its metrics).
    expect(reportedUnits).toBe(running.emulator.stats().byUser[ADDRESS]!.units);
    const state = await store.getAccountState({ source: 'gmail', accountId: ADDRESS });
    expect(state?.cursor).toBe(String(running.emulator.mailbox(ADDRESS).historyId));
  });
});

describe('full sync with threads deleted between listing and fetching', () => {
  it('stores what remains of a thread whose first message is gone, and counts a vanished thread as deleted', async () => {
    const small = await startEmulator({
      users: [{ address: ADDRESS, messages: 1_500, seed: 12 }],
      speed: 200,
    });
    try {
      const mailbox = small.emulator.mailbox(ADDRESS);
      // The newest threads of 3+ messages: listed on page 1, fetched whole by the planner.
      const threads: number[][] = [];
      for (let i = mailbox.size - 1; i >= 0 && threads.length < 2; i--) {
        const start = mailbox.threadStartOf(i);
        const members = mailbox.threadMembers(start);
        if (members.length >= 3 && members[0]! >= 1_000 && !threads.some((t) => t[0] === members[0]))
          threads.push(members);
      }
      expect(threads).toHaveLength(2);
      const [headless, vanished] = threads as [number[], number[]];
      const store = createMemoryStore();
      const engine = createEngine(store, emulatorSource(small));
      let deleted = false;
      engine.on('log', (event) => {
        // Page 1 is staged and fetching has not begun: delete from it now.
        if (deleted || !event.entry.message.startsWith('Listed page 1:')) return;
        deleted = true;
        small.emulator.deleteMessage(ADDRESS, mailbox.idOf(headless[0]!));
        for (const index of vanished) small.emulator.deleteMessage(ADDRESS, mailbox.idOf(index));
      });
      const job = await syncOnce(engine);
      await engine.stop();
      expect(deleted).toBe(true);
      expect(job.status).toBe('completed');
      expect(await storedState(store)).toEqual(mailboxState(small));
      expect(job.counters).toMatchObject({
        listed: 1_500,
        deleted: 1 + vanished.length,
        stored: 1_500 - 1 - vanished.length,
      });
    } finally {
      await small.close();
    }
  });
});
