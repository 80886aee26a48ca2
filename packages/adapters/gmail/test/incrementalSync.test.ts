import { describe, expect, it } from 'vitest';
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

const running = emulatorForFile({ users: [{ address: ADDRESS, messages: 2_000, seed: 5 }], speed: 200 });

/** Deterministic changes: adds (some replying in existing threads), deletes and relabels. */
function mutate(seed: number) {
  const { emulator } = running;
  const live = mailboxState(running);
  const pick = (n: number) => live[(seed * 7919 + n * 104_729) % live.length]!;
  for (let i = 0; i < 30; i++) {
    emulator.addMessage(ADDRESS, i % 3 === 0 ? { threadId: pick(i).threadId } : {});
  }
  const deleted = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const message = pick(100 + i);
    if (deleted.has(message.id)) continue;
    emulator.deleteMessage(ADDRESS, message.id);
    deleted.add(message.id);
  }
  for (let i = 0; i < 25; i++) {
    const message = pick(200 + i);
    if (deleted.has(message.id)) continue;
    emulator.modifyLabels(
      ADDRESS,
      message.id,
      i % 2 ? { add: ['Label_2', 'STARRED'] } : { remove: ['INBOX'] },
    );
  }
}

describe('incremental sync', () => {
  const store = createMemoryStore();

  it('applies adds, deletes and relabels so the store equals the mailbox again', async () => {
    const engine = createEngine(store, emulatorSource(running));
    const full = await syncOnce(engine);
    expect(full.status).toBe('completed');
    expect(await storedState(store)).toEqual(mailboxState(running));

    mutate(1);
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.error).toBeNull();
    expect(job.mode).toBe('incremental');
    expect(job.counters.listed).toBe(30);
    expect(job.counters.deleted).toBe(20);
    expect(await storedState(store)).toEqual(mailboxState(running));
    const state = await store.getAccountState({ source: 'gmail', accountId: ADDRESS });
    expect(state?.cursor).toBe(String(running.emulator.mailbox(ADDRESS).historyId));
  });

  it('counts an added message that is gone before it is fetched as deleted, not as a failure', async () => {
    const engine = createEngine(
      store,
      emulatorSource(running, {
        classify: (message) => {
          // While the first batch is classified, a message still waiting to be fetched disappears.
          if (pendingVictim) {
            running.emulator.deleteMessage(ADDRESS, pendingVictim);
            pendingVictim = undefined;
          }
          return { category: message.labelIds.includes('SENT') ? 'sent' : 'received' };
        },
        batchSize: 5,
      }),
    );
    const added = Array.from({ length: 12 }, () => running.emulator.addMessage(ADDRESS));
    let pendingVictim: string | undefined = added[11]!.id;
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.status).toBe('completed');
    expect(job.counters).toMatchObject({ listed: 12, fetched: 11, stored: 11, deleted: 1, classified: 11 });
    expect(job.categoryCounts).toEqual({ received: 11 });
    const logs = await store.getLogs(job.id, { limit: 5_000 });
    expect(logs.some((line) => /deleted before they could be fetched/.test(line.message))).toBe(true);
    expect(await storedState(store)).toEqual(mailboxState(running));
  });

  it('turns an expired history (404) into a full resync in the same job, equal again', async () => {
    const engine = createEngine(store, emulatorSource(running));
    running.emulator.addMessage(ADDRESS);
    const live = mailboxState(running);
    running.emulator.modifyLabels(ADDRESS, live[3]!.id, { add: ['Label_3'] });
    running.emulator.expireHistory(ADDRESS);
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(job.mode).toBe('full');
    const expected = mailboxState(running);
    expect(job.counters).toMatchObject({ total: expected.length, stored: expected.length });
    const logs = await store.getLogs(job.id, { limit: 5_000 });
    expect(logs.find((line) => line.level === 'warn' && /404/.test(line.message))).toBeDefined();
    expect(await storedState(store)).toEqual(expected);
    const state = await store.getAccountState({ source: 'gmail', accountId: ADDRESS });
    expect(state?.cursor).toBe(String(running.emulator.mailbox(ADDRESS).historyId));
  });
});
