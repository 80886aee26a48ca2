/**
 * Push notifications end to end (`npm run bench:push`): the emulator in its own process watches the
 * mailbox and POSTs a signed Pub/Sub push on every change to the app's push route
 * (`createSyncHandler({ push })` behind `toNodeHandler`, verifying the tokens against the
 * emulator's `/oauth2/v3/certs`), which starts incremental syncs into a SQLite file. No schedule
 * runs: every sync here is started by a push.
 *
 * Latency: the time from a message added in the emulator (admin API) to its row in the store,
 * p50 / p95 / max over the additions, one at a time: back to back (the next one added as soon as
 * the last one is stored: the debounce of two push syncs of an account applies), spaced (the
 * account is quiet between two additions), and spaced with the push arriving before
 * `history.list` shows the change (`earlyByMs`: the re-check finds it).
 *
 * Storm: 100 messages added in one second; how many syncs the 100 notifications caused, and when
 * the last row was stored.
 *
 * BENCH_ADDITIONS   additions per latency scenario (default 50)
 * BENCH_ONLY        run only scenarios whose name contains this
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSyncEngine, type Job, type SyncEngine } from '@syncjob/core';
import { createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { gmailSource } from '@syncjob/gmail';
import { DEFAULT_OAUTH_CLIENT, defaultRefreshToken } from '@syncjob/gmail-emulator';
import { createSqliteStore } from '@syncjob/sqlite';

// Read once here: a benchmark's knobs.
const { BENCH_ADDITIONS, BENCH_ONLY } = process.env;
const ADDITIONS = Number(BENCH_ADDITIONS ?? 50);
const ADDRESS = 'me@example.com';
const MAILBOX_SIZE = 300;
const AUDIENCE = 'https://app.example.test/api/sync/push/gmail';
const SERVICE_ACCOUNT = 'gmail-push@emulator.iam.gserviceaccount.com';
/** The route's defaults, repeated to say what the figures were taken with. */
const DEBOUNCE_MS = 2_000;
const RECHECK_DELAY_MS = 2_000;

interface Scenario {
  name: string;
  kind: 'latency' | 'storm';
  /** Wait between a stored row and the next addition. */
  gapMs: number;
  /** The emulator's `push.earlyByMs`. */
  earlyByMs: number;
}

const scenarios: Scenario[] = (
  [
    { name: 'back to back', kind: 'latency', gapMs: 0, earlyByMs: 0 },
    { name: 'spaced 2.5 s', kind: 'latency', gapMs: 2_500, earlyByMs: 0 },
    { name: 'spaced 2.5 s, push 500 ms early', kind: 'latency', gapMs: 2_500, earlyByMs: 500 },
    { name: 'storm: 100 in 1 s', kind: 'storm', gapMs: 100, earlyByMs: 0 },
  ] as const
).filter((scenario) => !BENCH_ONLY || scenario.name.includes(BENCH_ONLY));

/** Starts the emulator in a child process; returns its URL and controls. */
async function startEmulatorProcess() {
  const script = `
    import { startGmailEmulator } from '@syncjob/gmail-emulator';
    const running = await startGmailEmulator({
      users: [{ address: ${JSON.stringify(ADDRESS)}, messages: ${MAILBOX_SIZE}, seed: 21 }],
    });
    process.stdout.write(running.url + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const url = chunk.toString().trim();
  const admin = async (path: string, body?: unknown) => {
    const response = await fetch(`${url}/_emulator/${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`The emulator's ${path} answered ${response.status}`);
    return response.json() as Promise<Record<string, unknown>>;
  };
  return {
    url,
    /** Points the emulator's push subscription at the app (the app listens by then). */
    configurePush: (endpoint: string, earlyByMs: number) =>
      admin('push', { endpoint, audience: AUDIENCE, earlyByMs }),
    addMessage: async (count = 1) => {
      const response = await fetch(`${url}/_emulator/users/${ADDRESS}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ labelIds: ['INBOX'], count }),
      });
      if (response.status !== 201) throw new Error(`Adding a message answered ${response.status}`);
    },
    pushStats: async () => (await admin('push')).stats as Record<string, number>,
    stop: () => {
      child.kill();
      return once(child, 'exit');
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}

const isEnded = (job: Job | null) =>
  job !== null && ['completed', 'failed', 'cancelled', 'interrupted'].includes(job.status);

/** The app: engine on a SQLite file, the push route on a local HTTP server. */
async function startApp(directory: string, emulatorUrl: string) {
  const store = createSqliteStore({ path: join(directory, 'sync.db') });
  const source = gmailSource({
    auth: {
      clientId: DEFAULT_OAUTH_CLIENT.clientId,
      clientSecret: DEFAULT_OAUTH_CLIENT.clientSecret,
      refreshToken: defaultRefreshToken(ADDRESS),
      tokenUrl: `${emulatorUrl}/token`,
    },
    rootUrl: emulatorUrl,
    push: { topicName: 'projects/bench/topics/gmail' },
  });
  const engine: SyncEngine = createSyncEngine({ store, sources: [source] });
  const handler = createSyncHandler(engine, {
    basePath: '/api/sync',
    authenticate: () => null,
    authorizeAccount: () => false,
    push: {
      audience: AUDIENCE,
      serviceAccountEmail: SERVICE_ACCOUNT,
      certsUrl: `${emulatorUrl}/oauth2/v3/certs`,
      accountForEmail: (email) => (email === ADDRESS ? ADDRESS : null),
      debounceMs: DEBOUNCE_MS,
      recheckDelayMs: RECHECK_DELAY_MS,
    },
  });
  const server = createServer(toNodeHandler(handler));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    engine,
    source,
    endpoint: `http://127.0.0.1:${port}/api/sync/push/gmail`,
    stored: () => store.data.countMessages({ source: 'gmail', accountId: ADDRESS }),
    pushJobs: async (since: number) =>
      (await engine.listJobs({ accountId: ADDRESS, limit: 500 })).filter(
        (job) => job.trigger === 'push' && Date.parse(job.createdAt) >= since,
      ),
    stop: async () => {
      server.close();
      await engine.stop();
      await store.close();
    },
  };
}

interface Row {
  scenario: string;
  samples: number;
  p50: number;
  p95: number;
  max: number;
  syncs: number;
  pushes: string;
  /** How long the 100 additions of a storm took to be made. */
  stormSeconds: number | null;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;

async function run(scenario: Scenario): Promise<Row> {
  const directory = mkdtempSync(join(tmpdir(), 'syncjob-push-bench-'));
  const emulator = await startEmulatorProcess();
  const app = await startApp(directory, emulator.url);
  await emulator.configurePush(app.endpoint, scenario.earlyByMs);
  try {
    const { job } = await app.engine.start({ source: 'gmail', accountId: ADDRESS });
    await waitFor(async () => isEnded(await app.engine.getJob(job.id)), 120_000, 'the full sync');
    await app.source.watch(ADDRESS);
    const since = Date.now();
    const latencies: number[] = [];
    let stored = await app.stored();
    let stormSeconds: number | null = null;
    if (scenario.kind === 'latency') {
      for (let i = 0; i < ADDITIONS; i++) {
        const started = performance.now();
        await emulator.addMessage();
        stored += 1;
        await waitFor(async () => (await app.stored()) >= stored, 60_000, `message ${i + 1} in the store`);
        latencies.push(performance.now() - started);
        await sleep(scenario.gapMs);
      }
    } else {
      // Ten admin calls of ten messages, 100 ms apart: 100 changes, 100 notifications, in one second
      // (a hundred separate calls take longer than that on a loaded machine).
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => sleep(i * scenario.gapMs).then(() => emulator.addMessage(10))),
      );
      stormSeconds = (performance.now() - started) / 1000;
      stored += 100;
      await waitFor(async () => (await app.stored()) >= stored, 120_000, 'the storm in the store');
      latencies.push(performance.now() - started);
    }
    // Whatever the last notifications still plan (a follow-up, a re-check) runs before counting.
    await sleep(DEBOUNCE_MS + RECHECK_DELAY_MS + 1_000);
    await waitFor(
      async () => (await app.engine.getActiveJob({ source: 'gmail', accountId: ADDRESS })) === null,
      60_000,
      'the last sync',
    );
    const push = await emulator.pushStats();
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      scenario: scenario.name,
      samples: latencies.length,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      max: sorted.at(-1) ?? Number.NaN,
      syncs: (await app.pushJobs(since)).length,
      stormSeconds,
      pushes: `${push.published} published, ${push.acked} acked, ${push.redelivered} redelivered`,
    };
  } finally {
    await app.stop();
    await emulator.stop();
    rmSync(directory, { recursive: true, force: true });
  }
}

console.log(
  `Gmail push → sync latency: emulator (own process) → Pub/Sub push → push route → incremental sync → SQLite; no schedule\n`,
);
const rows: Row[] = [];
for (const scenario of scenarios) {
  const row = await run(scenario);
  rows.push(row);
  console.log(`  ${scenario.name}: p95 ${(row.p95 / 1000).toFixed(2)} s, ${row.syncs} syncs`);
}
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const table = [
  ['scenario', 'additions', 'p50', 'p95', 'max', 'push syncs', 'pushes'],
  ...rows.map((row) => [
    row.scenario,
    row.stormSeconds === null
      ? String(row.samples)
      : `100 in ${row.stormSeconds.toFixed(2)} s (time to the last row)`,
    seconds(row.p50),
    seconds(row.p95),
    seconds(row.max),
    String(row.syncs),
    row.pushes,
  ]),
];
const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
console.log('');
for (const [index, line] of table.entries()) {
  console.log(`| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`);
  if (index === 0) console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
}
console.log(
  `\nRoute defaults: debounceMs ${DEBOUNCE_MS}, recheckDelayMs ${RECHECK_DELAY_MS}. Targets: p95 ≤ 5 s; a storm costs ≤ 2 syncs.`,
);
