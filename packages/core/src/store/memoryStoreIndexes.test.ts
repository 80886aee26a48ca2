import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock';
import { systemClock } from '../clock';
import { cancelTransition, expireWith as expire, releaseTransition } from '../job/jobLifecycle';
import { syntheticMessage } from '../testing/syntheticBatch';
import { createMemoryStore } from './memoryStore';
import type { MailMessage } from './sink';
import type { StagedItem, SyncStore } from './syncStore';

// The memory store keeps indexes (claim queues, active jobs, ordered staged items and messages)
// and writes batches through overlays instead of copying tables. These tests hold it to a plain
// model over long, mixed sequences the conformance suite does not reach.

const ACCOUNT = { source: 'gmail', accountId: 'acct-a' };

/** Deterministic pseudo-random numbers (mulberry32), so a failure replays. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const byStagedOrder = (a: StagedItem, b: StagedItem): number => {
  if (a.group !== b.group) {
    if (a.group === null) return -1;
    if (b.group === null) return 1;
    return a.group < b.group ? -1 : 1;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

const running = async (store: SyncStore) => {
  await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' });
  const claimed = await store.claimJob({ workerId: 'worker-1', leaseMs: 3_600_000 });
  if (!claimed) throw new Error('Expected a job to claim.');
  return claimed.lease;
};

/** Every staged item, read page by page with `after` cursors. */
const readStaged = async (store: SyncStore, pageSize: number): Promise<StagedItem[]> => {
  const all: StagedItem[] = [];
  let after: StagedItem | undefined;
  while (true) {
    const page = await store.listStaged(
      ACCOUNT,
      after === undefined ? { limit: pageSize } : { limit: pageSize, after },
    );
    all.push(...page);
    if (page.length < pageSize) return all;
    after = page[page.length - 1];
  }
};

/** A clock the test sets, including backwards. */
const settableClock = (start: number) => {
  let now = start;
  const clock: Clock = { ...systemClock, now: () => now };
  return { clock, set: (ms: number) => (now = ms) };
};

describe('memory store indexes', () => {
  it('lists staged items like a sorted model through adds, removes, clears and reads', async () => {
    const store = createMemoryStore();
    const lease = await running(store);
    const next = random(7);
    const model = new Map<string, StagedItem>();
    for (let round = 0; round < 120; round++) {
      const roll = next();
      if (roll < 0.05) {
        const add = [{ id: `c${round}`, group: null }];
        await store.commitBatch(lease, { stage: { clear: true, add } });
        model.clear();
        model.set(add[0]!.id, add[0]!);
      } else if (roll < 0.55) {
        const add = Array.from({ length: 1 + Math.floor(next() * 40) }, () => {
          const id = `m${Math.floor(next() * 400)}`;
          const group = next() < 0.2 ? null : `g${Math.floor(next() * 30)}`;
          return { id, group };
        });
        const remove = Array.from({ length: Math.floor(next() * 5) }, () => `m${Math.floor(next() * 400)}`);
        await store.commitBatch(lease, { stage: { add, remove } });
        for (const item of add) if (!model.has(item.id)) model.set(item.id, item);
        for (const id of remove) model.delete(id);
      } else {
        // The fetch phase: read the first items, then remove them.
        const first = await store.listStaged(ACCOUNT, { limit: 1 + Math.floor(next() * 20) });
        await store.commitBatch(lease, { stage: { remove: first.map((item) => item.id) } });
        for (const item of first) model.delete(item.id);
      }
      if (round % 10 === 0) {
        const expected = [...model.values()].sort(byStagedOrder);
        expect(await readStaged(store, 1 + Math.floor(next() * 25))).toEqual(expected);
        expect(await store.countStaged(ACCOUNT)).toBe(model.size);
      }
    }
    expect(await readStaged(store, 7)).toEqual([...model.values()].sort(byStagedOrder));
  });

  it('lists messages like a sorted model through upserts, label changes and deletes', async () => {
    const store = createMemoryStore();
    const lease = await running(store);
    const next = random(11);
    const model = new Map<string, MailMessage>();
    for (let round = 0; round < 80; round++) {
      const upserts = Array.from({ length: Math.floor(next() * 30) }, () =>
        syntheticMessage(Math.floor(next() * 300), { snippet: `round ${round}` }),
      );
      const deletes = Array.from(
        { length: Math.floor(next() * 8) },
        () => syntheticMessage(Math.floor(next() * 300)).id,
      );
      const changes = Array.from({ length: Math.floor(next() * 5) }, () => ({
        id: syntheticMessage(Math.floor(next() * 300)).id,
        add: [`L${round}`],
        remove: ['INBOX'],
      }));
      await store.commitBatch(lease, {
        write: { upsertMessages: upserts, deleteMessages: deletes, changeLabels: changes },
      });
      for (const message of upserts) model.set(message.id, message);
      for (const change of changes) {
        const stored = model.get(change.id);
        if (!stored) continue;
        const labelIds = stored.labelIds.filter((id) => !change.remove.includes(id));
        for (const id of change.add) if (!labelIds.includes(id)) labelIds.push(id);
        model.set(change.id, { ...stored, labelIds });
      }
      for (const id of deletes) model.delete(id);

      const expected = [...model.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
      const pageSize = 1 + Math.floor(next() * 60);
      const read: MailMessage[] = [];
      let afterId: string | undefined;
      while (true) {
        const page = await store.data.listMessages(
          ACCOUNT,
          afterId === undefined ? { limit: pageSize } : { limit: pageSize, afterId },
        );
        read.push(...page);
        if (page.length < pageSize) break;
        afterId = page[page.length - 1]?.id;
      }
      expect(read).toEqual(expected);
      expect(await store.data.countMessages(ACCOUNT)).toBe(model.size);
    }
  });

  it('claims and lists jobs by createdAt even when the clock went back', async () => {
    const { clock, set } = settableClock(Date.UTC(2030, 0, 1, 0, 0, 10));
    const store = createMemoryStore({ clock });
    const created: string[] = [];
    for (const [index, second] of [10, 5, 10, 7].entries()) {
      set(Date.UTC(2030, 0, 1, 0, 0, second));
      created.push(
        (
          await store.createJob({
            source: 'gmail',
            accountId: `acct-${index}`,
            mode: 'full',
            trigger: 'manual',
          })
        ).job.id,
      );
    }
    const [at10, at5, at10Later, at7] = created;
    expect((await store.listJobs()).map((job) => job.id)).toEqual([at10Later, at10, at7, at5]);
    expect((await store.listJobs({ limit: 2 })).map((job) => job.id)).toEqual([at10Later, at10]);
    const claims: string[] = [];
    for (let index = 0; index < 4; index++) {
      claims.push((await store.claimJob({ workerId: 'w', leaseMs: 60_000 }))?.job.id ?? 'none');
    }
    expect(claims).toEqual([at5, at7, at10, at10Later]);
  });

  it('puts a released or swept job back in its place in the queue', async () => {
    const { clock, set } = settableClock(Date.UTC(2030, 0, 1));
    const store = createMemoryStore({ clock });
    const first = (await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' })).job;
    const claimed = await store.claimJob({ workerId: 'w', leaseMs: 2000 });
    set(Date.UTC(2030, 0, 1, 0, 0, 1));
    const later = (
      await store.createJob({ source: 'gmail', accountId: 'acct-b', mode: 'full', trigger: 'manual' })
    ).job;
    await store.releaseJob(claimed!.lease, releaseTransition);
    const again = await store.claimJob({ workerId: 'w', leaseMs: 2000 });
    expect(again?.job.id).toBe(first.id);

    set(Date.UTC(2030, 0, 1, 0, 0, 5));
    expect(
      (await store.sweepExpired(expire({ autoResume: true, maxAttempts: 5 }))).map(({ job }) => job.id),
    ).toEqual([first.id]);
    expect(await store.claimJob({ workerId: 'w', leaseMs: 60_000, sources: ['other'] })).toBeNull();
    expect((await store.claimJob({ workerId: 'w', leaseMs: 60_000, sources: ['gmail'] }))?.job.id).toBe(
      first.id,
    );
    expect((await store.claimJob({ workerId: 'w', leaseMs: 60_000 }))?.job.id).toBe(later.id);
    expect(await store.claimJob({ workerId: 'w', leaseMs: 60_000 })).toBeNull();
  });

  it('skips a cancelled queued job and frees its account for a new one', async () => {
    const store = createMemoryStore();
    const cancelled = (await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' })).job;
    await store.updateJob(cancelled.id, cancelTransition);
    expect(await store.getActiveJob(ACCOUNT)).toBeNull();
    expect(await store.claimJob({ workerId: 'w', leaseMs: 60_000 })).toBeNull();
    const fresh = await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' });
    expect(fresh.created).toBe(true);
    expect((await store.getActiveJob(ACCOUNT))?.id).toBe(fresh.job.id);
    expect((await store.claimJob({ workerId: 'w', leaseMs: 60_000 }))?.job.id).toBe(fresh.job.id);
  });

  it('copies values that are not plain data like structuredClone does', async () => {
    const store = createMemoryStore();
    const lease = await running(store);
    const payload = { receivedAt: new Date(0), parts: new Map([['0', 'text/plain']]) };
    await store.commitBatch(lease, { write: { upsertMessages: [syntheticMessage(1, { payload })] } });
    payload.parts.set('1', 'mutated');
    const [stored] = await store.data.listMessages(ACCOUNT);
    expect(stored?.payload).toEqual({ receivedAt: new Date(0), parts: new Map([['0', 'text/plain']]) });
    expect((stored?.payload as typeof payload | undefined)?.receivedAt).toBeInstanceOf(Date);
  });
});
