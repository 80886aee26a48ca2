import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock';
import { systemClock, toIso } from '../clock';
import { expireWith as expire } from '../job/jobLifecycle';
import { syntheticBatch } from '../testing/syntheticBatch';
import { createMemoryStore, type MemoryTransaction } from './memoryStore';
import type { SyncSink } from './sink';

// What the conformance suite cannot see: the injected clock, the memory transaction, serialisation
// around an async app sink, and close.

const ACCOUNT = { source: 'gmail', accountId: 'acct-a' };

/** A clock whose time only moves when the test says so. */
const manualClock = (start: number) => {
  let now = start;
  const clock: Clock = { ...systemClock, now: () => now };
  return { clock, advance: (ms: number) => (now += ms) };
};

const startAndClaim = async (store: ReturnType<typeof createMemoryStore>, leaseMs = 60_000) => {
  await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' });
  const claimed = await store.claimJob({ workerId: 'worker-1', leaseMs });
  if (!claimed) throw new Error('Expected a job to claim.');
  return claimed;
};

describe('createMemoryStore', () => {
  it('reads time and lease expiry from the injected clock', async () => {
    const { clock, advance } = manualClock(Date.UTC(2030, 0, 1));
    const store = createMemoryStore({ clock });
    const { job, lease } = await startAndClaim(store, 1000);
    expect(job.createdAt).toBe(toIso(Date.UTC(2030, 0, 1)));
    expect(job.leaseExpiresAt).toBe(toIso(Date.UTC(2030, 0, 1) + 1000));
    advance(999);
    await store.renewLease(lease, 1000);
    advance(1000);
    await expect(store.updateProgress(lease, {})).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(
      (await store.sweepExpired(expire({ autoResume: true, maxAttempts: 3 }))).map(({ job }) => job.id),
    ).toEqual([job.id]);
  });

  it('runs an app sink’s onCommit effects only when the batch commits', async () => {
    const received: MemoryTransaction[] = [];
    const applied: string[] = [];
    let fail = false;
    const sink: SyncSink<MemoryTransaction> = {
      write(tx, _account, write) {
        received.push(tx);
        tx.onCommit(() => applied.push(...(write.upsertMessages ?? []).map((message) => message.id)));
        if (fail) throw new Error('The app sink failed.');
      },
    };
    const store = createMemoryStore({ sink });
    const { job, lease } = await startAndClaim(store);
    await store.commitBatch(lease, syntheticBatch({ jobId: job.id, count: 2 }));
    fail = true;
    await expect(
      store.commitBatch(lease, syntheticBatch({ jobId: job.id, count: 1, start: 2 })),
    ).rejects.toThrow('The app sink failed.');
    expect(applied).toEqual(['m000000', 'm000001']);
    expect(received.map((tx) => tx.account)).toEqual([ACCOUNT, ACCOUNT]);
  });

  it('holds other operations while an async app sink writes', async () => {
    let finishWrite = () => {};
    const sink: SyncSink<MemoryTransaction> = {
      write: () =>
        new Promise<void>((resolve) => {
          finishWrite = resolve;
        }),
    };
    const store = createMemoryStore({ sink });
    const { job, lease } = await startAndClaim(store);
    const batch = syntheticBatch({ jobId: job.id, count: 1 });
    const committing = store.commitBatch(lease, batch);
    const reading = store.getJob(job.id);
    let readDone = false;
    void reading.then(() => {
      readDone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(readDone).toBe(false);
    finishWrite();
    await committing;
    expect((await reading)?.counters).toEqual(batch.progress?.counters);
  });

  it('keeps a change when a subscriber throws', async () => {
    const store = createMemoryStore();
    store.subscribe(() => {
      throw new Error('A broken listener.');
    });
    const { created } = await store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' });
    expect(created).toBe(true);
    expect(await store.getActiveJob(ACCOUNT)).not.toBeNull();
  });

  it('is unusable once closed', async () => {
    const store = createMemoryStore();
    const pending = store.createJob({ ...ACCOUNT, mode: 'full', trigger: 'manual' });
    await store.close();
    expect((await pending).created).toBe(true);
    await expect(store.getJob('x')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await store.close();
  });
});
