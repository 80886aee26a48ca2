import { describe, expect, it } from 'vitest';
import type { JobProgress } from '../events/syncEvents';
import type { JobWaiting } from '../job/job';
import type { SourceContext, SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import { runPendingJobs } from '../testing/runPendingJobs';
import { createSyncEngine } from './syncEngine';

const account = { source: 'test', accountId: 'alice@example.test' };
const UNTIL = new Date('2030-01-02T00:00:00.000Z');

/** A promise and the function that resolves it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('a job held back by a quota (ctx.reportWait)', () => {
  it('is stored and sent at once, cleared by the next committed batch, and gone when the job ends', async () => {
    const first = gate();
    const second = gate();
    const source: SyncSource = {
      id: 'test',
      async *run(ctx: SourceContext) {
        yield { checkpoint: 1, phase: 'fetching', total: 20, counts: { fetched: 10, stored: 10 } };
        ctx.reportWait?.({ for: 'project-daily-quota', until: UNTIL });
        await first.opened;
        yield { checkpoint: 2, counts: { fetched: 5, stored: 5 } };
        ctx.reportWait?.({ for: 'user-quota', until: UNTIL });
        await second.opened;
        yield { checkpoint: 3, counts: { fetched: 5, stored: 5 } };
      },
    };
    const store = createMemoryStore();
    const engine = createSyncEngine({ store, sources: [source], worker: false });
    const seen: Array<JobWaiting | null> = [];
    const storedWhenSent: Array<JobWaiting | null> = [];
    engine.on('progress', (event) => {
      const { waiting } = event.progress as JobProgress;
      const last = seen.length === 0 ? null : seen[seen.length - 1];
      if (JSON.stringify(last) === JSON.stringify(waiting)) return;
      seen.push(waiting);
      if (waiting === null) return;
      // The event follows the store write: a client that reads the job now sees the same.
      void store.getJob(event.jobId).then((job) => {
        storedWhenSent.push(job?.waiting ?? null);
        if (waiting.for === 'project-daily-quota') first.open();
        else second.open();
      });
    });
    const { job } = await engine.start(account);
    await runPendingJobs(engine);

    const until = UNTIL.toISOString();
    expect(seen).toEqual([{ for: 'project-daily-quota', until }, null, { for: 'user-quota', until }, null]);
    expect(storedWhenSent).toEqual([
      { for: 'project-daily-quota', until },
      { for: 'user-quota', until },
    ]);
    expect(await engine.getJob(job.id)).toMatchObject({ status: 'completed', waiting: null });
  });

  it('a wait still set when the job ends is cleared by the end itself', async () => {
    const source: SyncSource = {
      id: 'test',
      async *run(ctx: SourceContext) {
        yield { checkpoint: 1, phase: 'fetching', total: 0 };
        ctx.reportWait?.({ for: 'project-quota', until: UNTIL });
        ctx.reportWait?.(null);
        ctx.reportWait?.({ for: 'project-quota', until: UNTIL });
      },
    };
    const engine = createSyncEngine({ store: createMemoryStore(), sources: [source], worker: false });
    const { job } = await engine.start(account);
    await runPendingJobs(engine);
    expect(await engine.getJob(job.id)).toMatchObject({ status: 'completed', waiting: null });
  });

  it('a malformed wait fails the job with INVALID_INPUT instead of being stored', async () => {
    const source: SyncSource = {
      id: 'test',
      async *run(ctx: SourceContext) {
        yield { checkpoint: 1, phase: 'fetching', total: 1 };
        ctx.reportWait?.({ for: 'coffee' as never, until: UNTIL });
      },
    };
    const engine = createSyncEngine({ store: createMemoryStore(), sources: [source], worker: false });
    const { job } = await engine.start(account);
    await runPendingJobs(engine);
    const failed = await engine.getJob(job.id);
    expect(failed).toMatchObject({ status: 'failed', waiting: null, error: { code: 'INVALID_INPUT' } });
    expect(failed?.error?.message).toContain('reportWait');
  });
});
