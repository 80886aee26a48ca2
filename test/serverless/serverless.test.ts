import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job, SyncStore, WorkResult } from '@syncjob/core';
import { createSyncEngine, processedCount } from '@syncjob/core';
import { gmailSource } from '@syncjob/gmail';
import { defaultRefreshToken, type RunningGmailEmulator, startGmailEmulator } from '@syncjob/gmail-emulator';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// Types only: the postgres project's globalSetup (also this project's) declares `postgresUrl`.
import type {} from '../../packages/adapters/postgres/test/globalSetup';
import { compareWithMailbox } from '../chaos/chaosHarness';

/**
 * A serverless host, simulated: every invocation is a fresh `node` process on the BUILT packages
 * (`fixtures/workInvocation.mjs`) that handles exactly one `POST /api/sync/work` with a 5 s budget
 * and exits; the driver invokes it once a second after the previous one ended, until the sync of a
 * 10,000-message mailbox has completed. Between invocations nothing runs and no lease may be held.
 */
const FIXTURE = fileURLToPath(new URL('./fixtures/workInvocation.mjs', import.meta.url));
const ADDRESS = 'me@example.com';
const MESSAGES = 10_000;
/** Legacy quota at this speed: about 50 × speed × 1.5 messages/s (whole threads): ~6 slices of 5 s, ~35 s a store. */
const QUOTA_SPEED = 5;
const SLICE_MS = 5_000;
const GAP_MS = 1_000;
const SECRET = 'serverless-simulation-secret-0123456789';

const postgresUrl = inject('postgresUrl');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Invocation {
  status: number;
  body: WorkResult;
  tookMs: number;
  /** Wall time from spawn to exit: the process start and the store opening included. */
  processMs: number;
}

type StoreConfig = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema: string };

function invoke(store: StoreConfig, emulatorUrl: string): Promise<Invocation> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE], {
      env: {
        ...process.env,
        SERVERLESS_INVOCATION: JSON.stringify({
          store,
          emulatorUrl,
          quotaSpeed: QUOTA_SPEED,
          maxMs: SLICE_MS,
          secret: SECRET,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // A process that does not end by itself left something running (a timer, a socket, a lease).
    const timer = setTimeout(() => child.kill('SIGKILL'), SLICE_MS + 15_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`invocation exited with ${code ?? signal}: ${stderr.slice(-2_000)}`));
        return;
      }
      try {
        resolve({ ...JSON.parse(stdout.trim().split('\n').at(-1)!), processMs: Date.now() - startedAt });
      } catch {
        reject(new Error(`invocation printed no answer: ${stdout.slice(-500)} ${stderr.slice(-2_000)}`));
      }
    });
  });
}

let running: RunningGmailEmulator;
beforeAll(async () => {
  running = await startGmailEmulator({
    users: [{ address: ADDRESS, messages: MESSAGES, seed: 7 }],
    quota: 'legacy',
    speed: QUOTA_SPEED,
  });
});
afterAll(() => running?.close());

/** Drives invocations until the job ends; checks every invariant between them. */
async function simulate(store: SyncStore, config: StoreConfig) {
  const source = gmailSource({
    rootUrl: `${running.url}/`,
    auth: (accountId) => ({
      clientId: 'emulator-client-id.apps.googleusercontent.com',
      clientSecret: 'emulator-client-secret',
      refreshToken: defaultRefreshToken(accountId),
      tokenUrl: `${running.url}/token`,
    }),
  });
  // The app's web side: starts the sync (worker: false, so it runs nothing itself).
  const web = createSyncEngine({ store, sources: [source], worker: false });
  const { job } = await web.start({ source: 'gmail', accountId: ADDRESS });
  const startedAt = Date.now();

  const snapshots: Job[] = [];
  const invocations: Invocation[] = [];
  const leaseAfter: Array<{ status: string; leaseExpiresAt: string | null }> = [];
  let polling = true;
  // What a progress view polling the store sees, during and between slices.
  const poller = (async () => {
    while (polling) {
      const current = await store.getJob(job.id);
      if (current) snapshots.push(current);
      await sleep(200);
    }
  })();

  let final: Job | null = null;
  for (let i = 0; i < 60; i++) {
    const invocation = await invoke(config, running.url);
    invocations.push(invocation);
    expect(invocation.status).toBe(200);
    const after = (await store.getJob(job.id))!;
    leaseAfter.push({ status: after.status, leaseExpiresAt: after.leaseExpiresAt });
    if (after.status === 'completed' || after.status === 'failed') {
      final = after;
      break;
    }
    expect(invocation.body.moreWork).toBe(true);
    await sleep(GAP_MS);
  }
  polling = false;
  await poller;
  const totalMs = Date.now() - startedAt;

  expect(final?.status).toBe('completed');
  const comparison = await compareWithMailbox(store.data, running.emulator, ADDRESS);

  // Progress as seen between and during slices: never backwards.
  let backwards = 0;
  for (let i = 1; i < snapshots.length; i++) {
    if (processedCount(snapshots[i]!.counters) < processedCount(snapshots[i - 1]!.counters)) backwards += 1;
    if ((snapshots[i]!.percent ?? 0) < (snapshots[i - 1]!.percent ?? 0)) backwards += 1;
  }

  // ETA at 25 % and 50 %: what the store said then, against the time that really remained.
  const finishedAt = Date.parse(final!.finishedAt!);
  const etaAt = (percent: number) => {
    const sample = snapshots.find((s) => (s.percent ?? 0) >= percent && s.etaSeconds !== null);
    if (!sample) return null;
    const realSeconds = (finishedAt - Date.parse(sample.updatedAt)) / 1000;
    return {
      percent: sample.percent,
      etaSeconds: sample.etaSeconds!,
      realSeconds: Math.round(realSeconds * 10) / 10,
      error: Math.round(((sample.etaSeconds! - realSeconds) / realSeconds) * 1000) / 10,
    };
  };
  const eta25 = etaAt(25);
  const eta50 = etaAt(50);

  const report = {
    store: config.kind,
    invocations: invocations.length,
    totalSeconds: Math.round(totalMs / 100) / 10,
    longestHandlingMs: Math.max(...invocations.map((i) => i.tookMs)),
    longestProcessMs: Math.max(...invocations.map((i) => i.processMs)),
    expected: comparison.expected,
    stored: comparison.stored,
    lost: comparison.missing,
    duplicated: comparison.duplicated,
    extra: comparison.extra,
    labelMismatches: comparison.labelMismatches,
    backwards,
    eta25: eta25 ? `${eta25.etaSeconds}s vs ${eta25.realSeconds}s (${eta25.error}%)` : null,
    eta50: eta50 ? `${eta50.etaSeconds}s vs ${eta50.realSeconds}s (${eta50.error}%)` : null,
    attempt: final!.attempt,
  };
  console.log(`\n── serverless simulation (${config.kind}) ──`);
  console.table([report]);

  expect(comparison).toMatchObject({
    expected: MESSAGES,
    stored: MESSAGES,
    missing: 0,
    duplicated: 0,
    extra: 0,
  });
  expect(comparison.labelMismatches).toBe(0);
  // No lease held between invocations: every hand-back (and the end) dropped it at once.
  for (const row of leaseAfter) {
    expect(row.status).not.toBe('running');
    expect(row.leaseExpiresAt).toBeNull();
  }
  // Every invocation answered within its budget plus a small margin.
  for (const invocation of invocations) expect(invocation.tookMs).toBeLessThan(SLICE_MS + 1_000);
  expect(invocations.length).toBeGreaterThan(3);
  expect(backwards).toBe(0);
  // Slices are not attempts.
  expect(final!.attempt).toBe(1);
  expect(Math.abs(eta25!.error)).toBeLessThanOrEqual(20);
  expect(Math.abs(eta50!.error)).toBeLessThanOrEqual(20);
}

describe('serverless: one work request per fresh process, invoked every second', () => {
  it('SQLite: a 10,000-message sync completes exactly, no lease between invocations, truthful ETA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncjob-serverless-'));
    const path = join(dir, 'sync.db');
    const store = createSqliteStore({ path });
    try {
      await simulate(store, { kind: 'sqlite', path });
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!postgresUrl)('PostgreSQL: the same, on a database server', async () => {
    const schema = `serverless_${Date.now().toString(36)}`;
    const store = await createPostgresStore({ connectionString: postgresUrl!, schema, maxConnections: 4 });
    try {
      await simulate(store, { kind: 'postgres', url: postgresUrl!, schema });
    } finally {
      await store.close();
    }
  });
});
