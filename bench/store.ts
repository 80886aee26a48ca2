/**
 * Store throughput: operations per second of the hot paths of a sync (start, claim, heartbeat, log
 * append, commit of a 100-message batch with its checkpoint) for each store, one caller at a time
 * (latency-bound, as one worker sees it). Runs on the built packages: `npm run bench:store`.
 *
 * BENCH_SECONDS   seconds per cell (default 2)
 * DATABASE_URL    PostgreSQL to use; otherwise a throwaway cluster is started when the server
 *                 binaries are installed, and PostgreSQL is left out when they are not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchCommit, Lease, MailMessage, SyncStore } from '@syncjob/core';
import { createMemoryStore, emptyCounters } from '@syncjob/core';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import {
  findPostgresBinaries,
  type PgCluster,
  startPgCluster,
} from '../packages/adapters/postgres/test/pgCluster.ts';

// Read once here: a benchmark's knobs, not inputs of any turbo task.
const { BENCH_SECONDS, DATABASE_URL } = process.env;
const seconds = Number(BENCH_SECONDS ?? 2);
const BATCH_SIZE = 100;

interface Target {
  name: string;
  open(): Promise<SyncStore>;
  dispose?(): Promise<void> | void;
}

let accountCounter = 0;
const nextAccount = () => ({ source: 'gmail', accountId: `bench-${accountCounter++}` });

/**
 * Runs `op` over items made by `prepare` (untimed, in chunks) until the time is up; returns ops/s.
 * Preparing outside the clock keeps, e.g., job creation out of the claim figure.
 */
async function measure<T>(
  prepare: (n: number) => Promise<T[]>,
  op: (item: T) => Promise<unknown>,
): Promise<number> {
  let done = 0;
  let elapsed = 0;
  const budget = seconds * 1000;
  for (let chunk = 20; elapsed < budget; chunk = Math.min(chunk * 2, 1000)) {
    const items = await prepare(chunk);
    const started = performance.now();
    for (const item of items) {
      await op(item);
      done += 1;
      if (performance.now() - started + elapsed >= budget) break;
    }
    elapsed += performance.now() - started;
  }
  return done / (elapsed / 1000);
}

const repeat =
  <T>(value: T) =>
  async (n: number) =>
    Array.from({ length: n }, () => value);

async function runningLease(store: SyncStore): Promise<Lease> {
  await store.createJob({ ...nextAccount(), mode: 'full', trigger: 'manual' });
  const claimed = await store.claimJob({ workerId: 'bench', leaseMs: 10 * 60_000 });
  if (!claimed) throw new Error('nothing to claim');
  return claimed.lease;
}

function benchMessage(index: number): MailMessage {
  return {
    id: `msg-${String(index).padStart(8, '0')}`,
    threadId: `thr-${Math.floor(index / 4)}`,
    historyId: String(10_000 + index),
    internalDate: 1_700_000_000_000 + index * 1000,
    labelIds: ['INBOX', 'CATEGORY_PERSONAL'],
    snippet: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.',
    sizeEstimate: 4096,
    headers: {
      From: 'someone@example.com',
      To: 'me@example.com',
      Subject: `Message ${index}`,
      Date: 'Tue, 1 Jan 2030',
    },
    category: 'primary',
  };
}

async function benchStore(target: Target): Promise<Record<string, number>> {
  const store = await target.open();
  try {
    const results: Record<string, number> = {};
    results.start = await measure(repeat(null), () =>
      store.createJob({ ...nextAccount(), mode: 'full', trigger: 'manual' }),
    );
    results.claim = await measure(
      async (n) => {
        for (let i = 0; i < n; i++)
          await store.createJob({ ...nextAccount(), mode: 'full', trigger: 'manual' });
        return Array.from({ length: n }, () => null);
      },
      async () => {
        if (!(await store.claimJob({ workerId: 'bench', leaseMs: 60_000 }))) throw new Error('queue ran dry');
      },
    );
    const lease = await runningLease(store);
    results.heartbeat = await measure(repeat(lease), (held) => store.renewLease(held, 10 * 60_000));
    results['log append'] = await measure(repeat(lease), (held) =>
      store.appendLogs(held.jobId, [{ level: 'info', message: 'Fetched page', data: { page: 1 } }], held),
    );
    let next = 0;
    const counters = emptyCounters();
    results[`commit ${BATCH_SIZE} msgs`] = await measure(repeat(lease), (held) => {
      const start = next;
      next += BATCH_SIZE;
      counters.fetched = counters.stored = next;
      const commit: BatchCommit = {
        write: { upsertMessages: Array.from({ length: BATCH_SIZE }, (_, i) => benchMessage(start + i)) },
        checkpoint: {
          jobId: held.jobId,
          mode: 'full',
          data: { next },
          counters,
          categoryCounts: {},
          phase: 'fetching',
        },
        progress: { phase: 'fetching', counters },
        logs: [{ level: 'info', message: `Stored ${BATCH_SIZE} messages.` }],
      };
      return store.commitBatch(held, commit);
    });
    return results;
  } finally {
    await store.close();
    await target.dispose?.();
  }
}

async function main(): Promise<void> {
  const targets: Target[] = [{ name: 'memory', open: async () => createMemoryStore() }];

  const sqliteDir = mkdtempSync(join(tmpdir(), 'syncjob-bench-'));
  targets.push({
    name: 'sqlite',
    open: async () => createSqliteStore({ path: join(sqliteDir, 'bench.db') }),
    dispose: () => rmSync(sqliteDir, { recursive: true, force: true }),
  });

  let cluster: PgCluster | undefined;
  let postgresUrl = DATABASE_URL;
  if (!postgresUrl && findPostgresBinaries()) {
    cluster = await startPgCluster({ database: 'syncjob_bench' });
    postgresUrl = cluster.url;
  }
  const schema = `bench_${process.pid}`;
  if (postgresUrl) {
    const url = postgresUrl;
    targets.push({
      name: 'postgres',
      open: () => createPostgresStore({ connectionString: url, schema }),
      dispose: async () => {
        if (cluster) return;
        const cleanup = await createPostgresStore({ connectionString: url, schema, migrate: false });
        await cleanup.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await cleanup.close();
      },
    });
  } else {
    console.warn('PostgreSQL left out: set DATABASE_URL or apt-get install postgresql.');
  }

  const rows: Array<{ store: string; results: Record<string, number> }> = [];
  try {
    for (const target of targets) {
      process.stderr.write(`benchmarking ${target.name}…\n`);
      rows.push({ store: target.name, results: await benchStore(target) });
    }
  } finally {
    await cluster?.stop();
  }

  const operations = Object.keys(rows[0]?.results ?? {});
  const header = ['store', ...operations];
  const table = rows.map((row) => [
    row.store,
    ...operations.map((op) => Math.round(row.results[op] ?? 0).toLocaleString('en-US')),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...table.map((cells) => cells[i]!.length)));
  const format = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\nStore operations per second (one caller, ${seconds} s per cell)\n`);
  console.log(format(header));
  console.log(
    `|${widths.map((width, i) => (i === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`,
  );
  for (const cells of table) console.log(format(cells));
}

await main();
