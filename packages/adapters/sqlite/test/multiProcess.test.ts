import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { StoreNotice, SyncStore } from '@syncjob/core';
import { expireWith } from '@syncjob/core/store';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../src/index';

/**
 * Several real processes on one database file. The fixtures import the BUILT packages (what an app
 * gets); `npm test` builds them first.
 */

type Message = { type: string } & Record<string, unknown>;

interface Fixture {
  process: ChildProcessWithoutNullStreams;
  /** The next JSON line the fixture printed; rejects when it exits first. */
  next(): Promise<Message>;
  send(command: string): void;
}

const children: ChildProcessWithoutNullStreams[] = [];

function spawnFixture(name: string, args: string[]): Fixture {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const child = spawn(process.execPath, [script, ...args], { stdio: 'pipe' });
  children.push(child);
  const received: Message[] = [];
  const waiting: Array<{ resolve: (message: Message) => void; reject: (error: Error) => void }> = [];
  let stderr = '';
  let exit: Error | undefined;
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as Message;
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(message);
    else received.push(message);
  });
  child.on('exit', (code, signal) => {
    exit = new Error(`${name} exited (${code ?? signal}) before reporting: ${stderr}`);
    for (const waiter of waiting.splice(0)) waiter.reject(exit);
  });
  return {
    process: child,
    next: () => {
      const message = received.shift();
      if (message) return Promise.resolve(message);
      if (exit) return Promise.reject(exit);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    send: (command) => child.stdin.write(`${command}\n`),
  };
}

let dir: string;
let path: string;
let store: SyncStore;

beforeAll(() => {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('Build first: npx turbo run build --filter=@syncjob/sqlite... (npm test does it).');
  }
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncjob-sqlite-mp-'));
  path = join(dir, 'sync.db');
  store = createSqliteStore({ path });
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('several processes on one SQLite file', () => {
  it('4 processes × 25 concurrent createJob for one account create exactly one active job', async () => {
    // Nobody opened the file yet: the racers also race to create it and migrate it.
    const racers = [1, 2, 3, 4].map(() => spawnFixture('createJobs.mjs', [path, '25', 'race@example.com']));
    for (const racer of racers) expect((await racer.next()).type).toBe('ready');
    for (const racer of racers) racer.send('go');
    const reports = await Promise.all(racers.map((racer) => racer.next()));

    const created = reports.flatMap((report) => report.created as string[]);
    expect(created).toHaveLength(1);
    expect(new Set(reports.flatMap((report) => report.ids as string[]))).toEqual(new Set(created));
    const jobs = await store.listJobs({ accountId: 'race@example.com' });
    expect(jobs.map((job) => [job.id, job.status])).toEqual([[created[0], 'queued']]);
  });

  it('4 worker processes claiming 200 queued jobs claim each exactly once', async () => {
    const queued = new Set<string>();
    for (let n = 0; n < 200; n++) {
      const { job } = await store.createJob({
        source: 'gmail',
        accountId: `acct-${n}`,
        mode: 'full',
        trigger: 'manual',
      });
      queued.add(job.id);
    }
    const workers = [1, 2, 3, 4].map((n) => spawnFixture('claimJobs.mjs', [path, `worker-${n}`]));
    for (const worker of workers) expect((await worker.next()).type).toBe('ready');
    for (const worker of workers) worker.send('go');
    const claimedByWorker = (await Promise.all(workers.map((worker) => worker.next()))).map(
      (report) => report.claimed as string[],
    );

    const all = claimedByWorker.flat();
    expect(all).toHaveLength(200);
    expect(new Set(all)).toEqual(queued);
    // The workers really raced (each one claimed some), and every job ran once, to completion.
    expect(claimedByWorker.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
    const completed = await store.listJobs({ statuses: ['completed'], limit: 500 });
    expect(completed).toHaveLength(200);
    expect(completed.every((job) => job.attempt === 1 && job.lastLogSeq === 1)).toBe(true);
  });

  it("tells this process's subscribers of another process's job changes, without polling by the caller", async () => {
    expect(store.capabilities.crossProcessNotices).toBe(true);
    await store.listJobs();
    const notices: StoreNotice[] = [];
    store.subscribe((notice) => notices.push(notice));
    const writer = spawnFixture('runJob.mjs', [path, 'notices@example.com']);
    expect((await writer.next()).type).toBe('ready');
    writer.send('go');
    const { jobId } = await writer.next();
    const until = Date.now() + 5000;
    while (!notices.some((n) => n.jobId === jobId && n.status === 'completed') && Date.now() < until) {
      await delay(5);
    }
    const seen = notices.filter((n) => n.jobId === jobId);
    // Each change is told (commits closer together than a watcher tick may merge into one notice).
    expect(seen.at(-1)).toEqual({ jobId, status: 'completed', lastLogSeq: 3 });
    expect(seen.map((n) => n.lastLogSeq)).toEqual([...seen.map((n) => n.lastLogSeq)].sort((a, b) => a - b));
  });

  it('a worker frozen past its lease changes nothing after another process took the job over', async () => {
    const account = { source: 'gmail', accountId: 'fenced@example.com' };
    await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const leaseMs = 200;
    const worker = spawnFixture('fencedWorker.mjs', [path, String(leaseMs)]);
    const claimed = await worker.next();
    expect(claimed.lease).toMatchObject({ workerId: 'frozen-worker' });

    worker.process.kill('SIGSTOP');
    await delay(leaseMs + 150);
    const swept = await store.sweepExpired(expireWith({ autoResume: true, maxAttempts: 3 }));
    expect(swept.map(({ job }) => job.status)).toEqual(['queued']);
    const takeover = await store.claimJob({ workerId: 'rescuer', leaseMs: 60_000 });
    expect(takeover?.job.attempt).toBe(2);
    const before = {
      job: await store.getJob(takeover!.job.id),
      logs: await store.getLogs(takeover!.job.id),
      account: await store.getAccountState(account),
    };

    worker.send('go');
    worker.process.kill('SIGCONT');
    const { codes } = await worker.next();
    expect(codes).toEqual({
      log: 'LEASE_LOST',
      progress: 'LEASE_LOST',
      commitBatch: 'LEASE_LOST',
      renew: 'LEASE_LOST',
      finish: 'LEASE_LOST',
      release: 'LEASE_LOST',
    });

    expect(await store.getJob(takeover!.job.id)).toEqual(before.job);
    expect(await store.getLogs(takeover!.job.id)).toEqual(before.logs);
    expect(await store.getAccountState(account)).toEqual(before.account);
    expect(before.account).toMatchObject({ cursor: null, checkpoint: null });
    expect(await store.data.countMessages(account)).toBe(0);
    expect(await store.countStaged(account)).toBe(0);
    // The new owner still writes.
    await expect(store.renewLease(takeover!.lease, 60_000)).resolves.toMatchObject({ status: 'running' });
  });
});
