import { describe, expect, it } from 'vitest';
import { SyncError } from '../errors';
import type { SourceBatch, SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import { runPendingJobs } from '../testing/runPendingJobs';
import { createSyncEngine } from './syncEngine';

const account = { source: 'test', accountId: 'alice@example.test' };
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Stores 10 items a batch; after the second batch one call fails once (NETWORK) and is retried with
 * `ctx.retry`, in place or (`inBackground`) while the source waits for it as other work would.
 */
function retryingSource(inBackground: boolean, onFirstFailure: () => void): SyncSource {
  const batch = (n: number): SourceBatch => ({
    phase: 'fetching',
    total: 50,
    counts: { fetched: 10, stored: 10 },
    checkpoint: { batch: n },
  });
  return {
    id: 'test',
    async *run(ctx) {
      yield batch(1);
      await pause(20);
      yield batch(2);
      let attempts = 0;
      await ctx.retry(
        async () => {
          attempts += 1;
          if (attempts === 1) {
            onFirstFailure();
            throw new SyncError('NETWORK', 'Gmail answered 503; this is usually temporary.', {
              retryable: true,
            });
          }
        },
        { label: 'fetch batch 3', inBackground },
      );
      yield batch(3);
    },
  };
}

describe('ctx.retry in the background', () => {
  it.each([
    [false, null],
    [true, 'a number'],
  ] as const)(
    'inBackground %s: the retry is logged; the ETA shown while it waits is %s',
    async (inBackground, expected) => {
      let etaWhileWaiting: number | null | undefined;
      let shown: number | null = null;
      const engine = createSyncEngine({
        store: createMemoryStore(),
        sources: [
          // The ETA the modal shows, read while the 50 ms wait is under way.
          retryingSource(inBackground, () => setTimeout(() => (etaWhileWaiting = shown), 25)),
        ],
        worker: false,
        retry: { retries: 2, minDelayMs: 50, maxDelayMs: 50 },
        eta: { halfLifeMs: 1_000, minSignalMs: 0 },
        progress: { emitIntervalMs: 0 },
      });
      engine.on('progress', ({ progress }) => {
        shown = progress.etaSeconds;
      });
      const { job: started } = await engine.start(account);
      await runPendingJobs(engine);

      const job = await engine.getJob(started.id);
      expect(job?.status).toBe('completed');
      const logs = await engine.getLogs(started.id, { limit: 100 });
      expect(logs.some((line) => /^fetch batch 3 failed \(NETWORK: .*retrying in/.test(line.message))).toBe(
        true,
      );
      if (expected === null) expect(etaWhileWaiting).toBeNull();
      else expect(etaWhileWaiting).toEqual(expect.any(Number));
      await engine.stop();
    },
  );
});
