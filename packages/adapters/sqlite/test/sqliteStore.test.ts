import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import {
  type Clock,
  type LogInput,
  type MailMessage,
  type StoreNotice,
  type SyncStore,
  sleep,
} from '@syncjob/core';
import { expireWith } from '@syncjob/core/store';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANGED_JOBS_SQL, NEW_JOBS_SQL } from '../src/changeWatcher';
import { createSqliteStore, MIGRATIONS, migrate, SCHEMA_VERSION } from '../src/index';
import {
  ACTIVE_JOB_SQL,
  CLAIM_JOB_SQL,
  claimJobParams,
  listJobsSql,
  SWEEP_EXPIRED_SQL,
} from '../src/jobRecord';

/** A clock the test moves by hand; timers are not needed by the store's happy paths. */
const manualClock = (start = Date.UTC(2026, 0, 1)) => {
  let now = start;
  const clock: Clock = { now: () => now, setTimeout: (cb, ms) => setTimeout(cb, ms), clearTimeout };
  return { clock, advance: (ms: number) => (now += ms) };
};

const account = { source: 'gmail', accountId: 'a@example.com' };

const line = (message: string): LogInput => ({ level: 'info', message });

/** Notices of another connection arrive on the watcher's next tick: wait for them (at most 5 s). */
async function waitFor(predicate: () => boolean): Promise<void> {
  const until = Date.now() + 5000;
  while (!predicate()) {
    if (Date.now() > until) throw new Error('timed out waiting for a notice');
    await sleep(5);
  }
}

const message = (id: string, extra: Partial<MailMessage> = {}): MailMessage => ({
  id,
  threadId: `t-${id}`,
  historyId: '10',
  internalDate: 1_700_000_000_000,
  labelIds: ['INBOX'],
  snippet: 'hello',
  sizeEstimate: 100,
  headers: { Subject: 'Hi' },
  category: null,
  ...extra,
});

let dir: string;
let path: string;
const opened: SyncStore[] = [];
const open = (options: Partial<Parameters<typeof createSqliteStore>[0]> = {}) => {
  const store = createSqliteStore({ path, ...options });
  opened.push(store);
  return store;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncjob-sqlite-'));
  path = join(dir, 'sync.db');
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('createSqliteStore', () => {
  it('creates one active job per account and returns it with created:false afterwards', async () => {
    const store = open();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.createJob({ ...account, mode: 'full', trigger: 'manual' })),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    expect((await store.getAccountState(account))?.lastJobId).toBe(results[0]?.job.id);
  });

  it('writes createJob logs with seq 1… and stores times as ISO', async () => {
    const { clock } = manualClock();
    const store = open({ clock });
    const { job } = await store.createJob({
      ...account,
      mode: 'full',
      trigger: 'manual',
      logs: [
        { level: 'info', message: 'one' },
        { level: 'info', message: 'two', data: { n: 2 } },
      ],
    });
    expect(job.lastLogSeq).toBe(2);
    expect(job.createdAt).toBe('2026-01-01T00:00:00.000Z');
    const logs = await store.getLogs(job.id);
    expect(logs.map((l) => [l.seq, l.message, l.data])).toEqual([
      [1, 'one', undefined],
      [2, 'two', { n: 2 }],
    ]);
  });

  it('fences every worker write by the lease token and expiry, changing nothing', async () => {
    const { clock, advance } = manualClock();
    const store = open({ clock });
    await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const claimed = await store.claimJob({ workerId: 'w1', leaseMs: 1000 });
    if (!claimed) throw new Error('expected a claim');
    const stale = { ...claimed.lease, token: 'not-the-token' };
    await expect(store.updateProgress(stale, { currentItem: 'x' })).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    advance(1000);
    await expect(
      store.commitBatch(claimed.lease, {
        write: { upsertMessages: [message('m1')] },
        logs: [{ level: 'info', message: 'x' }],
      }),
    ).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await store.data.countMessages(account)).toBe(0);
    expect((await store.getJob(claimed.job.id))?.lastLogSeq).toBe(0);
  });

  it('rolls the whole batch back when an app sink throws, after it wrote through the transaction', async () => {
    const store = open({
      sink: {
        async write(tx) {
          tx.exec(
            "INSERT INTO labels (source, account_id, id, name, type) VALUES ('x', 'y', 'L', 'L', 'user')",
          );
          await Promise.resolve();
          throw new Error('sink failed');
        },
      },
    });
    await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const claimed = await store.claimJob({ workerId: 'w1', leaseMs: 60_000 });
    if (!claimed) throw new Error('expected a claim');
    const checkpoint = {
      jobId: claimed.job.id,
      mode: 'full' as const,
      data: { page: 2 },
      counters: claimed.job.counters,
      categoryCounts: {},
      phase: 'fetching' as const,
    };
    await expect(
      store.commitBatch(claimed.lease, {
        write: { upsertMessages: [message('m1')] },
        stage: { add: [{ id: 's1', group: null }] },
        checkpoint,
        logs: [{ level: 'info', message: 'batch' }],
      }),
    ).rejects.toThrow('sink failed');
    expect(await store.countStaged(account)).toBe(0);
    expect((await store.getAccountState(account))?.checkpoint).toBeNull();
    expect(await store.getLogs(claimed.job.id)).toEqual([]);
    const db = new DatabaseSync(path);
    expect(db.prepare('SELECT COUNT(*) AS n FROM labels').get()?.n).toBe(0);
    db.close();
  });

  it('commits sink data, staged items, checkpoint and progress together and reads them back', async () => {
    const store = open();
    await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const claimed = await store.claimJob({ workerId: 'w1', leaseMs: 60_000 });
    if (!claimed) throw new Error('expected a claim');
    const counters = { ...claimed.job.counters, total: 4, stored: 2, fetched: 2 };
    const { job } = await store.commitBatch(claimed.lease, {
      write: {
        upsertMessages: [message('m2', { raw: 'UkFX', payload: { a: 1 } }), message('m1')],
        upsertLabels: [{ id: 'INBOX', name: 'Inbox', type: 'system', messagesTotal: 3 }],
        changeLabels: [{ id: 'm1', add: ['STARRED'], remove: ['INBOX'] }],
      },
      stage: {
        add: [
          { id: 'b', group: 'g' },
          { id: 'a', group: 'g' },
          { id: 'z', group: null },
        ],
      },
      checkpoint: {
        jobId: claimed.job.id,
        mode: 'full',
        data: { page: 'p2' },
        counters,
        categoryCounts: {},
        phase: 'fetching',
      },
      progress: { counters, phase: 'fetching' },
    });
    expect(job.percent).toBe(50);
    expect(await store.data.listMessages(account)).toEqual([
      message('m1', { labelIds: ['STARRED'] }),
      message('m2', { raw: 'UkFX', payload: { a: 1 } }),
    ]);
    expect(await store.data.listLabels(account)).toEqual([
      { id: 'INBOX', name: 'Inbox', type: 'system', messagesTotal: 3 },
    ]);
    expect(await store.listStaged(account, { limit: 10 })).toEqual([
      { id: 'z', group: null },
      { id: 'a', group: 'g' },
      { id: 'b', group: 'g' },
    ]);
    expect(await store.listStaged(account, { limit: 10, after: { id: 'z', group: null } })).toHaveLength(2);
    expect((await store.getAccountState(account))?.checkpoint?.data).toEqual({ page: 'p2' });

    const { job: done } = await store.finishJob(claimed.lease, { status: 'completed', cursor: '99' });
    expect(done).toMatchObject({ status: 'completed', percent: 100, leaseExpiresAt: null, phase: null });
    expect(await store.getAccountState(account)).toMatchObject({ cursor: '99', checkpoint: null });
    expect(await store.countStaged(account)).toBe(0);
  });

  it('claims each queued job once, oldest first, and sweeps expired leases', async () => {
    const { clock, advance } = manualClock();
    const store = open({ clock });
    const first = await store.createJob({ source: 'gmail', accountId: '1', mode: 'full', trigger: 'manual' });
    await store.createJob({ source: 'gmail', accountId: '2', mode: 'full', trigger: 'manual' });
    const claims = await Promise.all(
      [1, 2, 3].map((n) => store.claimJob({ workerId: `w${n}`, leaseMs: 100 })),
    );
    expect(claims.filter(Boolean)).toHaveLength(2);
    expect(claims[0]?.job.id).toBe(first.job.id);
    advance(100);
    const swept = await store.sweepExpired(expireWith({ autoResume: true, maxAttempts: 1 }));
    expect(swept.map(({ job }) => [job.status, job.error?.code])).toEqual([
      ['interrupted', 'LEASE_EXPIRED'],
      ['interrupted', 'LEASE_EXPIRED'],
    ]);
    expect(await store.sweepExpired(expireWith({ autoResume: true, maxAttempts: 1 }))).toEqual([]);
  });

  it('tells subscribers after a change commits', async () => {
    const store = open();
    const notices: unknown[] = [];
    store.subscribe((notice) => notices.push(notice));
    const { job } = await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    await store.appendLogs(job.id, [{ level: 'info', message: 'hi' }]);
    expect(notices).toEqual([
      { jobId: job.id, status: 'queued', lastLogSeq: 0 },
      { jobId: job.id, status: 'queued', lastLogSeq: 1 },
    ]);
  });

  it("tells subscribers of another connection's changes (data_version watcher), each own change once", async () => {
    const writer = open();
    const reader = open();
    await reader.listJobs();
    const heard: StoreNotice[] = [];
    const own: StoreNotice[] = [];
    const unsubscribe = reader.subscribe((notice) => heard.push(notice));
    // A write before the subscription is not told; every one after it is.
    const { job } = await writer.createJob({ ...account, mode: 'full', trigger: 'manual' });
    await waitFor(() => heard.some((n) => n.jobId === job.id && n.status === 'queued'));
    const claimed = await writer.claimJob({ workerId: 'w1', leaseMs: 60_000 });
    await waitFor(() => heard.some((n) => n.jobId === job.id && n.status === 'running'));
    await writer.appendLogs(job.id, [line('one'), line('two')], claimed!.lease);
    await waitFor(() => heard.some((n) => n.jobId === job.id && n.lastLogSeq === 2));
    await writer.finishJob(claimed!.lease, { status: 'completed', logs: [line('done')] });
    await waitFor(() => heard.some((n) => n.status === 'completed' && n.lastLogSeq === 3));

    // The reader's own writes: told once, at commit, not again by its watcher.
    reader.subscribe((notice) => own.push(notice));
    const mine = await reader.createJob({
      source: 'gmail',
      accountId: 'mine',
      mode: 'full',
      trigger: 'manual',
    });
    await reader.appendLogs(mine.job.id, [line('a')]);
    await sleep(100);
    expect(own.filter((n) => n.jobId === mine.job.id)).toEqual([
      { jobId: mine.job.id, status: 'queued', lastLogSeq: 0 },
      { jobId: mine.job.id, status: 'queued', lastLogSeq: 1 },
    ]);

    // Mixed: the writer's change between two of the reader's own is still told.
    const other = await writer.createJob({
      source: 'gmail',
      accountId: 'theirs',
      mode: 'full',
      trigger: 'manual',
    });
    await reader.appendLogs(mine.job.id, [line('b')]);
    await waitFor(() => own.some((n) => n.jobId === other.job.id));
    await sleep(50);
    expect(own.filter((n) => n.jobId === mine.job.id)).toHaveLength(3);

    unsubscribe();
    const count = heard.length;
    await writer.createJob({ source: 'gmail', accountId: 'after', mode: 'full', trigger: 'manual' });
    await sleep(100);
    expect(heard).toHaveLength(count);
  });

  it('still hears the next change after an app deleted the job stamped last (seqs never go back)', async () => {
    const writer = open();
    const reader = open();
    await reader.listJobs();
    const heard: StoreNotice[] = [];
    reader.subscribe((notice) => heard.push(notice));
    const { job: kept } = await writer.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const { job: pruned } = await writer.createJob({
      source: 'gmail',
      accountId: 'pruned',
      mode: 'full',
      trigger: 'manual',
    });
    await waitFor(() => heard.some((n) => n.jobId === pruned.id));
    // An app prunes its job history by hand; here the job with the newest stamp goes.
    const db = new DatabaseSync(path);
    try {
      db.exec('PRAGMA busy_timeout = 5000');
      db.prepare('DELETE FROM jobs WHERE id = ?').run(pruned.id);
    } finally {
      db.close();
    }
    await writer.appendLogs(kept.id, [line('after the prune')]);
    await waitFor(() => heard.some((n) => n.jobId === kept.id && n.lastLogSeq === 1));
  });

  it("tells a heartbeat to this process's subscribers only: it changes nothing a notice carries", async () => {
    const writer = open();
    const reader = open();
    await reader.listJobs();
    const local: StoreNotice[] = [];
    const remote: StoreNotice[] = [];
    writer.subscribe((notice) => local.push(notice));
    reader.subscribe((notice) => remote.push(notice));
    const { job } = await writer.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const claimed = await writer.claimJob({ workerId: 'w1', leaseMs: 60_000 });
    await waitFor(() => remote.some((n) => n.status === 'running'));
    local.length = 0;
    remote.length = 0;
    await writer.renewLease(claimed!.lease, 60_000);
    await writer.appendLogs(job.id, [line('after the beat')], claimed!.lease);
    await waitFor(() => remote.some((n) => n.lastLogSeq === 1));
    expect(local).toEqual([
      { jobId: job.id, status: 'running', lastLogSeq: 0 },
      { jobId: job.id, status: 'running', lastLogSeq: 1 },
    ]);
    expect(remote).toEqual([{ jobId: job.id, status: 'running', lastLogSeq: 1 }]);
  });

  it('does not stall a second store of the same process while an app sink awaits inside its transaction', async () => {
    // node:sqlite waits for locks synchronously: were both connections to contend in SQLite, the
    // waiting one would block the thread the sink needs, for the whole busy timeout.
    const slow = open({
      busyTimeoutMs: 3000,
      sink: { write: () => new Promise<void>((resolve) => setTimeout(resolve, 20)) },
    });
    const peer = open({ busyTimeoutMs: 3000 });
    await slow.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const claimed = await slow.claimJob({ workerId: 'w1', leaseMs: 60_000 });
    if (!claimed) throw new Error('expected a claim');
    const started = Date.now();
    const [, other] = await Promise.all([
      slow.commitBatch(claimed.lease, { write: { upsertMessages: [message('m1')] } }),
      peer.createJob({ source: 'gmail', accountId: 'other', mode: 'full', trigger: 'manual' }),
    ]);
    expect(other.created).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('creates the missing folders of its path on first use (the README path works in a fresh checkout)', async () => {
    const nested = join(dir, 'data', 'deeper', 'sync.db');
    const store = open({ path: nested });
    expect(existsSync(join(dir, 'data'))).toBe(false); // nothing happens before the first call
    expect(await store.getJob('x')).toBeNull();
    expect(existsSync(nested)).toBe(true);
  });

  it('names the path when the folder cannot be created', async () => {
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const target = join(dir, 'a-file', 'sync.db');
    const store = open({ path: target });
    const error = await store.getJob('x').catch((cause: unknown) => cause);
    expect(error).toMatchObject({ name: 'SyncError', code: 'STORE_UNAVAILABLE' });
    expect((error as Error).message).toContain(target);
    expect((error as Error).message).toMatch(/Cannot create the folder/);
  });

  it('names the path when the file cannot be opened', async () => {
    const target = join(dir, 'a-folder');
    mkdirSync(target);
    const store = open({ path: target });
    const error = await store.getJob('x').catch((cause: unknown) => cause);
    expect(error).toMatchObject({ name: 'SyncError', code: 'STORE_UNAVAILABLE' });
    expect((error as Error).message).toContain(`Cannot open the SQLite database ${target}`);
  });

  it('keeps :memory: in memory (no file, no folder)', async () => {
    const store = open({ path: ':memory:' });
    const { created } = await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    expect(created).toBe(true);
    expect(existsSync(':memory:')).toBe(false);
  });

  it('rejects calls after close with STORE_UNAVAILABLE', async () => {
    const store = createSqliteStore({ path });
    await store.listJobs();
    await store.close();
    await expect(store.listJobs()).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });
});

describe('migrate', () => {
  it('creates the missing folder of a path too', async () => {
    const nested = join(dir, 'new-folder', 'sync.db');
    expect((await migrate(nested)).version).toBe(SCHEMA_VERSION);
    expect(existsSync(nested)).toBe(true);
  });

  it('is idempotent and records every version', async () => {
    expect(await migrate(path)).toEqual({
      applied: MIGRATIONS.map((m) => m.version),
      version: SCHEMA_VERSION,
    });
    expect(await migrate(path)).toEqual({ applied: [], version: SCHEMA_VERSION });
    const db = new DatabaseSync(path);
    expect(await migrate(db)).toEqual({ applied: [], version: SCHEMA_VERSION });
    expect(db.prepare('PRAGMA journal_mode').get()?.journal_mode).toBe('wal');
    db.close();
  });

  it('upgrades a version-1 database: its messages stay, with no generation, and a prune removes them', async () => {
    const db = new DatabaseSync(path);
    db.exec(MIGRATIONS[0]!.sql);
    db.exec(
      'CREATE TABLE syncjob_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    db.prepare('INSERT INTO syncjob_migrations VALUES (1, ?, 0)').run(MIGRATIONS[0]!.name);
    db.prepare(
      `INSERT INTO messages (source, account_id, id, thread_id, history_id, internal_date, label_ids, snippet,
         size_estimate, headers, category) VALUES (?, ?, 'old', 't-old', '10', 1, '["INBOX"]', 'hello', 100, '{}', NULL)`,
    ).run(account.source, account.accountId);
    db.close();

    expect((await migrate(path)).applied).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
    const store = open();
    expect((await store.data.listMessages(account)).map((stored) => stored.id)).toEqual(['old']);
    await store.createJob({ ...account, mode: 'full', trigger: 'manual' });
    const claimed = await store.claimJob({ workerId: 'w', leaseMs: 60_000 });
    await store.commitBatch(claimed!.lease, {
      write: { upsertMessages: [message('new')], generation: 'g1', pruneMessages: { keepGeneration: 'g1' } },
    });
    expect((await store.data.listMessages(account)).map((stored) => stored.id)).toEqual(['new']);
  });
});

describe('job indexes (migration 7)', () => {
  /** The plan SQLite picks for `sql`: one line per step. */
  const planOf = (db: DatabaseSync, sql: string, params: SQLInputValue[]): string[] =>
    db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...params)
      .map((row) => String(row.detail));
  /** A step that reads every job: a scan of the table, or of an index that is not partial. */
  const readsEveryJob = (plan: string[]) =>
    plan.some((step) =>
      /^SCAN jobs( USING (COVERING )?INDEX (jobs_by_created|jobs_by_account|jobs_by_change))?$/.test(step),
    );

  it('reads live jobs through the active index and finished ones through theirs, never every job', async () => {
    await migrate(path);
    const db = new DatabaseSync(path);
    try {
      const list = (query: Parameters<typeof listJobsSql>[0]) => {
        const { sql, params } = listJobsSql(query, 50);
        return planOf(db, sql, params);
      };
      // What workers and the scheduler run all the time: only queued and running jobs are read.
      expect(planOf(db, SWEEP_EXPIRED_SQL, [0]).join(' ')).toContain('INDEX jobs_one_active_per_account');
      expect(list({ statuses: ['queued', 'running'] }).join(' ')).toContain(
        'INDEX jobs_one_active_per_account',
      );
      expect(list({ source: 'gmail', statuses: ['running'] }).join(' ')).toContain(
        'INDEX jobs_one_active_per_account (source=?)',
      );
      const claim = planOf(db, CLAIM_JOB_SQL, claimJobParams({ workerId: 'w', leaseMs: 1 }, 't', 0));
      expect(claim.join(' ')).toContain('INDEX jobs_queue');
      expect(claim.join(' ')).toContain('INDEX jobs_by_change');
      // Listings of finished jobs by status read their own index.
      expect(list({ statuses: ['failed'] }).join(' ')).toContain('INDEX jobs_finished (status=?)');
      expect(list({ statuses: ['completed', 'cancelled'] }).join(' ')).toContain('INDEX jobs_finished');
      // Watchers read only what changed since they last looked.
      expect(planOf(db, NEW_JOBS_SQL, [0, 500]).join(' ')).toContain('INTEGER PRIMARY KEY (rowid>?)');
      expect(planOf(db, CHANGED_JOBS_SQL, [0, 500]).join(' ')).toContain(
        'INDEX jobs_by_change (change_seq>?)',
      );
      for (const plan of [
        planOf(db, SWEEP_EXPIRED_SQL, [0]),
        planOf(db, ACTIVE_JOB_SQL, ['gmail', 'a']),
        list({ statuses: ['queued'] }),
        list({ statuses: ['interrupted'] }),
        list({ accountId: 'a', statuses: ['failed'] }),
      ]) {
        expect(readsEveryJob(plan), plan.join(' | ')).toBe(false);
      }
    } finally {
      db.close();
    }
  });

  it('upgrades a version-6 database with history: its jobs sweep, list, claim and are heard as before', async () => {
    const db = new DatabaseSync(path);
    db.exec(
      'CREATE TABLE syncjob_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const migration of MIGRATIONS.filter((m) => m.version <= 6)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO syncjob_migrations VALUES (?, ?, 0)').run(migration.version, migration.name);
    }
    // Three jobs as version 6 left them: every one stamped, the newest stamp on the running one.
    const insert = db.prepare(
      `INSERT INTO jobs (id, source, account_id, status, mode, job_trigger, counters, created_at, updated_at,
         started_at, lease_expires_at, lease_token, worker_id, attempt, change_seq)
       VALUES (?, 'gmail', ?, ?, 'full', 'manual', '{}', ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const t0 = Date.UTC(2026, 0, 1);
    insert.run('old-done', 'done@example.com', 'completed', t0, t0, t0, null, null, null, 1, 1);
    insert.run('old-queued', 'queued@example.com', 'queued', t0 + 1, t0 + 1, null, null, null, null, 0, 2);
    insert.run(
      'old-running',
      'running@example.com',
      'running',
      t0 + 2,
      t0 + 2,
      t0 + 2,
      t0 + 10,
      'tok',
      'w0',
      1,
      3,
    );
    db.close();

    expect((await migrate(path)).applied).toEqual([7]);
    const { clock } = manualClock(t0 + 1000);
    const writer = open({ clock });
    const reader = open();
    await reader.listJobs();
    const heard: StoreNotice[] = [];
    reader.subscribe((notice) => heard.push(notice));

    expect((await writer.listJobs({ statuses: ['completed'] })).map((job) => job.id)).toEqual(['old-done']);
    expect((await writer.listJobs({ statuses: ['queued', 'running'] })).map((job) => job.id)).toEqual([
      'old-running',
      'old-queued',
    ]);
    const swept = await writer.sweepExpired(expireWith({ autoResume: false, maxAttempts: 1 }));
    expect(swept.map(({ job }) => [job.id, job.status])).toEqual([['old-running', 'interrupted']]);
    const claimed = await writer.claimJob({ workerId: 'w1', leaseMs: 60_000 });
    expect(claimed?.job.id).toBe('old-queued');
    const fresh = await writer.createJob({ ...account, mode: 'full', trigger: 'manual' });

    // The stamps carry on above the old ones, and the new job is heard by its row.
    await waitFor(
      () =>
        heard.some((n) => n.jobId === 'old-running' && n.status === 'interrupted') &&
        heard.some((n) => n.jobId === 'old-queued' && n.status === 'running') &&
        heard.some((n) => n.jobId === fresh.job.id && n.status === 'queued'),
    );
    expect((await writer.listJobs({ statuses: ['interrupted'] })).map((job) => job.id)).toEqual([
      'old-running',
    ]);
  });
});
