/**
 * Cost per grant of the shared project quota (`projectQuota`) on each store: the store primitives
 * alone, and grants as sources get them through the engine (`ctx.projectQuota.take`), where a
 * worker leases a slice's worth of an account's share per round trip. Runs on the built packages:
 * `npm run bench:quota`. Prints tables.
 *
 * BENCH_SECONDS   seconds per cell (default 2)
 * DATABASE_URL    PostgreSQL to use; otherwise a throwaway cluster is started when the server
 *                 binaries are installed, and PostgreSQL is left out when they are not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SourceContext, SyncSource, SyncStore } from '@syncjob/core';
import { createMemoryStore, createSyncEngine } from '@syncjob/core';
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
/** Accounts syncing at once in the engine cells. */
const ACCOUNTS = 20;
/**
 * How each account calls in the engine cells, near the legacy per-user pace (250 units/s): one
 * `messages.get` (5 units) every 20 ms, or one batch of 50 of them (250 units) every 250 ms.
 */
const PACES = [
  { name: 'single 5 u / 20 ms', units: 5, pauseMs: 20 },
  { name: 'batch 250 u / 250 ms', units: 250, pauseMs: 250 },
] as const;
type Pace = (typeof PACES)[number];

interface Target {
  name: string;
  /** A store and a second instance over the same storage (another worker). */
  open(): Promise<[SyncStore, SyncStore]>;
  dispose?(): Promise<void> | void;
}

interface Row {
  store: string;
  /** µs per getJob of an unknown id: the store's bare round trip, to read the others against. */
  readUs: number;
  /** µs per takeQuota, one caller. */
  takeUs: number;
  /** takeQuota per second, 8 callers over two instances on one row. */
  takeContended: number;
  /** µs per reportQuotaDemand of 20 rows. */
  reportUs: number;
  /** Per pace: grants per second through the engine, store round trips per grant. */
  engine: Array<{ pace: string; grantsPerSec: number; tripsPerGrant: number; storeUsPerGrant: number }>;
}

const window = (key: string) => ({ key, limit: Number.MAX_SAFE_INTEGER, expiresAt: Date.now() + 3_600_000 });

/** Runs `op` until the time is up, `callers` at once; returns ops/s. */
async function measure(op: (caller: number) => Promise<unknown>, callers = 1): Promise<number> {
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      while (performance.now() < until) {
        await op(caller);
        done += 1;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** The store, counting its quota round trips. */
function counting(store: SyncStore) {
  const counts = { take: 0, report: 0 };
  const wrapped = Object.assign(Object.create(store) as SyncStore, {
    takeQuota: (input: Parameters<SyncStore['takeQuota']>[0]) => {
      counts.take += 1;
      return store.takeQuota(input);
    },
    reportQuotaDemand: (input: Parameters<SyncStore['reportQuotaDemand']>[0]) => {
      counts.report += 1;
      return store.reportQuotaDemand(input);
    },
  });
  return { store: wrapped, counts };
}

/** A source whose runs take units at `pace` from the project budget until stopped. */
function takingSource(pace: Pace, granted: { calls: number }, stopAt: () => number): SyncSource {
  return {
    id: 'bench',
    async *run(ctx: SourceContext) {
      while (Date.now() < stopAt()) {
        await ctx.projectQuota?.take(pace.units);
        granted.calls += 1;
        // The call itself, as the network would take it.
        await new Promise((resolve) => setTimeout(resolve, pace.pauseMs));
      }
      yield { checkpoint: null, phase: 'finalizing' };
    },
  };
}

/**
 * Grants through the engine: `ACCOUNTS` jobs calling at `pace` under a budget that does not bind,
 * so what is measured is the cost, not the waits.
 */
async function engineCell(store: SyncStore, pace: Pace, tripUs: number): Promise<Row['engine'][number]> {
  const { store: counted, counts } = counting(store);
  const granted = { calls: 0 };
  let stopAt = Number.POSITIVE_INFINITY;
  const engine = createSyncEngine({
    store: counted,
    sources: [takingSource(pace, granted, () => stopAt)],
    concurrency: ACCOUNTS,
    pollIntervalMs: 20,
    projectQuota: { unitsPerMinute: 10_000_000_000, scope: `engine-bench-${pace.units}` },
  });
  const jobs: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    jobs.push((await engine.start({ source: 'bench', accountId: `a${i}` })).job.id);
  }
  // Warm-up: every account running and past its first slice.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const calls0 = granted.calls;
  const trips0 = counts.take + counts.report;
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const calls = granted.calls - calls0;
  const trips = counts.take + counts.report - trips0;
  stopAt = 0;
  for (const id of jobs) {
    while (!['completed', 'failed'].includes((await engine.getJob(id))?.status ?? '')) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  await engine.stop();
  return {
    pace: pace.name,
    grantsPerSec: calls / elapsed,
    tripsPerGrant: trips / calls,
    storeUsPerGrant: (trips / calls) * tripUs,
  };
}

async function benchTarget(target: Target): Promise<Row> {
  const [store, peer] = await target.open();
  try {
    const readOps = await measure(() => store.getJob('00000000-0000-4000-8000-000000000000'));
    let n = 0;
    const takeOps = await measure(() =>
      store.takeQuota({ scope: 'bench', units: 1, windows: [window(`a${n++ % 50}`)] }),
    );
    const hot = window('hot');
    const takeContended = await measure(
      (caller) => (caller % 2 ? peer : store).takeQuota({ scope: 'bench', units: 1, windows: [hot] }),
      8,
    );
    const demands = Array.from({ length: 20 }, (_, i) => ({
      demander: `gmail:user-${i}`,
      priority: 0,
      wanted: null,
      seenAt: Date.now(),
    }));
    const reportOps = await measure(() =>
      store.reportQuotaDemand({ scope: 'bench', upsert: demands, activeSince: 0, now: Date.now() }),
    );

    const tripUs = (1e6 / takeOps + 1e6 / reportOps) / 2;
    const engineCells: Row['engine'] = [];
    for (const pace of PACES) engineCells.push(await engineCell(store, pace, tripUs));
    return {
      store: target.name,
      readUs: 1e6 / readOps,
      takeUs: 1e6 / takeOps,
      takeContended,
      reportUs: 1e6 / reportOps,
      engine: engineCells,
    };
  } finally {
    await peer.close();
    await store.close();
    await target.dispose?.();
  }
}

async function main(): Promise<void> {
  const targets: Target[] = [];
  const memory = createMemoryStore();
  targets.push({ name: 'memory', open: async () => [memory, memory] });

  const sqliteDir = mkdtempSync(join(tmpdir(), 'syncjob-quota-bench-'));
  targets.push({
    name: 'sqlite',
    open: async () => [
      createSqliteStore({ path: join(sqliteDir, 'bench.db') }),
      createSqliteStore({ path: join(sqliteDir, 'bench.db') }),
    ],
    dispose: () => rmSync(sqliteDir, { recursive: true, force: true }),
  });

  let cluster: PgCluster | undefined;
  let postgresUrl = DATABASE_URL;
  if (!postgresUrl && findPostgresBinaries()) {
    cluster = await startPgCluster({ database: 'syncjob_bench' });
    postgresUrl = cluster.url;
  }
  const schema = `quota_bench_${process.pid}`;
  if (postgresUrl) {
    const url = postgresUrl;
    targets.push({
      name: 'postgres',
      open: async () => {
        const first = await createPostgresStore({ connectionString: url, schema });
        return [first, await createPostgresStore({ connectionString: url, schema })];
      },
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

  const rows: Row[] = [];
  try {
    for (const target of targets) {
      process.stderr.write(`benchmarking ${target.name}…\n`);
      rows.push(await benchTarget(target));
    }
  } finally {
    await cluster?.stop();
  }

  const fmt = (value: number, digits = 0) =>
    value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  console.log(`\nShared project quota: store primitives (${seconds} s per cell)\n`);
  console.log(
    '| store | getJob µs (a bare read) | takeQuota µs (1 caller) | takeQuota/s (8 callers, 2 instances, 1 row) | reportQuotaDemand µs (20 rows) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(
      `| ${row.store} | ${fmt(row.readUs, 1)} | ${fmt(row.takeUs, 1)} | ${fmt(row.takeContended)} | ${fmt(row.reportUs, 1)} |`,
    );
  }
  console.log(
    `\nShared project quota: cost per grant through the engine (${ACCOUNTS} accounts, ${seconds} s)\n`,
  );
  console.log('| store | pace per account | grants/s | store round trips per grant | store µs per grant |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const row of rows) {
    for (const cell of row.engine) {
      console.log(
        `| ${row.store} | ${cell.pace} | ${fmt(cell.grantsPerSec)} | ${fmt(cell.tripsPerGrant, 3)} | ${fmt(cell.storeUsPerGrant, 1)} |`,
      );
    }
  }
}

await main();
