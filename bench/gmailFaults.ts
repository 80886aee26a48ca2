/**
 * Full-sync throughput under sporadic server errors: the same quota-bound sync (legacy quota,
 * Google-like latency, the engine's default retry settings) with no faults, then with 1 % and 3 % of
 * Gmail calls answering 500/503 (the emulator's `errorRate` fault, drawn for every call, batch parts
 * each on their own). Each run gets an emulator of its own (a fresh quota window) in a child process,
 * as Google would be; the engine and a memory store run here. Used by `bench/gmail.ts` and
 * `bench/run.ts`.
 *
 * "exact" = the job completed, the store holds every message of the mailbox, and the job stored and
 * fetched each exactly once (`stored` and `fetched` equal the mailbox size, nothing `failed`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createMemoryStore, createSyncEngine, isTerminalStatus, type Job } from '@syncjob/core';
import { gmailSource } from '@syncjob/gmail';
import {
  DEFAULT_OAUTH_CLIENT,
  defaultRefreshToken,
  type EmulatorStats,
  type FaultRule,
} from '@syncjob/gmail-emulator';

const ADDRESS = 'me@example.com';

export const FAULTS_TITLE = 'Throughput under sporadic server errors (legacy quota)';

export interface FaultsBenchOptions {
  /** Mailbox size (default 3,000). */
  messages?: number;
  /** Emulator speed; the quota window, latency and the engine's back-off are compressed alike (default 1: real speed). */
  speed?: number;
  /** Per-call 5xx rates to run, the fault-free reference first (default 0, 1 %, 3 %). */
  rates?: number[];
}

interface FaultRun {
  rate: number;
  seconds: number;
  perSecond: number;
  serverErrors: number;
  retries: number;
  exact: boolean;
  status: string;
}

/** Google-like latency (60 + U[0, 40) ms), compressed by the speed like the quota window. */
const latencyAt = (speed: number): FaultRule => ({ latency: { fixedMs: 60 / speed, randomMs: 40 / speed } });

/** Half of the failing calls answer 500, the other half 503. */
const serverErrors = (rate: number): FaultRule[] =>
  rate > 0
    ? [
        { errorRate: rate / 2, errorStatus: 500 },
        { errorRate: rate / 2 / (1 - rate / 2), errorStatus: 503 },
      ]
    : [];

/**
 * Starts an emulator in a child process (its own event loop, as Google's servers are to the engine)
 * with one user; returns its URL, its stats and a stop function. Shared with `bench/gmail.ts`.
 */
export async function startEmulatorProcess(options: {
  messages: number;
  seed: number;
  quota: string;
  speed: number;
  faults?: FaultRule[];
}) {
  const script = `
    import { startGmailEmulator } from '@syncjob/gmail-emulator';
    const running = await startGmailEmulator({
      users: [{ address: ${JSON.stringify(ADDRESS)}, messages: ${options.messages}, seed: ${options.seed} }],
      quota: ${JSON.stringify(options.quota)},
      speed: ${options.speed},
      faults: ${JSON.stringify(options.faults ?? [])},
    });
    process.stdout.write(running.url + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const url = chunk.toString().trim();
  return {
    url,
    stats: async (): Promise<EmulatorStats> =>
      (await fetch(`${url}/_emulator/stats`)).json() as Promise<EmulatorStats>,
    stop: () => {
      child.kill();
      return once(child, 'exit');
    },
  };
}

/** Resolves with the job once it has ended (any terminal status). */
function waitForEnd(engine: ReturnType<typeof createSyncEngine>, jobId: string): Promise<Job> {
  return new Promise((resolve) => {
    const poll = setInterval(async () => {
      const job = await engine.store.getJob(jobId);
      if (job && isTerminalStatus(job.status)) {
        clearInterval(poll);
        resolve(job);
      }
    }, 50);
  });
}

/**
 * One full sync of the benchmark's account against an emulator process, timed from the start to the
 * job's end: a memory store, the Gmail source, and the engine's default back-off (1 s to 60 s)
 * compressed like the emulator's minute, so a retry waits as long in emulated time as it would
 * against Google. Shared with `bench/gmail.ts`.
 */
export async function timedSync(
  emulatorUrl: string,
  options: { quota: 'legacy' | '2026'; speed: number; source?: Record<string, unknown> },
): Promise<{ store: ReturnType<typeof createMemoryStore>; job: Job; seconds: number; stored: number }> {
  const store = createMemoryStore();
  const source = gmailSource({
    auth: {
      clientId: DEFAULT_OAUTH_CLIENT.clientId,
      clientSecret: DEFAULT_OAUTH_CLIENT.clientSecret,
      refreshToken: defaultRefreshToken(ADDRESS),
      tokenUrl: `${emulatorUrl}/token`,
    },
    rootUrl: emulatorUrl,
    quota: options.quota,
    quotaSpeed: options.speed,
    ...options.source,
  });
  const engine = createSyncEngine({
    store,
    sources: [source],
    pollIntervalMs: 50,
    retry: { minDelayMs: 1_000 / options.speed, maxDelayMs: 60_000 / options.speed },
  });
  const started = performance.now();
  const { job } = await engine.start({ source: 'gmail', accountId: ADDRESS });
  const ended = await waitForEnd(engine, job.id);
  const seconds = (performance.now() - started) / 1000;
  await engine.stop();
  const stored = await store.data.countMessages({ source: 'gmail', accountId: ADDRESS });
  return { store, job: ended, seconds, stored };
}

async function runOnce(messages: number, speed: number, rate: number): Promise<FaultRun> {
  const emulator = await startEmulatorProcess({
    messages,
    seed: 45,
    quota: 'legacy',
    speed,
    faults: [latencyAt(speed), ...serverErrors(rate)],
  });
  try {
    const { store, job: ended, seconds, stored } = await timedSync(emulator.url, { quota: 'legacy', speed });
    const logs = await store.getLogs(ended.id, { limit: 100_000 });
    const { counters } = ended;
    return {
      rate,
      seconds,
      perSecond: stored / seconds,
      serverErrors: (await emulator.stats()).totals.serverErrors,
      retries: logs.filter((line) => line.level === 'warn' && /retrying in/.test(line.message)).length,
      exact:
        ended.status === 'completed' &&
        stored === messages &&
        counters.stored === messages &&
        counters.fetched === messages &&
        counters.failed === 0,
      status: ended.status,
    };
  } finally {
    await emulator.stop();
  }
}

const pct = (x: number, digits = 0) => `${(x * 100).toFixed(digits)} %`;

/** Runs the scenario at each rate and returns the table's rows (fault-free first) and its notes. */
export async function runFaultsBench(options: FaultsBenchOptions = {}): Promise<{
  rows: Array<Record<string, string>>;
  notes: string[];
  /** Share of the fault-free msg/s at each non-zero rate. */
  shares: Array<{ rate: number; share: number; exact: boolean }>;
}> {
  const messages = options.messages ?? 3_000;
  const speed = options.speed ?? 1;
  const rates = options.rates ?? [0, 0.01, 0.03];
  const runs: FaultRun[] = [];
  for (const rate of rates) {
    const run = await runOnce(messages, speed, rate);
    runs.push(run);
    console.log(`  ${pct(rate)} 5xx: ${run.seconds.toFixed(1)} s, ${run.status}`);
  }
  const reference = runs.find((run) => run.rate === 0)?.perSecond ?? Number.NaN;
  const rows = runs.map((run) => ({
    'fault rate': pct(run.rate),
    'time s': run.seconds.toFixed(1),
    'msg/s': run.perSecond.toFixed(1),
    'at real speed': `${(run.perSecond / speed).toFixed(1)} msg/s`,
    '% of fault-free': pct(run.perSecond / reference, 1),
    '5xx answers': String(run.serverErrors),
    retries: String(run.retries),
    exact: run.exact ? 'yes' : 'no',
  }));
  const notes = [
    `A full sync of ${messages.toLocaleString('en-US')} messages (metadata format) through the engine and the memory store, legacy quota, speed ${speed}× (${speed === 1 ? 'real speed' : 'quota window, latency and back-off compressed alike'}), Google-like latency, the engine's default retry settings. "fault rate" = share of Gmail calls (batch parts each on their own) answering 500 or 503; "retries" = retry waits the job logged; "exact" = completed with every message fetched and stored once. Target: ≥ 90 % of the fault-free msg/s at 1 % and 3 %, exact.`,
  ];
  return {
    rows,
    notes,
    shares: runs
      .filter((run) => run.rate > 0)
      .map((run) => ({ rate: run.rate, share: run.perSecond / reference, exact: run.exact })),
  };
}
