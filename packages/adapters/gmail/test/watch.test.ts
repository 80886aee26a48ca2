import { SyncError } from '@syncjob/core';
import type { Clock, RunningGmailEmulator } from '@syncjob/gmail-emulator';
import { afterEach, describe, expect, it } from 'vitest';
import type { GmailWatch, GmailWatchStore } from '../src/index';
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

const TOPIC = 'projects/syncjob-test/topics/gmail';
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const OTHER = 'other@example.com';

/** A clock that moves only when told, shared by the emulator (watch expiry) and the source (renewal). */
function fakeClock(start = Date.UTC(2026, 0, 15)): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
  };
}

/** A watch store standing in for the app's accounts table: it survives a new source (a restart). */
function tableWatchStore(): GmailWatchStore & { rows: Map<string, GmailWatch> } {
  const rows = new Map<string, GmailWatch>();
  return {
    rows,
    get: async (accountId) => structuredClone(rows.get(accountId)),
    set: async (watch) => {
      rows.set(watch.accountId, structuredClone(watch));
    },
    delete: async (accountId) => {
      rows.delete(accountId);
    },
  };
}

const started: RunningGmailEmulator[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.close();
});

async function emulatorWith(clock?: Clock) {
  const running = await startEmulator({
    users: [
      { address: ADDRESS, messages: 50, seed: 3 },
      { address: OTHER, messages: 10, seed: 4 },
    ],
    ...(clock ? { clock } : {}),
  });
  started.push(running);
  return running;
}

/** Watches Gmail set: units charged / 100 (a call refused 401 and retried after a refresh is not charged). */
const watchCalls = (running: RunningGmailEmulator) =>
  (running.emulator.stats().byMethod['users.watch']?.units ?? 0) / 100;

describe('Gmail watch management', () => {
  it('watches an account with the topic and label filter of the options, and records the expiration', async () => {
    const clock = fakeClock();
    const running = await emulatorWith(clock);
    const source = emulatorSource(running, {
      push: { topicName: TOPIC, labelIds: ['INBOX'], labelFilterBehavior: 'include', clock },
    });
    const watch = await source.watch(ADDRESS);
    expect(watch).toEqual({
      accountId: ADDRESS,
      topicName: TOPIC,
      labelIds: ['INBOX'],
      labelFilterBehavior: 'include',
      historyId: String(running.emulator.mailbox(ADDRESS).historyId),
      expiration: clock.now() + 7 * DAY_MS,
      watchedAt: clock.now(),
    });
    expect(await source.watchOf(ADDRESS)).toEqual(watch);
    expect(running.emulator.push.watchOf(ADDRESS)).toMatchObject({ topicName: TOPIC, labelIds: ['INBOX'] });
    // The watch call is charged to the account's limiter like its syncs.
    expect(running.emulator.stats().byUser[ADDRESS]?.byMethod['users.watch']).toMatchObject({ units: 100 });
  });

  it('renews a watch before it expires, on a fake clock, and only then', async () => {
    const clock = fakeClock();
    const running = await emulatorWith(clock);
    const source = emulatorSource(running, { push: { topicName: TOPIC, clock } });
    const first = await source.renewWatches([ADDRESS, OTHER]);
    expect(first.renewed.map((w) => w.accountId).sort()).toEqual([ADDRESS, OTHER]);
    expect(first.failed).toEqual([]);
    const firstExpiration = first.renewed[0]!.expiration;

    clock.advance(5 * DAY_MS);
    const fifthDay = await source.renewWatches([ADDRESS, OTHER]);
    expect(fifthDay).toMatchObject({ renewed: [], failed: [] });
    expect(fifthDay.current.sort()).toEqual([ADDRESS, OTHER]);
    expect(watchCalls(running)).toBe(2);

    // Within 24 h of the expiry: renewed, so the watch now lasts seven days from here.
    clock.advance(DAY_MS + 1);
    const sixthDay = await source.renewWatches([ADDRESS, OTHER]);
    expect(sixthDay.renewed).toHaveLength(2);
    expect(sixthDay.renewed[0]!.expiration).toBe(clock.now() + 7 * DAY_MS);
    expect(sixthDay.renewed[0]!.expiration).toBeGreaterThan(firstExpiration);
    expect(watchCalls(running)).toBe(4);

    // Past the first expiry, Gmail still notifies: the renewed watch is the one in force.
    clock.advance(DAY_MS);
    expect(clock.now()).toBeGreaterThan(firstExpiration);
    running.emulator.addMessage(ADDRESS);
    expect(running.emulator.stats().push.published).toBe(1);
  });

  it('keeps the record across a restart when the app gives a durable watch store', async () => {
    const clock = fakeClock();
    const running = await emulatorWith(clock);
    const watchStore = tableWatchStore();
    await emulatorSource(running, { push: { topicName: TOPIC, clock, watchStore } }).watch(ADDRESS);
    const restarted = emulatorSource(running, { push: { topicName: TOPIC, clock, watchStore } });
    expect(await restarted.renewWatches([ADDRESS])).toMatchObject({ renewed: [], current: [ADDRESS] });
    expect(watchCalls(running)).toBe(1);
    expect(watchStore.rows.get(ADDRESS)?.expiration).toBe(clock.now() + 7 * DAY_MS);
  });

  it('watches again at once when the topic or label filter changed', async () => {
    const clock = fakeClock();
    const running = await emulatorWith(clock);
    const watchStore = tableWatchStore();
    await emulatorSource(running, { push: { topicName: TOPIC, clock, watchStore } }).watch(ADDRESS);
    const filtered = emulatorSource(running, {
      push: { topicName: TOPIC, labelIds: ['INBOX'], labelFilterBehavior: 'exclude', clock, watchStore },
    });
    const renewal = await filtered.renewWatches([ADDRESS]);
    expect(renewal.renewed).toHaveLength(1);
    expect(running.emulator.push.watchOf(ADDRESS)).toMatchObject({
      labelIds: ['INBOX'],
      labelFilterBehavior: 'exclude',
    });
  });

  it('reports an account Gmail refuses and still renews the others', async () => {
    const running = await emulatorWith();
    running.emulator.revokeRefreshTokens(OTHER);
    const source = emulatorSource(running, { push: { topicName: TOPIC } });
    const renewal = await source.renewWatches([OTHER, ADDRESS]);
    expect(renewal.renewed.map((w) => w.accountId)).toEqual([ADDRESS]);
    expect(renewal.failed).toHaveLength(1);
    expect(renewal.failed[0]).toMatchObject({ accountId: OTHER });
    expect(renewal.failed[0]!.error.code).toBe('REAUTH_REQUIRED');
    expect(await source.watchOf(OTHER)).toBeNull();
  });

  it('stops the watch and forgets it when the account is disconnected', async () => {
    const running = await emulatorWith();
    const source = emulatorSource(running, { push: { topicName: TOPIC } });
    await source.renewWatches([ADDRESS, OTHER]);
    expect(await source.stopWatch(ADDRESS)).toEqual({ stopped: true });
    expect(running.emulator.push.watchOf(ADDRESS)).toBeUndefined();
    expect(await source.watchOf(ADDRESS)).toBeNull();
    running.emulator.addMessage(ADDRESS);
    expect(running.emulator.stats().push.published).toBe(0);

    // A revoked grant cannot call users.stop: the record goes, the watch lapses by itself.
    running.emulator.revokeRefreshTokens(OTHER);
    expect(await source.stopWatch(OTHER)).toEqual({ stopped: false });
    expect(await source.watchOf(OTHER)).toBeNull();
  });

  it('never moves the sync cursor to the historyId watch answers, so changes before the watch are synced', async () => {
    const running = await emulatorWith();
    const store = createMemoryStore();
    const source = emulatorSource(running, { push: { topicName: TOPIC } });
    const engine = createEngine(store, source);
    expect((await syncOnce(engine)).status).toBe('completed');
    const key = { source: 'gmail', accountId: ADDRESS };
    const cursor = (await store.getAccountState(key))?.cursor;
    const added = running.emulator.addMessage(ADDRESS);
    const watch = await source.watch(ADDRESS);
    expect(watch.historyId).toBe(added.historyId);
    expect((await store.getAccountState(key))?.cursor).toBe(cursor);
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.mode).toBe('incremental');
    expect(await storedState(store)).toEqual(mailboxState(running));
  });

  it('refuses bad push options at creation and watch calls without push options', async () => {
    const running = await emulatorWith();
    expect(() => emulatorSource(running, { push: { topicName: 'gmail-topic' } })).toThrow(SyncError);
    expect(() =>
      emulatorSource(running, {
        push: { topicName: TOPIC, labelFilterBehavior: 'only' as 'include' },
      }),
    ).toThrow(/labelFilterBehavior/);
    const source = emulatorSource(running);
    await expect(source.watch(ADDRESS)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
