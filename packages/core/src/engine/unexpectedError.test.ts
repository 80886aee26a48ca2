import { describe, expect, it, vi } from 'vitest';
import { createSyncHandler } from '../http/syncHandler';
import { UNEXPECTED_FAILURE_MESSAGE } from '../job/jobTexts';
import type { SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import { runPendingJobs } from '../testing/runPendingJobs';
import { createSyncEngine } from './syncEngine';

const SECRET = 'secret at db.internal:5432';
const account = { source: 'test', accountId: 'alice@example.test' };

/** A source whose app callback (a `classify` hook, an `auth` lookup) throws a plain Error mid-sync. */
const throwingSource: SyncSource = {
  id: 'test',
  async *run() {
    yield {
      upserts: [],
      deletes: [],
      checkpoint: { page: 1 },
      counts: { fetched: 0, stored: 0 },
    } as never;
    const classify = (): never => {
      throw new Error(SECRET);
    };
    classify();
  },
};

describe('a job failing on an error that is not a SyncError', () => {
  it('gets a generic message in job.error, its log, HTTP and SSE; the logger gets the detail', async () => {
    const logger = { error: vi.fn(), warn: vi.fn(), info: vi.fn() };
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [throwingSource],
      worker: false,
      retry: { retries: 0 },
      logger,
    });
    const { job: started } = await engine.start(account);
    await runPendingJobs(engine);

    const job = await engine.getJob(started.id);
    expect(job?.status).toBe('failed');
    expect(job?.error).toEqual({ code: 'INTERNAL', message: UNEXPECTED_FAILURE_MESSAGE, retryable: false });
    const logs = await engine.getLogs(started.id, { limit: 100 });
    expect(JSON.stringify(logs)).not.toContain('db.internal');
    expect(logs.at(-1)?.message).toContain(UNEXPECTED_FAILURE_MESSAGE);

    const handler = createSyncHandler(engine, {
      authenticate: () => 'alice',
      authorizeAccount: () => true,
      logger,
    });
    const answers = [
      await (await handler(new Request(`http://app.test/jobs/${started.id}`))).text(),
      await (await handler(new Request(`http://app.test/jobs/${started.id}/logs`))).text(),
      await (await handler(new Request(`http://app.test/jobs?accountId=${account.accountId}`))).text(),
      // The job is over: the stream sends the snapshot, the logs and `failed`, then ends.
      await (await handler(new Request(`http://app.test/jobs/${started.id}/events`))).text(),
    ];
    for (const text of answers) {
      expect(text).toContain(UNEXPECTED_FAILURE_MESSAGE);
      expect(text).not.toContain('db.internal');
    }
    expect(answers[3]).toContain('event: failed');

    const logged = logger.error.mock.calls.map(([message]) => String(message)).join('\n');
    expect(logged).toContain(SECRET);
    expect(logged).toContain(started.id);
    expect(logged).toMatch(/at .*unexpectedError\.test\.ts/); // the stack, for the bug report
    await engine.stop();
  });
});
