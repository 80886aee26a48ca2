import { describe, expect, it } from 'vitest';
import { createSyncEngine } from '../engine/syncEngine';
import { SyncError } from '../errors';
import { createMemoryStore } from '../store/memoryStore';
import { runPendingJobs } from './runPendingJobs';
import { createTestSource } from './testSource';

const account = { source: 'test', accountId: 'carol@example.test' };

async function syncOnce(options: Parameters<typeof createTestSource>[0]) {
  const store = createMemoryStore();
  const source = createTestSource(options);
  const engine = createSyncEngine({ store, sources: [source], worker: false });
  const { job } = await engine.start(account);
  await runPendingJobs(engine);
  return { store, source, job: (await store.getJob(job.id))!, logs: await store.getLogs(job.id) };
}

describe('createTestSource', () => {
  it('is deterministic: the same options give the same mailbox, batches and log', async () => {
    const a = await syncOnce({ messages: 37, pageSize: 10, batchSize: 4 });
    const b = await syncOnce({ messages: 37, pageSize: 10, batchSize: 4 });
    const messagesA = await a.store.data.listMessages(account, { limit: 100 });
    expect(messagesA).toHaveLength(37);
    expect(messagesA).toEqual(await b.store.data.listMessages(account, { limit: 100 }));
    const strip = (logs: typeof a.logs) => logs.map((l) => l.message.replace(/ in .*$/, ''));
    expect(strip(a.logs)).toEqual(strip(b.logs));
    // 4 listing pages + 10 fetch batches.
    expect(a.source.control.calls).toBe(14);
  });

  it('fails the chosen call with the chosen error', async () => {
    const source = createTestSource({ messages: 10, pageSize: 10 });
    source.control.failCall(2, new SyncError('ACCOUNT_MISMATCH', 'Wrong mailbox.'));
    const store = createMemoryStore();
    const engine = createSyncEngine({ store, sources: [source], worker: false });
    const { job } = await engine.start(account);
    await runPendingJobs(engine);
    expect(await store.getJob(job.id)).toMatchObject({
      status: 'failed',
      error: { code: 'ACCOUNT_MISMATCH' },
    });
    expect(source.control.calls).toBe(2);
    expect(source.control.fetchCounts.size).toBe(0);
  });

  it('ends a hung call when the run is aborted (cancel)', async () => {
    const source = createTestSource({ messages: 10 });
    const store = createMemoryStore();
    const engine = createSyncEngine({ store, sources: [source], worker: false });
    source.control.hang();
    const { job } = await engine.start(account);
    const run = runPendingJobs(engine);
    await source.control.whenHanging();
    await engine.cancel(job.id);
    await run;
    expect(await store.getJob(job.id)).toMatchObject({ status: 'cancelled' });
  });
});
