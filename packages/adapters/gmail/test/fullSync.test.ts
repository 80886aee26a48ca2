import type { RunningGmailEmulator } from '@syncjob/gmail-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorSource,
  mailboxState,
  startEmulator,
  storedState,
  syncOnce,
} from './helpers';

let running: RunningGmailEmulator;

beforeAll(async () => {
  running = await startEmulator({ users: [{ address: ADDRESS, messages: 5_000, seed: 11 }], speed: 200 });
});
afterAll(() => running.close());

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
