import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StoreNotice } from '@syncjob/core';
import { expireWith } from '@syncjob/core/store';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../src/index';
import { describePostgres, dropSchemas, freshSchema, postgresUrl } from './testDatabase';

/**
 * Several OS processes against one database, as in production. The children import the BUILT
 * packages (`npm test` builds first; or `npx turbo run build --filter=@syncjob/postgres...`).
 */
const url = postgresUrl ?? '';
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}.mjs`, import.meta.url));
const built = fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface Child {
  process: ChildProcess;
  lines: string[];
  /** Resolves with the first stdout line matching `predicate`. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
}

const children: Child[] = [];

function run(name: string, args: string[]): Child {
  const child = spawn(process.execPath, [fixture(name), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    for (const wake of [...waiters]) wake();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const handle: Child = {
    process: child,
    lines,
    exited,
    waitForLine: (predicate, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (found === undefined) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `${name}: no expected line in ${timeoutMs} ms. stdout: ${lines.join(' | ')} stderr: ${stderr}`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
        exited.then(() => setTimeout(check, 0));
      }),
  };
  children.push(handle);
  return handle;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describePostgres('several processes on one database', () => {
  const schemas = new Set<string>();
  const stores: PostgresStore[] = [];
  const newStore = async (schema = freshSchema('mp')) => {
    schemas.add(schema);
    const store = await createPostgresStore({ connectionString: url, schema, maxConnections: 5 });
    stores.push(store);
    return store;
  };

  beforeAll(() => {
    if (!existsSync(built)) {
      throw new Error(
        'The multi-process tests need the built package: run `npx turbo run build --filter=@syncjob/postgres...` (npm test does).',
      );
    }
  });

  afterAll(async () => {
    for (const child of children) if (child.process.exitCode === null) child.process.kill('SIGKILL');
    await Promise.all(stores.map((store) => store.close()));
    await dropSchemas(url, schemas);
  });

  it('4 processes × 25 concurrent starts for one account create exactly one active job', async () => {
    const store = await newStore();
    const starters = Array.from({ length: 4 }, () =>
      run('concurrentStarts', [url, store.schema, 'acct-race', '25']),
    );
    await Promise.all(starters.map((child) => child.waitForLine((line) => line === 'ready')));
    for (const child of starters) child.process.stdin!.write('go\n');
    const outcomes = await Promise.all(
      starters.map(
        async (child) =>
          JSON.parse(await child.waitForLine((line) => line.startsWith('{'))) as {
            created: number;
            ids: string[];
          },
      ),
    );
    expect(outcomes.reduce((sum, outcome) => sum + outcome.created, 0)).toBe(1);
    expect(new Set(outcomes.flatMap((outcome) => outcome.ids)).size).toBe(1);
    expect(await store.listJobs({ accountId: 'acct-race' })).toHaveLength(1);
  });

  it('4 worker processes claim 200 queued jobs: each exactly once', async () => {
    const store = await newStore();
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      ids.push(
        (await store.createJob({ source: 'gmail', accountId: `acct-${i}`, mode: 'full', trigger: 'manual' }))
          .job.id,
      );
    }
    const workers = Array.from({ length: 4 }, (_, i) =>
      run('claimWorker', [url, store.schema, `worker-${i}`]),
    );
    const claimed = await Promise.all(
      workers.map(
        async (child) =>
          JSON.parse(await child.waitForLine((line) => line.startsWith('['), 60_000)) as string[],
      ),
    );
    const all = claimed.flat();
    expect(all).toHaveLength(200);
    expect(new Set(all)).toEqual(new Set(ids));
    const jobs = await store.listJobs({ limit: 500 });
    expect(jobs.every((job) => job.status === 'completed' && job.attempt === 1 && job.lastLogSeq === 1)).toBe(
      true,
    );
  }, 90_000);

  it('a worker process frozen past its lease writes nothing after another worker took over', async () => {
    const store = await newStore();
    const { job } = await store.createJob({
      source: 'gmail',
      accountId: 'acct-frozen',
      mode: 'full',
      trigger: 'manual',
    });
    const leaseMs = 800;
    const frozen = run('fencedWorker', [url, store.schema, String(leaseMs)]);
    await frozen.waitForLine((line) => line === 'committed 2');
    frozen.process.kill('SIGSTOP');
    await sleep(leaseMs * 2 + 200);
    expect(
      (await store.sweepExpired(expireWith({ autoResume: true, maxAttempts: 3 }))).map(({ job }) => job.id),
    ).toEqual([job.id]);
    const takeover = await store.claimJob({ workerId: 'rescuer', leaseMs: 60_000 });
    expect(takeover?.job.id).toBe(job.id);
    const before = await store.getJob(job.id);
    frozen.process.kill('SIGCONT');
    await frozen.waitForLine((line) => line === 'lease-lost');
    expect(await frozen.exited).toBe(0);
    await store.commitBatch(takeover!.lease, { logs: [{ level: 'info', message: 'from rescuer' }] });
    const logs = await store.getLogs(job.id, { limit: 5000 });
    const frozenLines = logs.filter((line) => line.message.startsWith('from frozen worker'));
    // Every line of the frozen worker predates the takeover; the rescuer's line follows with no gap.
    expect(frozenLines.every((line) => line.seq <= before!.lastLogSeq)).toBe(true);
    expect(logs.map((line) => line.seq)).toEqual(logs.map((_, i) => i + 1));
    expect(logs.at(-1)?.message).toBe('from rescuer');
    const committed = frozen.lines.filter((line) => line.startsWith('committed ')).length;
    expect(frozenLines).toHaveLength(committed);
    expect(await store.data.countMessages({ source: 'gmail', accountId: 'acct-frozen' })).toBe(committed);
  }, 30_000);

  it("a subscriber here hears of a child process's changes", async () => {
    const store = await newStore();
    const heard: StoreNotice[] = [];
    store.subscribe((notice) => heard.push(notice));
    const deadline = Date.now() + 5000;
    while (!store.isListening && Date.now() < deadline) await sleep(20);
    expect(store.isListening).toBe(true);
    const child = run('notifier', [url, store.schema, 'acct-notice']);
    const jobId = await child.waitForLine((line) => line.length === 36);
    const until = Date.now() + 5000;
    while (heard.length < 2 && Date.now() < until) await sleep(20);
    expect(heard).toEqual([
      { jobId, status: 'queued', lastLogSeq: 1 },
      { jobId, status: 'cancelled', lastLogSeq: 2 },
    ]);
  });
});
