import { createMemoryStore, createSyncEngine, type SyncEngine, type SyncSource } from '@syncjob/core';
import { createSyncHandler } from '@syncjob/core/http';
import { http } from 'msw';
import { BASE } from './mockApi';

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/** A mailbox of `total` messages synced 50 at a time, four batches a second, with categories. */
function simulatedSource(total: number): SyncSource<{ done: number }> {
  return {
    id: 'gmail',
    async *run(context) {
      let done = context.checkpoint?.done ?? 0;
      yield {
        checkpoint: { done },
        phase: 'listing',
        logs: [{ level: 'info', message: 'Counting messages…' }],
      };
      await wait(1_500, context.signal);
      yield {
        checkpoint: { done },
        phase: 'fetching',
        total,
        logs: [{ level: 'info', message: `The mailbox has ${total.toLocaleString('en-US')} messages.` }],
      };
      while (done < total) {
        await wait(250, context.signal);
        const count = Math.min(50, total - done);
        done += count;
        yield {
          checkpoint: { done },
          counts: { fetched: count, classified: count, stored: count - 2, skipped: 2 },
          categoryCounts: { primary: count - 20, promotions: 12, social: 8 },
          currentItem: `batch ${Math.ceil(done / 50)}`,
          logs: [
            {
              level: done % 1_000 === 0 ? 'warn' : 'info',
              message:
                done % 1_000 === 0
                  ? 'Gmail asked to slow down; continuing at a lower rate.'
                  : `Stored ${count} messages (${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}).`,
            },
          ],
        };
      }
    },
  };
}

let engine: SyncEngine | null = null;

/** A real engine, memory store and simulated source running in the page, behind the real HTTP handler. */
export function liveApi() {
  engine ??= createSyncEngine({ store: createMemoryStore(), sources: [simulatedSource(6_000)] });
  const handler = createSyncHandler(engine, {
    basePath: BASE,
    authenticate: () => 'storybook',
    authorizeAccount: () => true,
  });
  return [http.all(`${BASE}/*`, ({ request }) => handler(request))];
}
