import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSyncEngine, type Job } from '@syncjob/core';
import { createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { startGmailEmulator } from '@syncjob/gmail-emulator';
import { createPostgresStore } from '@syncjob/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithMailbox, PROFILE, report, sleep, startWorker, waitFor } from './chaosHarness';
import { type ChaosDatabase, openChaosDatabase, restartableAvailable, skipLoudly } from './chaosPostgres';

const MESSAGES = PROFILE === 'full' ? 20_000 : 6_000;
// 250 messages/s at the legacy ceiling: the sync lasts long enough for a restart and an outage.
const SPEED = 5;
const ADDRESS = 'restart@example.com';
const DOWN_MS = 4_000;

describe.skipIf(skipLoudly('PostgreSQL restart', restartableAvailable))(
  'PostgreSQL restarted mid-sync',
  () => {
    let database: ChaosDatabase;
    beforeAll(async () => {
      database = await openChaosDatabase();
    });
    afterAll(() => database?.dispose());

    it('the job resumes with nothing lost; the HTTP API answers 503 + Retry-After while the database is down and recovers by itself', async () => {
      const gmail = await startGmailEmulator({
        users: [{ address: ADDRESS, messages: MESSAGES, seed: 3 }],
        quota: 'legacy',
        speed: SPEED,
      });
      const schema = database.schema();
      const store = await createPostgresStore({
        connectionString: database.url,
        schema,
        connectionTimeoutMs: 2_000,
        onError: () => {},
      });
      const worker = await startWorker({
        store: { kind: 'postgres', url: database.url, schema },
        emulatorUrl: gmail.url,
        quotaSpeed: SPEED,
        leaseMs: 10_000,
        heartbeatMs: 2_000,
        retry: { retries: 10, minDelayMs: 200, maxDelayMs: 2_000 },
      });
      // The web process: the HTTP API on an engine that runs no jobs, served in-process.
      const web = createSyncEngine({ store, sources: [{ id: 'gmail', async *run() {} }], worker: false });
      const handler = createSyncHandler(web, {
        authenticate: () => 'chaos',
        authorizeAccount: () => true,
        onError: () => {},
      });
      const server: Server = createServer(toNodeHandler(handler));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        const started = await fetch(`${base}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ source: 'gmail', accountId: ADDRESS }),
        });
        expect(started.status).toBe(202);
        const { job } = (await started.json()) as { job: Job };
        const getJob = () => fetch(`${base}/jobs/${job.id}`);
        const fetchedAt = (share: number) =>
          waitFor(
            `${share * 100} % fetched`,
            async () => {
              const seen = (await store.getJob(job.id))!;
              return seen.counters.fetched >= share * MESSAGES ? seen : undefined;
            },
            120_000,
          );

        // 1. pg_ctl restart in the middle of fetching.
        const before = await fetchedAt(0.25);
        const restartStarted = Date.now();
        await database.restartServer();
        const restartMs = Date.now() - restartStarted;

        // 2. An outage: stop, the API answers 503 with Retry-After and a clear message, start again.
        await fetchedAt(0.5);
        await database.stopServer();
        const downAt = Date.now();
        const whileDown = await getJob();
        const downBody = (await whileDown.json()) as { error: { code: string; message: string } };
        const retryAfter = whileDown.headers.get('retry-after');
        await sleep(Math.max(0, DOWN_MS - (Date.now() - downAt)));
        await database.startServer();
        const upAt = Date.now();
        const recovered = await waitFor(
          'the API answering again',
          async () => {
            const response = await getJob();
            return response.status === 200 ? response : undefined;
          },
          30_000,
          100,
        );
        const recoveryMs = Date.now() - upAt;
        await recovered.body?.cancel();

        const done = await waitFor(
          'the end of the sync',
          async () => {
            const seen = (await store.getJob(job.id))!;
            return seen.status === 'running' || seen.status === 'queued' ? undefined : seen;
          },
          180_000,
          200,
        );
        const comparison = await compareWithMailbox(store.data, gmail.emulator, ADDRESS);
        const fetches = gmail.emulator.stats().byUser[ADDRESS]!.fetches;
        report('PostgreSQL restart and outage mid-sync', {
          'fetched at restart': before.counters.fetched,
          'pg_ctl restart ms': restartMs,
          'HTTP while down': `${whileDown.status} ${downBody.error?.code}`,
          'Retry-After': retryAfter,
          'down ms': upAt - downAt,
          'API recovered ms after start': recoveryMs,
          status: done.status,
          attempts: done.attempt,
          ...comparison,
          'extra fetches': fetches.totalFetches - fetches.distinctMessages,
        });
        console.log(`503 message: ${downBody.error?.message}`);
        expect(whileDown.status).toBe(503);
        expect(downBody.error.code).toBe('STORE_UNAVAILABLE');
        expect(downBody.error.message).toMatch(/\w{3,}/);
        expect(Number(retryAfter)).toBeGreaterThan(0);
        expect(done.status, JSON.stringify(done.error)).toBe('completed');
        expect(comparison).toEqual({
          expected: MESSAGES,
          stored: MESSAGES,
          missing: 0,
          extra: 0,
          duplicated: 0,
          labelMismatches: 0,
        });
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await worker.terminate();
        await web.stop({ timeoutMs: 1_000 });
        await store.close();
        await gmail.close();
      }
    });
  },
);
