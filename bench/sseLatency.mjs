// Event → client latency over SSE on loopback, and the CPU an idle open stream costs, with DEFAULT
// settings (no tuned poll interval anywhere). A source yields a batch with a timestamped log line
// every few ms; the engine commits it; the web process's HTTP handler streams it; the browser client
// (sseTransport over fetch) folds it. Latency = receipt time − the time the batch was yielded (epoch
// clock with sub-ms resolution, comparable across processes of one machine). "Another process" runs
// the worker engine in bench/sseWorker.mjs; the web process has `worker: false`, as in a deployment of
// a web app plus `syncjob worker`. Uses the BUILT packages (`npm run bench:sse` builds them first).
//
// `node bench/sseLatency.mjs [events] [gapMs] [idleStreams] [idleSeconds]`
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createMemoryStore, createSyncEngine } from '@syncjob/core';
import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import { findPostgresBinaries, startPgCluster } from '../packages/adapters/postgres/test/pgCluster.ts';
import { benchSourcesFor, epochNow } from './sseSources.mjs';

const EVENTS = Number(process.argv[2] ?? 300);
const GAP_MS = Number(process.argv[3] ?? 10);
const IDLE_STREAMS = Number(process.argv[4] ?? 100);
const IDLE_SECONDS = Number(process.argv[5] ?? 10);
const { DATABASE_URL } = process.env;
const benchSources = benchSourcesFor({ events: EVENTS, gapMs: GAP_MS });

/** A worker engine (default settings) in a process of its own, on the given store. */
async function spawnWorker(kind, target) {
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL('./sseWorker.mjs', import.meta.url)),
      kind,
      target,
      String(EVENTS),
      String(GAP_MS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((resolve) => lines.once('line', resolve));
  if ((await next()) !== 'ready') throw new Error('worker did not start');
  return {
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** The web process's half: an engine without a worker (unless it is the worker), the handler, a server. */
async function serve(engine) {
  const handler = createSyncHandler(engine, {
    authenticate: (request) => request.headers.get('x-user') ?? 'bench',
    authorizeAccount: () => true,
  });
  const server = createServer(toNodeHandler(handler));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${server.address().port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** `workerStore`: the worker runs in this process on it; without it, in another process (started before). */
async function measure(label, { webStore, workerStore }) {
  const local = workerStore ? createSyncEngine({ store: workerStore, sources: benchSources }) : null;
  const web =
    local && webStore === workerStore
      ? local
      : createSyncEngine({ store: webStore, sources: benchSources, worker: false });
  const server = await serve(web);
  const client = createSyncClient({ transport: sseTransport({ baseUrl: server.baseUrl }) });
  const { job } = await client.start({ source: 'bench', accountId: label });
  const observer = client.observe(job.id);
  const latencies = [];
  let seen = 0;
  await new Promise((resolve) => {
    const leave = observer.subscribe((snapshot) => {
      const now = epochNow();
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
  if (local) await local.stop({ timeoutMs: 1000 });
  if (web !== local) await web.stop({ timeoutMs: 1000 });
  await server.close();
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

/** CPU time of this process over `seconds`, as % of one core. */
async function cpuPercent(seconds) {
  const before = process.cpuUsage();
  const start = performance.now();
  await delay(seconds * 1000);
  const used = process.cpuUsage(before);
  return ((used.user + used.system) / 1000 / (performance.now() - start)) * 100;
}

/**
 * The web process's CPU with no stream open, then with `IDLE_STREAMS` streams open on one running
 * job that produces nothing (its worker in another process), each for `IDLE_SECONDS`.
 */
async function idleCpu(label, webStore) {
  const web = createSyncEngine({ store: webStore, sources: benchSources, worker: false });
  const server = await serve(web);
  const { job } = await web.start({ source: 'idle', accountId: `${label}-idle` });
  while ((await web.getJob(job.id)).status !== 'running') await delay(20);
  const none = await cpuPercent(IDLE_SECONDS);
  const streams = [];
  for (let n = 0; n < IDLE_STREAMS; n++) {
    const controller = new AbortController();
    const response = await fetch(`${server.baseUrl}/jobs/${job.id}/events`, {
      headers: { 'x-user': `user-${n}` },
      signal: controller.signal,
    });
    if (!response.ok) throw new Error(`stream ${n}: HTTP ${response.status}`);
    const reader = response.body.getReader();
    void (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {}
    })();
    streams.push(controller);
  }
  await delay(1000);
  const open = await cpuPercent(IDLE_SECONDS);
  for (const controller of streams) controller.abort();
  await web.cancel(job.id).catch(() => {});
  await web.stop({ timeoutMs: 1000 });
  await server.close();
  return {
    path: label,
    streams: IDLE_STREAMS,
    'web CPU, no stream %': none.toFixed(2),
    [`web CPU, ${IDLE_STREAMS} streams %`]: open.toFixed(2),
    'per stream % of a core': ((open - none) / IDLE_STREAMS).toFixed(4),
  };
}

const directory = mkdtempSync(join(tmpdir(), 'syncjob-bench-'));
let cluster = null;
const workers = [];
try {
  const rows = [];
  const idle = [];
  const memory = createMemoryStore();
  rows.push(await measure('memory, same process', { webStore: memory, workerStore: memory }));
  const file = join(directory, 'bench.db');
  const sqlite = createSqliteStore({ path: file });
  rows.push(await measure('sqlite, same process', { webStore: sqlite, workerStore: sqlite }));
  await sqlite.close();

  const sqliteWeb = createSqliteStore({ path: file });
  await sqliteWeb.listJobs();
  const sqliteWorker = await spawnWorker('sqlite', file);
  workers.push(sqliteWorker);
  rows.push(await measure('sqlite, worker in another process', { webStore: sqliteWeb }));
  idle.push(await idleCpu('sqlite, worker in another process', sqliteWeb));
  await sqliteWorker.stop();
  await sqliteWeb.close();

  let postgresUrl = DATABASE_URL;
  if (!postgresUrl && findPostgresBinaries()) {
    cluster = await startPgCluster({ database: 'syncjob_sse_bench' });
    postgresUrl = cluster.url;
  }
  if (postgresUrl) {
    const pgWeb = await createPostgresStore({ connectionString: postgresUrl });
    const pgWorker = await spawnWorker('postgres', postgresUrl);
    workers.push(pgWorker);
    rows.push(await measure('postgres, worker in another process', { webStore: pgWeb }));
    idle.push(await idleCpu('postgres, worker in another process', pgWeb));
    await pgWorker.stop();
    await pgWeb.close();
  } else {
    console.warn('PostgreSQL left out: set DATABASE_URL or apt-get install postgresql.');
  }
  console.log(
    `SSE event → client latency on loopback, default settings (${EVENTS} events, one every ${GAP_MS} ms; target p95 ≤ 25 ms)`,
  );
  console.table(rows);
  console.log(
    `Idle CPU of the web process: ${IDLE_STREAMS} SSE streams open on one running job that logs nothing, ${IDLE_SECONDS} s each (target < 1 % of a core per stream)`,
  );
  console.table(idle);
} finally {
  for (const worker of workers) await worker.stop().catch(() => {});
  await cluster?.stop();
  rmSync(directory, { recursive: true, force: true });
}
