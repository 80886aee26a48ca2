// The sources of bench/sseLatency.mjs, shared with its worker process (bench/sseWorker.mjs).
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

/** Epoch milliseconds with sub-millisecond resolution, comparable between processes of one machine. */
export const epochNow = () => performance.timeOrigin + performance.now();

/** `bench` yields one timestamped log line per batch; `idle` yields its phase, then nothing until stopped. */
export const benchSourcesFor = ({ events, gapMs }) => [
  {
    id: 'bench',
    async *run() {
      yield { checkpoint: 0, total: events, phase: 'fetching' };
      for (let i = 1; i <= events; i++) {
        await delay(gapMs);
        yield {
          checkpoint: i,
          counts: { fetched: 1, stored: 1 },
          logs: [{ level: 'info', message: `tick ${i}`, data: { sentAt: epochNow() } }],
        };
      }
    },
  },
  {
    id: 'idle',
    async *run({ signal }) {
      yield { checkpoint: 0, total: 1, phase: 'fetching' };
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    },
  },
];
