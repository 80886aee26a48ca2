import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncEngine, type Job, type SyncStore } from '@syncjob/core';
import { startGmailEmulator } from '@syncjob/gmail-emulator';
import { createPostgresStore } from '@syncjob/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareWithMailbox,
  mb,
  PROFILE,
  report,
  seededRandom,
  sleep,
  startWorker,
  type WorkerProcess,
  waitFor,
} from './chaosHarness';
import { type ChaosDatabase, openChaosDatabase, postgresAvailable, skipLoudly } from './chaosPostgres';

const FULL = PROFILE === 'full';
const ACCOUNTS = FULL ? 50 : 10;
const MESSAGES = FULL ? 2_000 : 500;
const DURATION_MS = FULL ? 600_000 : 180_000;
/**
 * RSS is compared after this share of the soak: the first full syncs, JIT and V8's heap sizing come
 * before. Measured: a worker's RSS climbs for its first ~1,000 jobs, then stays flat.
 */
const WARM_UP = 0.5;
const SPEED = 20;
const addressOf = (n: number) => `soak${n}@example.com`;
/** Handles of a process that has stopped its engine and closed its store and still runs: a leak. */
const LEAKS = /Timeout|Immediate|TCP|Socket|Server|FSEvent|Signal|Process/i;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Waits for the job to end and answers its final state. */
const finished = (store: SyncStore, jobId: string, timeoutMs: number) =>
  waitFor<Job>(
    `job ${jobId} to end`,
    async () => {
      const job = (await store.getJob(jobId))!;
      return job.status === 'queued' || job.status === 'running' ? undefined : job;
    },
    timeoutMs,
    200,
  );

describe.skipIf(skipLoudly('soak', postgresAvailable))('soak on PostgreSQL with 2 worker processes', () => {
  let database: ChaosDatabase;
  beforeAll(async () => {
    database = await openChaosDatabase();
  });
  afterAll(() => database?.dispose());

  it(
    `${ACCOUNTS} accounts × ${MESSAGES} messages for ${DURATION_MS / 1000} s: steady memory, nothing left running, every account exact`,
    async () => {
      const gmail = await startGmailEmulator({
        users: Array.from({ length: ACCOUNTS }, (_, n) => ({
          address: addressOf(n),
          messages: MESSAGES,
          seed: 100 + n,
        })),
        quota: 'legacy',
        speed: SPEED,
      });
      const schema = database.schema();
      const store = await createPostgresStore({ connectionString: database.url, schema });
      const workerConfig = {
        store: { kind: 'postgres' as const, url: database.url, schema },
        emulatorUrl: gmail.url,
        quotaSpeed: SPEED,
        leaseMs: 10_000,
        heartbeatMs: 2_000,
        concurrency: 4,
        rssEveryMs: 1_000,
        // Incremental syncs of accounts idle for half a second, at most 6 scheduled jobs at once
        // overall: many short jobs, so the workers reach their steady state within the warm-up.
        schedule: { every: '500ms', staleAfter: '500ms', concurrency: 6 },
      };
      const workers: WorkerProcess[] = await Promise.all([
        startWorker(workerConfig),
        startWorker(workerConfig),
      ]);
      const scheduled = workers.every((w) => w.lines.some((l) => l.type === 'ready' && l.schedule));
      const control = createSyncEngine({ store, sources: [{ id: 'gmail', async *run() {} }], worker: false });
      const random = seededRandom(777);
      let mutations = 0;
      try {
        // The first full syncs are started here: the scheduler only knows accounts that have synced once.
        const soakStarted = Date.now();
        for (let n = 0; n < ACCOUNTS; n++) await control.start({ source: 'gmail', accountId: addressOf(n) });
        // Mail keeps arriving, leaving and being relabelled while the workers sync.
        while (Date.now() - soakStarted < DURATION_MS) {
          const address = addressOf(Math.floor(random() * ACCOUNTS));
          const mailbox = gmail.emulator.mailbox(address);
          const added = gmail.emulator.addMessage(address);
          const some = () => mailbox.idOf(Math.floor(random() * mailbox.size));
          const victim = some();
          if (mailbox.isLive(mailbox.indexOf(victim)!) && victim !== added.id)
            gmail.emulator.deleteMessage(address, victim);
          const relabel = some();
          if (mailbox.isLive(mailbox.indexOf(relabel)!)) {
            gmail.emulator.modifyLabels(
              address,
              relabel,
              random() < 0.5 ? { add: ['STARRED'] } : { remove: ['STARRED'] },
            );
          }
          mutations += 3;
          if (!scheduled) {
            // Without engine.schedule: the same incremental syncs, started here.
            await control.start({ source: 'gmail', accountId: address, trigger: 'schedule' });
          }
          await sleep(100);
        }
        const soakEnded = Date.now();
        // A last sync of every account after the last change, then every mailbox must match exactly.
        const comparisons = [];
        for (let n = 0; n < ACCOUNTS; n++) {
          const accountId = addressOf(n);
          for (;;) {
            const result = await control.start({ source: 'gmail', accountId });
            const job = await finished(store, result.job.id, 300_000);
            if (result.started) {
              expect(job.status, `${accountId}: ${JSON.stringify(job.error)}`).toBe('completed');
              break;
            }
          }
          comparisons.push({
            accountId,
            ...(await compareWithMailbox(store.data, gmail.emulator, accountId)),
          });
        }
        const jobs = await store.listJobs({ limit: 500 });
        const failedJobs = jobs.filter((job) => job.status === 'failed');

        const stops = await Promise.all(workers.map((w) => w.terminate(30_000)));
        const memory = workers.map((worker, n) => {
          const samples = worker.rssSamples().filter((s) => s.at <= soakEnded);
          const steady = samples.filter((s) => s.at >= soakStarted + WARM_UP * DURATION_MS).map((s) => s.rss);
          const third = Math.max(1, Math.floor(steady.length / 3));
          const early = median(steady.slice(0, third));
          const late = median(steady.slice(-third));
          return {
            worker: n + 1,
            samples: samples.length,
            'peak MB': mb(Math.max(...samples.map((s) => s.rss))),
            'steady min MB': mb(Math.min(...steady)),
            'steady max MB': mb(Math.max(...steady)),
            'early median MB': mb(early),
            'late median MB': mb(late),
            'drift %': Math.round(((late - early) / early) * 1000) / 10,
            'exited by itself': stops[n]!.exitedBySelf,
            'late heap MB': mb(median(samples.slice(-10).map((s) => s.heapUsed))),
            'handles left': (stops[n]!.resources ?? ['(no report)']).join(', ') || 'none',
            'sockets left (peer port)': (stops[n]!.sockets ?? []).join(', ') || 'none',
          };
        });
        writeFileSync(
          join(tmpdir(), 'syncjob-soak-samples.json'),
          JSON.stringify(
            workers.map((w) =>
              w.rssSamples().map((s) => ({ t: s.at - soakStarted, rss: s.rss, heap: s.heapUsed })),
            ),
          ),
        );
        report('soak: memory and shutdown of the workers', memory);
        console.log(
          `emulator port ${new URL(gmail.url).port}, PostgreSQL port ${new URL(database.url).port}`,
        );
        report('soak: work', {
          accounts: ACCOUNTS,
          'messages each': MESSAGES,
          'soak s': Math.round((soakEnded - soakStarted) / 1000),
          'scheduler (engine.schedule)': scheduled ? 'yes' : 'no: syncs started by the test',
          mutations,
          'jobs (newest 500)': jobs.length,
          'of them scheduled': jobs.filter((job) => job.trigger === 'schedule').length,
          'failed jobs': failedJobs.length,
          'accounts exact': comparisons.filter(
            (c) => c.missing + c.extra + c.duplicated + c.labelMismatches === 0 && c.stored === c.expected,
          ).length,
        });
        for (const comparison of comparisons) {
          expect(comparison, comparison.accountId).toMatchObject({
            missing: 0,
            extra: 0,
            duplicated: 0,
            labelMismatches: 0,
          });
          expect(comparison.stored).toBe(comparison.expected);
        }
        expect(failedJobs.map((job) => job.error)).toEqual([]);
        for (const row of memory) {
          expect(row.samples).toBeGreaterThan(DURATION_MS / 2_000);
          expect(Math.abs(row['drift %'])).toBeLessThanOrEqual(10);
          expect(row['exited by itself']).toBe(true);
          expect(row['handles left']).not.toMatch(LEAKS);
        }
      } finally {
        await Promise.all(workers.map((w) => w.terminate(5_000)));
        await control.stop({ timeoutMs: 1_000 });
        await store.close();
        await gmail.close();
      }
    },
    DURATION_MS + 300_000,
  );
});
