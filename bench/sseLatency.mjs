// Event → client latency over SSE on loopback: a source yields a batch with a timestamped log line
// every few ms; the engine commits it and emits the event; the HTTP handler streams it; the
// browser client (sseTransport over fetch) folds it. Latency = receipt time − the time the batch was
// yielded. Uses the BUILT packages (`npx turbo run build --filter=@syncjob/sqlite...`).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { createMemoryStore, createSyncEngine } from '@syncjob/core';
import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { createSqliteStore } from '@syncjob/sqlite';

// `node bench/sseLatency.mjs [events] [gapMs]`
const EVENTS = Number(process.argv[2] ?? 300);
const GAP_MS = Number(process.argv[3] ?? 10);

/** A source that yields one timestamped log line per batch. */
const tickSource = {
  id: 'bench',
  async *run() {
    yield { checkpoint: 0, total: EVENTS, phase: 'fetching' };
    for (let i = 1; i <= EVENTS; i++) {
      await delay(GAP_MS);
      yield {
        checkpoint: i,
        counts: { fetched: 1, stored: 1 },
        logs: [{ level: 'info', message: `tick ${i}`, data: { sentAt: performance.now() } }],
      };
    }
  },
};

async function measure(label, { workerStore, webStore, pollIntervalMs }) {
  const worker = createSyncEngine({ store: workerStore, sources: [tickSource], pollIntervalMs: 20 });
  const web =
    webStore === workerStore
      ? worker
      : createSyncEngine({ store: webStore, sources: [tickSource], worker: false });
  const handler = createSyncHandler(web, {
    authenticate: () => 'bench',
    authorizeAccount: () => true,
    pollIntervalMs,
  });
  const server = createServer(toNodeHandler(handler));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = createSyncClient({
    transport: sseTransport({ baseUrl: `http://127.0.0.1:${server.address().port}` }),
  });
  const { job } = await client.start({ source: 'bench', accountId: label });
  const observer = client.observe(job.id);
  const latencies = [];
  let seen = 0;
  await new Promise((resolve) => {
    const leave = observer.subscribe((snapshot) => {
      const now = performance.now();
      for (const entry of snapshot.logs.slice(seen)) {
        if (typeof entry.data?.sentAt === 'number') latencies.push(now - entry.data.sentAt);
      }
      seen = snapshot.logs.length;
      if (snapshot.isFinished) {
        leave();
        resolve();
      }
    });
  });
  await worker.stop({ timeoutMs: 1000 });
  if (web !== worker) await web.stop({ timeoutMs: 1000 });
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    path: label,
    events: latencies.length,
    'p50 ms': at(0.5).toFixed(1),
    'p95 ms': at(0.95).toFixed(1),
    'p99 ms': at(0.99).toFixed(1),
    'max ms': latencies.at(-1).toFixed(1),
  };
}

const directory = mkdtempSync(join(tmpdir(), 'syncjob-bench-'));
try {
  const rows = [];
  const memory = createMemoryStore();
  rows.push(await measure('memory, same process (engine events)', { workerStore: memory, webStore: memory }));
  const file = join(directory, 'bench.db');
  const sqlite = createSqliteStore({ path: file });
  rows.push(await measure('sqlite, same process (engine events)', { workerStore: sqlite, webStore: sqlite }));
  rows.push(
    await measure('sqlite, other engine (store polling 100 ms)', {
      workerStore: createSqliteStore({ path: file }),
      webStore: createSqliteStore({ path: file }),
      pollIntervalMs: 100,
    }),
  );
  console.log(
    `SSE event → client latency on loopback (${EVENTS} events, one every ${GAP_MS} ms; target p95 ≤ 100 ms)`,
  );
  console.table(rows);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
