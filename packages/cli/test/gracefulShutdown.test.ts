import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SyncStore } from '@syncjob/core';
import { createSqliteStore } from '@syncjob/sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnJsonLines, waitFor } from './childProcess';

const WORKER = fileURLToPath(new URL('./fixtures/shutdownWorker.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'syncjob-shutdown-'));
const children: Array<ReturnType<typeof spawnJsonLines>> = [];
let store: SyncStore | undefined;

afterAll(async () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SIGTERM to a worker process mid-sync (SQLite, built packages)', () => {
  it('releases the lease within 5 s and a second worker resumes from the checkpoint at once, storing nothing twice', async () => {
    const dbPath = join(dir, 'sync.db');
    store = createSqliteStore({ path: dbPath });
    const account = { source: 'test', accountId: 'alice@example.test' };
    const { job } = await store.createJob({ ...account, mode: 'full', trigger: 'manual' });

    const first = spawnJsonLines(WORKER, [dbPath, 'worker-a']);
    children.push(first);
    await waitFor('worker A to store 50 messages', async () => {
      const current = await store!.getJob(job.id);
      return current && current.status === 'running' && current.counters.stored >= 50 ? current : undefined;
    });

    const termAt = Date.now();
    first.child.kill('SIGTERM');
    const released = await waitFor(
      'the lease to be released',
      async () => {
        const current = await store!.getJob(job.id);
        return current?.status === 'queued' && current.leaseExpiresAt === null ? current : undefined;
      },
      5_000,
    );
    const releasedAfterMs = Date.now() - termAt;
    expect(releasedAfterMs).toBeLessThan(5_000);
    expect(released.counters.stored).toBeGreaterThanOrEqual(50);
    expect(released.counters.stored).toBeLessThan(200);
    expect(await first.exited).toBe(0);
    const stoppedA = first.events.find((e) => e.event === 'stopped')!;
    expect(stoppedA.stopMs as number).toBeLessThan(5_000);
    expect(
      first.events.some(
        (e) => e.event === 'log' && /shutting down: the job is released/.test(String(e.message)),
      ),
    ).toBe(true);

    // A second worker: nothing to wait for (the lease TTL is 60 s), it claims and resumes now.
    const secondStartedAt = Date.now();
    const second = spawnJsonLines(WORKER, [dbPath, 'worker-b']);
    children.push(second);
    const completed = await waitFor('worker B to complete the job', async () => {
      const current = await store!.getJob(job.id);
      return current?.status === 'completed' ? current : undefined;
    });
    const claimed = second.events.find((e) => e.event === 'status' && e.status === 'running')!;
    expect(claimed.attempt).toBe(2);
    expect(claimed.at - secondStartedAt).toBeLessThan(10_000);
    expect(claimed.at - termAt).toBeLessThan(15_000); // far below the 60 s lease
    const resumedLine = second.events.find(
      (e) => e.event === 'log' && String(e.message).startsWith('Attempt 2:'),
    );
    expect(resumedLine?.message).toMatch(/^Attempt 2: resuming full sync from checkpoint \(\d+ of 200 done/);

    // Nothing stored twice: the stored counter (incremented per committed batch) is exactly the
    // mailbox, and the two workers' fetches add up to it, with at most one batch fetched again.
    expect(completed.counters).toMatchObject({ total: 200, stored: 200 });
    expect(await store.data.countMessages(account)).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const fetched = (worker: typeof first) =>
      (worker.events.find((e) => e.event === 'stopped')!.fetched as Array<[string, number]>).map(
        ([id]) => id,
      );
    const a = fetched(first);
    const b = fetched(second);
    expect(new Set([...a, ...b]).size).toBe(200);
    expect(a.length + b.length - 200).toBeLessThanOrEqual(10);
  });
});
