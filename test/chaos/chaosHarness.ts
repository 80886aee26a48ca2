import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { AccountKey, LogEntry, MailDataReader, SyncStore } from '@syncjob/core';
import type { GmailEmulator } from '@syncjob/gmail-emulator';

/**
 * `SYNCJOB_CHAOS_PROFILE=ci` (default) sizes every test so the whole chaos run fits in 10 minutes on
 * a 2-core CI machine; `full` runs the sizes of the issue (the 10-minute soak of 50 × 2,000).
 */
// Read once here: a knob of the suite, not an input of any turbo task.
const { SYNCJOB_CHAOS_PROFILE } = process.env;
export const PROFILE: 'ci' | 'full' = SYNCJOB_CHAOS_PROFILE === 'full' ? 'full' : 'ci';

const WORKER_SCRIPT = fileURLToPath(new URL('./fixtures/syncWorker.mjs', import.meta.url));

/** A seeded generator (mulberry32): the same seed kills at the same moments every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than `undefined`, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** What the worker fixture reads from `CHAOS_WORKER`. */
export interface WorkerConfig {
  store: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema: string };
  emulatorUrl: string;
  leaseMs?: number;
  heartbeatMs?: number;
  pollIntervalMs?: number;
  concurrency?: number;
  maxAttempts?: number;
  quota?: 'legacy' | '2026';
  quotaSpeed?: number;
  batchSize?: number;
  rssEveryMs?: number;
  retry?: { retries?: number; minDelayMs?: number; maxDelayMs?: number };
  schedule?: { every: string | number; staleAfter?: string | number; concurrency?: number };
}

export type WorkerLine =
  | { type: 'ready'; pid: number; schedule: boolean }
  | { type: 'running'; jobId: string; accountId: string; attempt: number }
  | { type: 'rss'; at: number; rss: number; heapUsed: number }
  | { type: 'schedule'; available: boolean }
  | { type: 'stopped'; resources: string[]; sockets: string[] };

/** A worker process and what it has said so far. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: WorkerLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr = '';

  constructor(config: WorkerConfig) {
    this.child = spawn(process.execPath, [WORKER_SCRIPT], {
      env: { ...process.env, CHAOS_WORKER: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as WorkerLine);
      } catch {
        // Not a protocol line (a stray console.log): kept out of the protocol.
      }
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  ready(timeoutMs = 30_000): Promise<void> {
    return waitFor(
      `worker ${this.pid} ready (stderr: ${this.stderr.slice(-500)})`,
      () => (this.lines.some((l) => l.type === 'ready') ? true : undefined),
      timeoutMs,
    ).then(() => undefined);
  }

  /** Whether this process said it runs `jobId`. */
  runs(jobId: string, attempt?: number): boolean {
    return this.lines.some(
      (l) => l.type === 'running' && l.jobId === jobId && (attempt === undefined || l.attempt === attempt),
    );
  }

  kill9(): Promise<unknown> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /**
   * SIGTERM: the fixture stops the engine and closes the store, then reports the resources still
   * keeping its event loop alive. `exitedBySelf` is false when it had to be killed after `graceMs`.
   */
  async terminate(
    graceMs = 20_000,
  ): Promise<{ resources: string[] | null; sockets: string[] | null; exitedBySelf: boolean }> {
    this.child.kill('SIGTERM');
    const outcome = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!outcome) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    const stopped = this.lines.find(
      (l): l is Extract<WorkerLine, { type: 'stopped' }> => l.type === 'stopped',
    );
    return {
      resources: stopped?.resources ?? null,
      sockets: stopped?.sockets ?? null,
      exitedBySelf: outcome,
    };
  }

  rssSamples(): Array<{ at: number; rss: number; heapUsed: number }> {
    return this.lines.filter((l): l is Extract<WorkerLine, { type: 'rss' }> => l.type === 'rss');
  }
}

export async function startWorker(config: WorkerConfig): Promise<WorkerProcess> {
  const worker = new WorkerProcess(config);
  await worker.ready();
  return worker;
}

/** What a store holds for an account, against the emulator's mailbox. */
export interface MailboxComparison {
  expected: number;
  stored: number;
  missing: number;
  extra: number;
  duplicated: number;
  labelMismatches: number;
}

/**
 * Reads every stored message of the account (id order, pages of 10,000) and compares ids and label
 * sets with the emulator's live messages. Labels are compared as the emulator's label bits, so order
 * does not matter and an unknown label id counts as a mismatch.
 */
export async function compareWithMailbox(
  reader: MailDataReader,
  emulator: GmailEmulator,
  address: string,
  source = 'gmail',
): Promise<MailboxComparison> {
  const mailbox = emulator.mailbox(address);
  const key: AccountKey = { source, accountId: address };
  const seen = new Set<string>();
  let duplicated = 0;
  let extra = 0;
  let labelMismatches = 0;
  let afterId: string | undefined;
  for (;;) {
    const page = await reader.listMessages(key, { limit: 10_000, ...(afterId ? { afterId } : {}) });
    for (const message of page) {
      if (seen.has(message.id)) duplicated += 1;
      seen.add(message.id);
      const index = mailbox.indexOf(message.id);
      if (index === undefined || !mailbox.isLive(index)) {
        extra += 1;
        continue;
      }
      let bits: number | null;
      try {
        bits = mailbox.bitsOfIds(message.labelIds);
      } catch {
        bits = null;
      }
      if (bits !== mailbox.labelsOf(index)) labelMismatches += 1;
    }
    if (page.length < 10_000) break;
    afterId = page[page.length - 1]!.id;
  }
  let expected = 0;
  let missing = 0;
  for (let index = 0; index < mailbox.size; index++) {
    if (!mailbox.isLive(index)) continue;
    expected += 1;
    if (!seen.has(mailbox.idOf(index))) missing += 1;
  }
  const stored = await reader.countMessages(key);
  // A row counted but not listed (or listed twice) would be a duplicate the id listing hides.
  duplicated += Math.max(0, stored - seen.size);
  return { expected, stored, missing, extra, duplicated, labelMismatches };
}

/** Every log line of a job (pages of 5,000). */
export async function allLogs(store: SyncStore, jobId: string): Promise<LogEntry[]> {
  const logs: LogEntry[] = [];
  for (;;) {
    const page = await store.getLogs(jobId, { afterSeq: logs.at(-1)?.seq ?? 0, limit: 5_000 });
    logs.push(...page);
    if (page.length < 5_000) return logs;
  }
}

/** The engine's retry lines ("… failed (CODE: …), attempt n of m; retrying in …"). */
export const isRetryLine = (entry: LogEntry) =>
  entry.level === 'warn' && /; retrying in /.test(entry.message);

/** Prints a titled table: the figures of each chaos test end up in the CI log. */
export function report(title: string, rows: Array<Record<string, unknown>> | Record<string, unknown>): void {
  console.log(`\n── ${title} (profile ${PROFILE}) ──`);
  console.table(Array.isArray(rows) ? rows : [rows]);
}

export const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
