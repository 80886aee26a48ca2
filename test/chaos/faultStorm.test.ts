import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncEngine } from '@syncjob/core';
import { startGmailEmulator } from '@syncjob/gmail-emulator';
import { createSqliteStore } from '@syncjob/sqlite';
import { describe, expect, it } from 'vitest';
import {
  allLogs,
  compareWithMailbox,
  isRetryLine,
  PROFILE,
  report,
  sleep,
  startWorker,
  waitFor,
} from './chaosHarness';

const MESSAGES = PROFILE === 'full' ? 20_000 : 5_000;
const SPEED = 20;
const ADDRESS = 'storm@example.com';
const BURSTS = 5;
const BURST_SIZE = 30;
const BURST_MS = 500;
/** Inner calls per batch request (the source's default): a dropped connection fails all of them. */
const PARTS_PER_REQUEST = 50;

/** Calls a retry line says failed: "37 of 200 calls failed (…)" for a fetch round, else one call. */
const failedCallsOf = (message: string) => Number(/(\d+) of \d+ calls failed/.exec(message)?.[1] ?? 1);

describe('Gmail fault storm', () => {
  it('10 % 5xx, rate-limit bursts, dropped connections and a token expiry: exact data, every retry logged, retries bounded', async () => {
    const gmail = await startGmailEmulator({
      users: [{ address: ADDRESS, messages: MESSAGES, seed: 11 }],
      quota: 'legacy',
      speed: SPEED,
      // Fault draws are seeded: the same storm every run.
      seed: 42,
      faults: [
        { errorRate: 0.05, errorStatus: 500 },
        { errorRate: 0.05, errorStatus: 503 },
        { dropRate: 0.01 },
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), 'syncjob-chaos-'));
    const path = join(dir, 'sync.db');
    const store = createSqliteStore({ path });
    const worker = await startWorker({
      store: { kind: 'sqlite', path },
      emulatorUrl: gmail.url,
      quotaSpeed: SPEED,
      leaseMs: 10_000,
      heartbeatMs: 2_000,
      retry: { retries: 8, minDelayMs: 100, maxDelayMs: 2_000 },
    });
    const control = createSyncEngine({ store, sources: [{ id: 'gmail', async *run() {} }], worker: false });
    try {
      const { job } = await control.start({ source: 'gmail', accountId: ADDRESS });
      const progressOf = async () => (await store.getJob(job.id))!;
      // Rate-limit bursts spread over the fetching phase, and one access-token expiry in the middle.
      let expiredAt: number | null = null;
      for (let burst = 1; burst <= BURSTS; burst++) {
        await waitFor(
          `burst ${burst}`,
          async () => {
            const seen = await progressOf();
            if (seen.status !== 'running' && seen.status !== 'queued') return true;
            return seen.counters.fetched >= (burst / (BURSTS + 1)) * MESSAGES ? true : undefined;
          },
          240_000,
        );
        // Google's bursts last a while, not a number of calls: the rule goes after BURST_MS, and its
        // Retry-After (emulated seconds) asks the client to wait about that long.
        const rule = gmail.emulator.addFault({
          rateLimitBurst: {
            count: BURST_SIZE,
            status: burst % 2 ? 429 : 403,
            retryAfterSeconds: (BURST_MS / 1000) * SPEED,
          },
        });
        setTimeout(() => gmail.emulator.removeFault(rule.id), BURST_MS);
        if (burst === 3) {
          gmail.emulator.expireAccessTokens(ADDRESS);
          expiredAt = (await progressOf()).counters.fetched;
        }
      }
      const done = await waitFor(
        'the end of the sync',
        async () => {
          const seen = await progressOf();
          return seen.status === 'running' || seen.status === 'queued' ? undefined : seen;
        },
        300_000,
        100,
      );
      const stats = gmail.emulator.stats();
      const user = stats.byUser[ADDRESS]!;
      const logs = await allLogs(store, job.id);
      const retries = logs.filter(isRetryLine);
      const loggedFailedCalls = retries.reduce((sum, entry) => sum + failedCallsOf(entry.message), 0);
      // Failures a retry must answer; 401s are answered by one token refresh instead (no back-off).
      const failedAnswers = user.serverErrors + user.rateLimited + user.concurrencyLimited + user.dropped;
      const unauthorized = stats.totals.unauthorized;
      const comparison = await compareWithMailbox(store.data, gmail.emulator, ADDRESS);
      report('Gmail fault storm: what the emulator did', {
        calls: user.requests,
        '5xx': user.serverErrors,
        'rate-limited': user.rateLimited,
        'concurrency 429': user.concurrencyLimited,
        dropped: user.dropped,
        '401 (token expired)': unauthorized,
        'token refreshes': stats.tokens.requests,
        'expired at fetched': expiredAt,
      });
      report('Gmail fault storm: outcome', {
        status: done.status,
        ...comparison,
        'retry log lines': retries.length,
        'failed calls named in them': loggedFailedCalls,
        'failed answers (5xx+429/403+drops)': failedAnswers,
      });
      if (done.status !== 'completed')
        console.log(
          logs
            .slice(-14)
            .map((l) => `${l.at} ${l.level} ${l.message}`)
            .join('\n'),
        );
      expect(done.status, JSON.stringify(done.error)).toBe('completed');
      expect(comparison).toEqual({
        expected: MESSAGES,
        stored: MESSAGES,
        missing: 0,
        extra: 0,
        duplicated: 0,
        labelMismatches: 0,
      });
      expect(user.serverErrors).toBeGreaterThan(0);
      expect(user.rateLimited).toBeGreaterThan(0);
      expect(user.dropped).toBeGreaterThan(0);
      expect(unauthorized).toBeGreaterThan(0);
      // Every failed answer is named by a retry line: nothing is retried silently. The emulator counts
      // a dropped connection once, whatever the number of calls it carried, hence a range.
      const namedLeast = user.serverErrors + user.rateLimited + user.concurrencyLimited;
      expect(loggedFailedCalls).toBeGreaterThanOrEqual(namedLeast + user.dropped);
      expect(loggedFailedCalls).toBeLessThanOrEqual(namedLeast + user.dropped * PARTS_PER_REQUEST);
      // …and retries are bounded by the failures: no retry without a failure, never a blind loop.
      expect(retries.length).toBeLessThanOrEqual(failedAnswers);
      expect(retries.length).toBeGreaterThan(0);
    } finally {
      await worker.terminate();
      await control.stop({ timeoutMs: 1_000 });
      await store.close();
      await gmail.close();
      rmSync(dir, { recursive: true, force: true });
      await sleep(0);
    }
  });
});
