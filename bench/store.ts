/**
 * Store throughput: operations per second of the hot paths of a sync (start, claim, heartbeat, log
 * append, commit of a 100-message batch with its checkpoint) for each store, one caller at a time
 * (latency-bound, as one worker sees it). Runs on the built packages: `npm run bench:store`.
 *
 * `npm run bench:store -- --against <checkout>` compares this build with another built checkout of
 * syncjob instead (e.g. a `git worktree` of an older commit, after `npm ci && npm run build` there):
 * both builds run in this process, one operation of one, then one of the other, and the table gives
 * the median time per operation of each. Interleaving single operations puts both builds under the
 * same machine load, which whole runs one after the other on a shared machine do not.
 *
 * BENCH_SECONDS   seconds per cell (default 2)
 * BENCH_OPS       operations per cell and build with --against (default 3000; commits a tenth)
 * DATABASE_URL    PostgreSQL to use; otherwise a throwaway cluster is started when the server
 *                 binaries are installed, and PostgreSQL is left out when they are not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Lease, MailMessage, SyncStore } from '@syncjob/core';
import { createMemoryStore, emptyCounters } from '@syncjob/core';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import {
  findPostgresBinaries,
  type PgCluster,
  startPgCluster,
} from '../packages/adapters/postgres/test/pgCluster.ts';

// Read once here: a benchmark's knobs, not inputs of any turbo task.
const { BENCH_SECONDS, BENCH_OPS, DATABASE_URL } = process.env;
const seconds = Number(BENCH_SECONDS ?? 2);
const comparedOps = Number(BENCH_OPS ?? 3000);
const BATCH_SIZE = 100;

/** One build's store factories: this checkout's packages, or another checkout's `dist`. */
interface Build {
  createMemoryStore: typeof createMemoryStore;
  createSqliteStore: typeof createSqliteStore;
  createPostgresStore: typeof createPostgresStore;
}

const thisBuild: Build = { createMemoryStore, createSqliteStore, createPostgresStore };

async function loadBuild(checkout: string): Promise<Build> {
  const dist = (path: string) => import(join(resolve(checkout), path, 'dist/index.js'));
  const [core, sqlite, postgres] = await Promise.all([
    dist('packages/core'),
    dist('packages/adapters/sqlite'),
    dist('packages/adapters/postgres'),
  ]);
  return {
    createMemoryStore: core.createMemoryStore,
    createSqliteStore: sqlite.createSqliteStore,
    createPostgresStore: postgres.createPostgresStore,
  };
}

interface Target {
  name: string;
  open(build: Build, tag: string): Promise<SyncStore>;
  dispose?(): Promise<void> | void;
}

let accountCounter = 0;
const nextAccount = () => ({ source: 'gmail', accountId: `bench-${accountCounter++}` });

const createJobs = async (store: SyncStore, n: number) => {
  for (let i = 0; i < n; i++) await store.createJob({ ...nextAccount(), mode: 'full', trigger: 'manual' });
};

async function runningLease(store: SyncStore): Promise<Lease> {
  await createJobs(store, 1);
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

/**
 * One measured operation: `setUp` makes what every call needs (a running job's lease), `stock`
 * queues the work `run` consumes, untimed (claims need queued jobs), and `run` is what is timed.
 */
interface Operation {
  name: string;
  /** Calls per cell with --against, as a share of BENCH_OPS. */
  share: number;
  setUp(store: SyncStore): Promise<(store: SyncStore) => Promise<unknown>>;
  stock?(store: SyncStore, n: number): Promise<void>;
}

const OPERATIONS: Operation[] = [
  {
    name: 'start',
    share: 1,
    setUp: async () => (store) => createJobs(store, 1),
  },
  {
    name: 'claim',
    share: 1,
    stock: createJobs,
    setUp: async () => async (store) => {
      if (!(await store.claimJob({ workerId: 'bench', leaseMs: 60_000 }))) throw new Error('queue ran dry');
    },
  },
  {
    name: 'heartbeat',
    share: 1,
    setUp: async (store) => {
      const lease = await runningLease(store);
      return (held) => held.renewLease(lease, 10 * 60_000);
    },
  },
  {
    name: 'log append',
    share: 1,
    setUp: async (store) => {
      const lease = await runningLease(store);
      return (held) =>
        held.appendLogs(lease.jobId, [{ level: 'info', message: 'Fetched page', data: { page: 1 } }], lease);
    },
  },
  {
    name: `commit ${BATCH_SIZE} msgs`,
    share: 0.1,
    setUp: async (store) => {
      const lease = await runningLease(store);
      let next = 0;
      const counters = emptyCounters();
      return (held) => {
        const start = next;
        next += BATCH_SIZE;
        counters.fetched = counters.stored = next;
        return held.commitBatch(lease, {
          write: { upsertMessages: Array.from({ length: BATCH_SIZE }, (_, i) => benchMessage(start + i)) },
          checkpoint: {
            jobId: lease.jobId,
            mode: 'full',
            data: { next },
            counters,
            categoryCounts: {},
            phase: 'fetching',
          },
          progress: { phase: 'fetching', counters },
          logs: [{ level: 'info', message: `Stored ${BATCH_SIZE} messages.` }],
        });
      };
    },
  },
];

/** Calls `run` until the time is up (stocking in growing chunks, untimed); returns ops/s. */
async function throughput(store: SyncStore, operation: Operation): Promise<number> {
  const run = await operation.setUp(store);
  let done = 0;
  let elapsed = 0;
  const budget = seconds * 1000;
  for (let chunk = 20; elapsed < budget; chunk = Math.min(chunk * 2, 1000)) {
    await operation.stock?.(store, chunk);
    const started = performance.now();
    for (let i = 0; i < chunk; i++) {
      await run(store);
      done += 1;
      if (performance.now() - started + elapsed >= budget) break;
    }
    elapsed += performance.now() - started;
  }
  return done / (elapsed / 1000);
}

/** Median µs per call of each store, calling them alternately, one call at a time. */
async function alternate(stores: [SyncStore, SyncStore], operation: Operation): Promise<[number, number]> {
  const calls = Math.max(50, Math.round(comparedOps * operation.share));
  const runs = await Promise.all(
    stores.map(async (store) => {
      await operation.stock?.(store, calls);
      return operation.setUp(store);
    }),
  );
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < calls; i++) {
    // Alternate who goes first, so neither always runs right after the other's garbage.
    for (const side of i % 2 ? [0, 1] : [1, 0]) {
      const started = performance.now();
      await runs[side]!(stores[side]!);
      times[side]!.push((performance.now() - started) * 1000);
    }
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
  return [median(times[0]), median(times[1])];
}

function printTable(title: string, header: string[], rows: string[][]): void {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((cells) => cells[i]!.length)));
  const format = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(format(header));
  console.log(
    `|${widths.map((width, i) => (i === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`,
  );
  for (const cells of rows) console.log(format(cells));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { against: { type: 'string' } } });
  const other = values.against === undefined ? undefined : await loadBuild(values.against);

  const sqliteDir = mkdtempSync(join(tmpdir(), 'syncjob-bench-'));
  const targets: Target[] = [
    { name: 'memory', open: async (build) => build.createMemoryStore() },
    {
      name: 'sqlite',
      open: async (build, tag) => build.createSqliteStore({ path: join(sqliteDir, `bench-${tag}.db`) }),
      dispose: () => rmSync(sqliteDir, { recursive: true, force: true }),
    },
  ];
  let cluster: PgCluster | undefined;
  let postgresUrl = DATABASE_URL;
  if (!postgresUrl && findPostgresBinaries()) {
    cluster = await startPgCluster({ database: 'syncjob_bench' });
    postgresUrl = cluster.url;
  }
  if (postgresUrl) {
    const url = postgresUrl;
    const schemas: string[] = [];
    targets.push({
      name: 'postgres',
      open: (build, tag) => {
        const schema = `bench_${process.pid}_${tag}`;
        schemas.push(schema);
        return build.createPostgresStore({ connectionString: url, schema });
      },
      dispose: async () => {
        if (cluster) return;
        const cleanup = await createPostgresStore({ connectionString: url, migrate: false });
        for (const schema of schemas) await cleanup.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await cleanup.close();
      },
    });
  } else {
    console.warn('PostgreSQL left out: set DATABASE_URL or apt-get install postgresql.');
  }

  const rows: string[][] = [];
  try {
    for (const target of targets) {
      process.stderr.write(`benchmarking ${target.name}…\n`);
      // One store per build for all operations, in order: a claim finds the jobs the starts left.
      const stores = other ? [await target.open(other, 'against'), await target.open(thisBuild, 'this')] : [];
      const store = other ? undefined : await target.open(thisBuild, 'this');
      try {
        const cells: string[] = [];
        for (const operation of OPERATIONS) {
          if (store) {
            cells.push(Math.round(await throughput(store, operation)).toLocaleString('en-US'));
            continue;
          }
          const [before, after] = await alternate(stores as [SyncStore, SyncStore], operation);
          rows.push([
            `${target.name} · ${operation.name}`,
            before.toFixed(1),
            after.toFixed(1),
            `${after > before ? '+' : ''}${((after / before - 1) * 100).toFixed(1)} %`,
          ]);
        }
        if (store) rows.push([target.name, ...cells]);
      } finally {
        for (const opened of store ? [store] : stores) await opened.close();
        await target.dispose?.();
      }
    }
  } finally {
    await cluster?.stop();
  }

  if (other) {
    printTable(
      `Median µs per call, ${values.against} → this build (${comparedOps} calls each, alternated one by one)`,
      ['store · operation', 'against', 'this build', 'change'],
      rows,
    );
  } else {
    printTable(
      `Store operations per second (one caller, ${seconds} s per cell)`,
      ['store', ...OPERATIONS.map((operation) => operation.name)],
      rows,
    );
  }
}

await main();
