import type { SyncStore } from '@syncjob/core';
import { describe, expect, it } from 'vitest';
import {
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  mailboxState,
  storedState,
  waitForEnd,
} from './helpers';

const USERS = ['ada@example.com', 'bob@example.com', 'cy@example.com', 'di@example.com'];
const running = emulatorForFile({
  users: USERS.map((address, index) => ({ address, messages: 800, seed: 40 + index })),
  speed: 200,
});

/** Units the emulator charged, for all users together. */
const charged = () =>
  USERS.reduce((sum, address) => sum + (running.emulator.stats().byUser[address]?.units ?? 0), 0);

/** The store, counting the units its granted `takeQuota` calls added. */
function countingGrants(store: SyncStore) {
  let granted = 0;
  const takeQuota: SyncStore['takeQuota'] = async (input) => {
    const result = await store.takeQuota(input);
    if (result.granted) granted += input.units;
    return result;
  };
  return Object.assign(Object.create(store) as SyncStore, { takeQuota, granted: () => granted });
}

describe('gmail source under a shared project quota', () => {
  it('two workers sync four mailboxes exactly, every unit Gmail charged granted by the shared budget', async () => {
    running.emulator.resetStats();
    const store = countingGrants(createMemoryStore());
    // Binding: the four accounts could spend 60,000 units a minute; the project grants 30,000.
    const projectQuota = { unitsPerMinute: 30_000, speed: running.emulator.quota.speed };
    const engines = [0, 1].map(() => createEngine(store, emulatorSource(running), { projectQuota }));
    try {
      const jobs = [];
      for (const accountId of USERS) jobs.push((await engines[0]!.start({ source: 'gmail', accountId })).job);
      const ended = await Promise.all(jobs.map((job) => waitForEnd(engines[0]!, job.id, 60_000)));
      expect(ended.map((job) => [job.status, job.error])).toEqual(USERS.map(() => ['completed', null]));
      for (const address of USERS)
        expect(await storedState(store, address)).toEqual(mailboxState(running, address));
      // Every unit Gmail charged was granted by the shared budget first.
      expect(charged()).toBeGreaterThan(0);
      expect(store.granted()).toBeGreaterThanOrEqual(charged());
    } finally {
      await Promise.all(engines.map((engine) => engine.stop()));
    }
  }, 90_000);

  it('a sync that outgrows the daily budget waits for the next day and completes on its own', async () => {
    running.emulator.resetStats();
    const store = createMemoryStore();
    // A compressed day of 4.3 s holding 1,500 units; the mailbox costs more than twice that.
    const projectQuota = { unitsPerMinute: 100_000_000, unitsPerDay: 1_500, speed: 20_000, slices: 1 };
    const engine = createEngine(store, emulatorSource(running), { projectQuota });
    try {
      const { job } = await engine.start({ source: 'gmail', accountId: USERS[0]! });
      const ended = await waitForEnd(engine, job.id, 60_000);
      expect([ended.status, ended.error]).toEqual(['completed', null]);
      expect(await storedState(store, USERS[0])).toEqual(mailboxState(running, USERS[0]));
      // More than a day's budget was spent: the job waited for at least one reset, without failing.
      expect(running.emulator.stats().byUser[USERS[0]!]!.units).toBeGreaterThan(1_500);
      expect(running.emulator.stats().byUser[USERS[0]!]!.rateLimited ?? 0).toBe(0);
    } finally {
      await engine.stop();
    }
  }, 90_000);
});
