/**
 * One syncjob sync in a process of its own (forked by bench/run.ts): the engine, the Gmail source
 * and a SQLite store on the BUILT packages, against an emulator the parent runs. A process of its
 * own so its peak resident memory is the sync's alone, and the emulator does not share its CPU.
 *
 * Config: JSON in argv[2] (`SyncChildConfig`). Answers over IPC: `{ type: 'full', … }` after the
 * full sync; with `incremental`, waits for the parent's `'incremental'` message (it mutates the
 * mailbox first), runs an incremental sync and answers `{ type: 'incremental', … }`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { createSyncEngine, type Job, type JobCounters } from '@syncjob/core';
import { type GmailQuotaSetting, gmailSource } from '@syncjob/gmail';
import { defaultRefreshToken } from '@syncjob/gmail-emulator';
import { createSqliteStore } from '@syncjob/sqlite';

export interface SyncChildConfig {
  emulatorUrl: string;
  address: string;
  quota: GmailQuotaSetting;
  quotaSpeed: number;
  /** ETA smoothing scaled to the speed, so a compressed sync is estimated as a real one would be. */
  eta?: { halfLifeMs: number; minSignalMs: number };
  incremental?: boolean;
  /**
   * Time the first N stored messages instead of the whole sync: the sync is cancelled once the
   * largest N is durably stored (`storedMarks` in the answer).
   */
  storedMarks?: number[];
  /**
   * Start the process the way `syncjob worker` does: V8 in its memory-saving mode, set at start
   * (`v8.setFlagsFromString('--optimize-for-size')`, packages/cli/src/commands/workerCommand.ts).
   */
  workerV8Mode?: boolean;
}

/** When a number of messages was durably stored (their batch committed), ms from the start. */
export interface StoredMark {
  stored: number;
  ms: number;
}

/** The ETA shown when the sync first reached a share of its messages. */
export interface EtaMark {
  percent: number;
  at: number;
  etaSeconds: number | null;
}

export interface SyncChildResult {
  type: 'full' | 'incremental';
  ms: number;
  startedAt: number;
  finishedAt: number;
  status: Job['status'];
  counters: JobCounters;
  /** Peak resident set size of this process, bytes. */
  maxRss: number;
  /** Largest V8 heap in use seen by a 200 ms sampler, bytes: tells the JS heap from the rest of the RSS. */
  peakHeapUsed: number;
  etaMarks: EtaMark[];
  storedMarks: StoredMark[];
}

const config = JSON.parse(process.argv[2] ?? '{}') as SyncChildConfig;
if (config.workerV8Mode) setFlagsFromString('--optimize-for-size');
const send = (message: SyncChildResult) =>
  new Promise<void>((resolve) => process.send!(message, () => resolve()));

const dir = mkdtempSync(join(tmpdir(), 'syncjob-bench-'));
const sqlite = createSqliteStore({ path: join(dir, 'sync.db') });
// With `storedMarks`: notes when each committed batch of messages is durable.
let onStored: (messages: number) => void = () => {};
const store = config.storedMarks
  ? new Proxy(sqlite, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'commitBatch' || typeof value !== 'function') return value;
        return async (...args: Parameters<typeof sqlite.commitBatch>) => {
          const written = await value.apply(target, args);
          onStored(args[1].write?.upsertMessages?.length ?? 0);
          return written;
        };
      },
    })
  : sqlite;
const engine = createSyncEngine({
  store,
  sources: [
    gmailSource({
      rootUrl: `${config.emulatorUrl}/`,
      auth: {
        clientId: 'emulator-client-id.apps.googleusercontent.com',
        clientSecret: 'emulator-client-secret',
        refreshToken: defaultRefreshToken(config.address),
        tokenUrl: `${config.emulatorUrl}/token`,
      },
      quota: config.quota,
      quotaSpeed: config.quotaSpeed,
    }),
  ],
  pollIntervalMs: 50,
  // Back-off compressed like the emulator's minute: a retry waits as long in emulated time as it
  // would against Google.
  retry: { minDelayMs: 1_000 / config.quotaSpeed, maxDelayMs: 60_000 / config.quotaSpeed },
  ...(config.eta ? { eta: config.eta } : {}),
});

const MARKS = [10, 25, 50, 75];

let peakHeapUsed = 0;
const sampler = setInterval(() => {
  peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed);
}, 200);
sampler.unref();

async function sync(type: SyncChildResult['type']): Promise<SyncChildResult> {
  const etaMarks: EtaMark[] = [];
  const onProgress = ({
    jobId,
    progress,
  }: {
    jobId: string;
    progress: { percent: number | null; etaSeconds: number | null };
  }) => {
    if (jobId !== current || progress.percent === null) return;
    for (const percent of MARKS) {
      if (progress.percent >= percent && !etaMarks.some((m) => m.percent === percent)) {
        etaMarks.push({ percent, at: Date.now(), etaSeconds: progress.etaSeconds });
      }
    }
  };
  let current = '';
  engine.on('progress', onProgress);
  const startedAt = Date.now();
  const storedMarks: StoredMark[] = [];
  const wanted = [...(config.storedMarks ?? [])].sort((a, b) => a - b);
  let marked = false;
  let stored = 0;
  const ended = new Promise<Job>((resolve) => {
    const onEnd = ({ job }: { job: Job }) => {
      if (job.id === current) resolve(job);
    };
    engine.on('completed', onEnd);
    engine.on('failed', onEnd);
    engine.on('cancelled', onEnd);
  });
  onStored = (messages) => {
    if (marked || messages === 0) return;
    stored += messages;
    const ms = Date.now() - startedAt;
    while (wanted.length > 0 && stored >= wanted[0]!) storedMarks.push({ stored: wanted.shift()!, ms });
    if (wanted.length === 0) {
      marked = true;
      void engine.cancel(current);
    }
  };
  const { job } = await engine.start({ source: 'gmail', accountId: config.address });
  current = job.id;
  const done = await ended;
  const finishedAt = Date.now();
  engine.off('progress', onProgress);
  return {
    type,
    ms: finishedAt - startedAt,
    startedAt,
    finishedAt,
    status: done.status,
    counters: done.counters,
    maxRss: process.resourceUsage().maxRSS * 1024,
    peakHeapUsed,
    etaMarks,
    storedMarks,
  };
}

try {
  await send(await sync('full'));
  if (config.incremental) {
    // A parent that died before asking leaves the channel closed: end instead of waiting forever.
    await new Promise<void>((resolve, reject) => {
      process.once('message', () => resolve());
      process.once('disconnect', () => reject(new Error('the parent went away before the incremental step')));
    });
    await send(await sync('incremental'));
  }
} finally {
  await engine.stop({ timeoutMs: 5_000 });
  await sqlite.close();
  rmSync(dir, { recursive: true, force: true });
  process.disconnect?.();
}
