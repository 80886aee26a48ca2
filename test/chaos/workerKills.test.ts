import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncEngine, type Job, type SyncStore } from '@syncjob/core';
import { type RunningGmailEmulator, startGmailEmulator } from '@syncjob/gmail-emulator';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareWithMailbox,
  report,
  seededRandom,
  sleep,
  startWorker,
  type WorkerConfig,
  WorkerProcess,
  waitFor,
} from './chaosHarness';
import { type ChaosDatabase, openChaosDatabase, postgresAvailable, skipLoudly } from './chaosPostgres';

const MESSAGES = 10_000;
const KILLS = 10;
const LEASE_MS = 2_000;
const HEARTBEAT_MS = 500;
const BATCH_SIZE = 100;
// Fast enough that the sync is not the slow part, slow enough that 10 kills land inside it.
const SPEED = 20;
const ADDRESS = 'kills@example.com';

/** A source that never runs: the test process only starts jobs; the worker processes run them. */
const controlOnly = { id: 'gmail', async *run() {} };

/**
 * kill -9 of the worker running a 10,000-message sync, 10 times at seeded moments (points of the
 * listing + fetching work, so kills land in both phases), with a second worker standing by and a
 * fresh one spawned after each kill.
 */
async function killScenario(openStore: () => Promise<{ store: SyncStore; worker: WorkerConfig['store'] }>) {
  const gmail: RunningGmailEmulator = await startGmailEmulator({
    users: [{ address: ADDRESS, messages: MESSAGES, seed: 7 }],
    quota: 'legacy',
    speed: SPEED,
  });
  const { store, worker: storeConfig } = await openStore();
  const config: WorkerConfig = {
    store: storeConfig,
    emulatorUrl: gmail.url,
    leaseMs: LEASE_MS,
    heartbeatMs: HEARTBEAT_MS,
    pollIntervalMs: 100,
    quotaSpeed: SPEED,
    batchSize: BATCH_SIZE,
    maxAttempts: KILLS + 5,
  };
  const workers: WorkerProcess[] = await Promise.all([startWorker(config), startWorker(config)]);
  const control = createSyncEngine({ store, sources: [controlOnly], worker: false });
  try {
    const { job } = await control.start({ source: 'gmail', accountId: ADDRESS });
    const random = seededRandom(20_260_101);
    // Work units = listed + fetched, 2 per message: kill points spread over listing and fetching.
    const points = Array.from({ length: KILLS }, () =>
      Math.floor((0.02 + 0.9 * random()) * 2 * MESSAGES),
    ).sort((a, b) => a - b);
    const kills: Array<Record<string, unknown>> = [];
    let current: Job = job;
    for (const [n, point] of points.entries()) {
      current = await waitFor(
        `work ${point}`,
        async () => {
          const seen = (await store.getJob(job.id))!;
          if (seen.status === 'completed') throw new Error(`the sync completed before kill ${n + 1}`);
          return seen.counters.listed + seen.counters.fetched >= point && seen.status === 'running'
            ? seen
            : undefined;
        },
        120_000,
        20,
      );
      const owner = await waitFor(
        'the worker running the job',
        () => workers.find((w) => w.child.exitCode === null && w.runs(job.id, current.attempt)),
        10_000,
      );
      const killedAt = Date.now();
      await owner.kill9();
      workers.splice(workers.indexOf(owner), 1);
      workers.push(new WorkerProcess(config));
      const taken = await waitFor(
        'a takeover',
        async () => {
          const seen = (await store.getJob(job.id))!;
          return seen.attempt > current.attempt ? seen : undefined;
        },
        30_000,
        10,
      );
      const takeoverMs = Date.now() - killedAt;
      kills.push({
        kill: n + 1,
        phase: current.phase ?? 'just claimed',
        'listed+fetched at kill': current.counters.listed + current.counters.fetched,
        'takeover ms': takeoverMs,
        'new attempt': taken.attempt,
      });
      // The next point must be reached by the new owner, not by counters the dead one wrote late.
      await sleep(Math.floor(random() * 300));
    }
    const done = await waitFor(
      'completion',
      async () => {
        const seen = (await store.getJob(job.id))!;
        if (seen.status === 'failed' || seen.status === 'interrupted') {
          throw new Error(`job ended ${seen.status}: ${JSON.stringify(seen.error)}`);
        }
        return seen.status === 'completed' ? seen : undefined;
      },
      240_000,
      100,
    );
    const fetches = gmail.emulator.stats().byUser[ADDRESS]!.fetches;
    const comparison = await compareWithMailbox(store.data, gmail.emulator, ADDRESS);
    const refetched = fetches.totalFetches - fetches.distinctMessages;
    report(`kill -9 ×${KILLS} on ${store.kind}: takeovers`, kills);
    report(`kill -9 ×${KILLS} on ${store.kind}: outcome`, {
      ...comparison,
      attempts: done.attempt,
      'messages fetched twice or more': fetches.refetchedMessages,
      'extra fetches': refetched,
      'bound (kills × batch)': KILLS * BATCH_SIZE,
      'max fetches of one message': fetches.maxFetchesPerMessage,
      'takeover bound ms': LEASE_MS + HEARTBEAT_MS,
    });
    expect(kills).toHaveLength(KILLS);
    expect(comparison).toEqual({
      expected: MESSAGES,
      stored: MESSAGES,
      missing: 0,
      extra: 0,
      duplicated: 0,
      labelMismatches: 0,
    });
    for (const kill of kills) expect(kill['takeover ms']).toBeLessThanOrEqual(LEASE_MS + HEARTBEAT_MS);
    expect(done.attempt).toBe(KILLS + 1);
    expect(refetched).toBeLessThanOrEqual(KILLS * BATCH_SIZE);
  } finally {
    await Promise.all(workers.map((w) => w.terminate(10_000)));
    await control.stop({ timeoutMs: 1_000 });
    await store.close();
    await gmail.close();
  }
}

describe('kill -9 of worker processes during a 10,000-message sync', () => {
  it('SQLite: exact data, takeover within lease + heartbeat, at most one batch fetched again per kill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncjob-chaos-'));
    try {
      await killScenario(async () => {
        const path = join(dir, 'sync.db');
        return { store: createSqliteStore({ path }), worker: { kind: 'sqlite', path } };
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe.skipIf(skipLoudly('kill -9 on PostgreSQL', postgresAvailable))('PostgreSQL', () => {
    let database: ChaosDatabase;
    beforeAll(async () => {
      database = await openChaosDatabase();
    });
    afterAll(() => database?.dispose());

    it('PostgreSQL: exact data, takeover within lease + heartbeat, at most one batch fetched again per kill', async () => {
      await killScenario(async () => {
        const schema = database.schema();
        const store = await createPostgresStore({ connectionString: database.url, schema });
        return { store, worker: { kind: 'postgres', url: database.url, schema } };
      });
    });
  });
});
