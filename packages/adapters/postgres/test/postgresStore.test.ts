import type { Lease, LogInput, MailMessage, SyncSink } from '@syncjob/core';
import { LeaseLostError, SyncError } from '@syncjob/core';
import { cancelTransition, expireWith } from '@syncjob/core/store';
import pg from 'pg';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createPostgresStore, migrate, type PostgresStore, SCHEMA_VERSION } from '../src/index';
import { describePostgres, dropSchemas, freshSchema, postgresUrl } from './testDatabase';

const url = postgresUrl ?? '';
const schemas = new Set<string>();
/** Versions run in order from 1, so a fresh schema gets every one of them. */
const allVersions = Array.from({ length: SCHEMA_VERSION }, (_, index) => index + 1);
const stores: PostgresStore[] = [];

async function newStore(options: Parameters<typeof createPostgresStore>[0] = {}): Promise<PostgresStore> {
  const schema = options.schema ?? freshSchema();
  schemas.add(schema);
  const store = await createPostgresStore({ connectionString: url, schema, maxConnections: 5, ...options });
  stores.push(store);
  return store;
}

const account = (accountId = 'a@example.com') => ({ source: 'gmail', accountId });

async function runningJob(store: PostgresStore, leaseMs = 60_000): Promise<Lease> {
  await store.createJob({ ...account(), mode: 'full', trigger: 'manual' });
  const claimed = await store.claimJob({ workerId: 'w1', leaseMs });
  if (!claimed) throw new Error('nothing claimed');
  return claimed.lease;
}

const message = (id: string, extra: Partial<MailMessage> = {}): MailMessage => ({
  id,
  threadId: `t-${id}`,
  historyId: '10',
  internalDate: 1_700_000_000_000 + Number(id.replace(/\D/g, '') || 0),
  labelIds: ['INBOX'],
  snippet: `snippet ${id}`,
  sizeEstimate: 100,
  headers: { Subject: `Hello ${id}` },
  category: null,
  ...extra,
});

describePostgres('PostgreSQL store', () => {
  let admin: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: url });
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await admin?.end();
    await dropSchemas(url, schemas);
  });

  it('migrates idempotently, also when many migrators race', async () => {
    const schema = freshSchema('m');
    schemas.add(schema);
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate(url, { schema })));
    expect(results.flatMap((result) => result.applied)).toEqual(allVersions);
    expect(await migrate(url, { schema })).toEqual({ applied: [], version: SCHEMA_VERSION });
  });

  it('migration 2 upgrades a version-1 schema: stored messages stay, with no generation, until a prune', async () => {
    const schema = freshSchema('u');
    schemas.add(schema);
    await migrate(url, { schema });
    // Back to what version 1 left, with a message stored by it.
    await admin.query(`DROP INDEX "${schema}".messages_generation`);
    await admin.query(`ALTER TABLE "${schema}".messages DROP COLUMN generation`);
    await admin.query(`DELETE FROM "${schema}".schema_migrations WHERE version = 2`);
    await admin.query(
      `INSERT INTO "${schema}".messages (source, account_id, id, thread_id, internal_date, label_ids, headers)
       VALUES ('gmail', $1, 'old', 't-old', 1, '["INBOX"]', '{}')`,
      [account().accountId],
    );
    expect(await migrate(url, { schema })).toEqual({ applied: [2], version: SCHEMA_VERSION });

    const store = await newStore({ schema });
    expect((await store.data.listMessages(account())).map((stored) => stored.id)).toEqual(['old']);
    const lease = await runningJob(store);
    await store.commitBatch(lease, {
      write: { upsertMessages: [message('m1')], generation: 'g1', pruneMessages: { keepGeneration: 'g1' } },
    });
    expect((await store.data.listMessages(account())).map((stored) => stored.id)).toEqual(['m1']);
  });

  it('creates exactly one active job under concurrent starts from two pools', async () => {
    const store = await newStore();
    const peer = await newStore({ schema: store.schema });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? store : peer).createJob({
          ...account(),
          mode: 'full',
          trigger: 'manual',
          logs: [{ level: 'info', message: 'start' }],
        }),
      ),
    );
    const created = results.filter((result) => result.created);
    expect(created).toHaveLength(1);
    expect(new Set(results.map((result) => result.job.id)).size).toBe(1);
    expect(await store.getLogs(created[0]!.job.id)).toMatchObject([{ seq: 1, message: 'start' }]);
    expect((await store.getAccountState(account()))?.lastJobId).toBe(created[0]!.job.id);
  });

  it('hands each queued job to exactly one of many concurrent claimers, oldest first', async () => {
    const store = await newStore();
    const peer = await newStore({ schema: store.schema });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      ids.push((await store.createJob({ ...account(`u${i}`), mode: 'full', trigger: 'manual' })).job.id);
    }
    const claims = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 ? store : peer).claimJob({ workerId: `w${i}`, leaseMs: 60_000 }),
      ),
    );
    const claimed = claims.filter((claim) => claim !== null).map((claim) => claim.job.id);
    expect(claimed.sort()).toEqual([...ids].sort());
    const first = await newStore();
    await first.createJob({ ...account('x'), mode: 'full', trigger: 'manual' });
    await first.createJob({ ...account('y'), mode: 'full', trigger: 'manual' });
    expect((await first.claimJob({ workerId: 'w', leaseMs: 1000 }))?.job.accountId).toBe('x');
  });

  it('fences writes by the database clock: an expired lease changes nothing', async () => {
    const store = await newStore();
    const lease = await runningJob(store, 150);
    await store.updateProgress(lease, { currentItem: 'page 1' });
    await vi.waitFor(
      async () => {
        const { rows } = await admin.query(
          `SELECT lease_expires_at <= now() AS expired FROM "${store.schema}".jobs WHERE id = $1`,
          [lease.jobId],
        );
        expect(rows[0].expired).toBe(true);
      },
      { timeout: 2000, interval: 50 },
    );
    await expect(
      store.commitBatch(lease, { logs: [{ level: 'info', message: 'late' }] }),
    ).rejects.toBeInstanceOf(LeaseLostError);
    await expect(store.renewLease(lease, 1000)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect((await store.getJob(lease.jobId))?.currentItem).toBe('page 1');
    expect(await store.getLogs(lease.jobId)).toEqual([]);
    const swept = await store.sweepExpired(expireWith({ autoResume: true, maxAttempts: 3 }));
    expect(swept.map(({ job }) => [job.id, job.status])).toEqual([[lease.jobId, 'queued']]);
    expect(await store.getLogs(lease.jobId)).toMatchObject([{ seq: 1, level: 'warn' }]);
  });

  it('commits sink data, staged items, checkpoint, progress and logs together', async () => {
    const store = await newStore();
    const lease = await runningJob(store);
    const { job } = await store.commitBatch(lease, {
      write: {
        upsertMessages: [message('m1'), message('m2'), message('m2', { snippet: 'again' })],
        upsertLabels: [{ id: 'INBOX', name: 'Inbox', type: 'system' }],
      },
      stage: {
        add: [
          { id: 'b', group: 'g2' },
          { id: 'a', group: null },
          { id: 'c', group: 'g1' },
        ],
      },
      checkpoint: {
        jobId: lease.jobId,
        mode: 'full',
        data: { page: 2 },
        counters: job0(),
        categoryCounts: {},
        phase: 'fetching',
      },
      progress: { phase: 'fetching', counters: { ...job0(), total: 10, stored: 2 } },
      logs: [{ level: 'info', message: 'batch 1', data: { n: 2 } }],
    });
    expect(job).toMatchObject({ phase: 'fetching', percent: 20, lastLogSeq: 1 });
    expect(await store.data.countMessages(account())).toBe(2);
    expect((await store.data.listMessages(account()))[1]).toEqual(message('m2', { snippet: 'again' }));
    expect(await store.data.listLabels(account())).toEqual([{ id: 'INBOX', name: 'Inbox', type: 'system' }]);
    expect(await store.listStaged(account(), { limit: 10 })).toEqual([
      { id: 'a', group: null },
      { id: 'c', group: 'g1' },
      { id: 'b', group: 'g2' },
    ]);
    expect(await store.listStaged(account(), { limit: 10, after: { id: 'c', group: 'g1' } })).toEqual([
      { id: 'b', group: 'g2' },
    ]);
    expect((await store.getAccountState(account()))?.checkpoint?.data).toEqual({ page: 2 });

    await store.commitBatch(lease, {
      write: {
        changeLabels: [{ id: 'm1', add: ['STARRED', 'X'], remove: ['INBOX', 'X'] }],
        deleteMessages: ['m2', 'nope'],
      },
      stage: { remove: ['a'] },
    });
    expect(await store.data.listMessages(account())).toEqual([{ ...message('m1'), labelIds: ['STARRED'] }]);
    expect(await store.countStaged(account())).toBe(2);
  });

  it('rolls the whole batch back when an app sink throws, and hands the sink the open transaction', async () => {
    const seen: boolean[] = [];
    const sink: SyncSink<pg.PoolClient> = {
      async write(tx, key, write) {
        const { rows } = await tx.query('SELECT txid_current_if_assigned() IS NOT NULL AS in_tx');
        seen.push(rows[0].in_tx);
        if (write.deleteMessages?.includes('boom')) throw new Error('app sink failed');
        await tx.query('SELECT $1::text', [key.accountId]);
      },
    };
    const store = await newStore({ sink });
    const lease = await runningJob(store);
    await expect(
      store.commitBatch(lease, {
        write: { deleteMessages: ['boom'] },
        checkpoint: null,
        stage: { add: [{ id: 'x', group: null }] },
        progress: { currentItem: 'never' },
        logs: [{ level: 'info', message: 'never' }],
      }),
    ).rejects.toThrow('app sink failed');
    expect(seen).toEqual([true]);
    const job = await store.getJob(lease.jobId);
    expect(job).toMatchObject({ currentItem: null, lastLogSeq: 0 });
    expect(await store.countStaged(account())).toBe(0);
    expect(await store.getLogs(lease.jobId)).toEqual([]);
  });

  it('numbers log lines without gaps under concurrent appends from two pools', async () => {
    const store = await newStore();
    const peer = await newStore({ schema: store.schema });
    const lease = await runningJob(store);
    const lines: LogInput[] = [
      { level: 'info', message: 'x' },
      { level: 'warn', message: 'y' },
    ];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 3 === 0
          ? store.appendLogs(lease.jobId, lines, lease)
          : (i % 2 ? store : peer).appendLogs(lease.jobId, lines),
      ),
    );
    const logs = await store.getLogs(lease.jobId, { limit: 100 });
    expect(logs.map((line) => line.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect((await store.getJob(lease.jobId))?.lastLogSeq).toBe(40);
    await expect(store.appendLogs('00000000-0000-4000-8000-000000000000', lines)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('tells subscribers in other store instances (other processes) about changes', async () => {
    const store = await newStore();
    const peer = await newStore({ schema: store.schema });
    const heard: string[] = [];
    peer.subscribe((notice) => heard.push(`${notice.status}:${notice.lastLogSeq}`));
    await vi.waitFor(() => expect(peer.isListening).toBe(true), { timeout: 5000 });
    const { job } = await store.createJob({
      ...account(),
      mode: 'full',
      trigger: 'manual',
      logs: [{ level: 'info', message: 'hi' }],
    });
    await store.updateJob(job.id, cancelTransition);
    await vi.waitFor(() => expect(heard).toEqual(['queued:1', 'cancelled:2']), { timeout: 5000 });
  });

  it('keeps delivering notices by polling while the listener is down, and reconnects it', async () => {
    const store = await newStore({ applicationName: 'syncjob-notify-test', pollIntervalMs: 100 });
    const peer = await newStore({ schema: store.schema });
    const heard: string[] = [];
    store.subscribe((notice) => heard.push(notice.status));
    await vi.waitFor(() => expect(store.isListening).toBe(true), { timeout: 5000 });
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'syncjob-notify-test:listen'`,
    );
    await vi.waitFor(() => expect(store.isListening).toBe(false), { timeout: 5000 });
    const { job } = await peer.createJob({ ...account(), mode: 'full', trigger: 'manual' });
    await vi.waitFor(() => expect(heard).toContain('queued'), { timeout: 5000 });
    await vi.waitFor(() => expect(store.isListening).toBe(true), { timeout: 5000 });
    await peer.updateJob(job.id, cancelTransition);
    await vi.waitFor(() => expect(heard).toEqual(['queued', 'cancelled']), { timeout: 5000 });
  });

  it('survives its connections being terminated: a valid lease carries on', async () => {
    const errors: unknown[] = [];
    const store = await newStore({
      applicationName: 'syncjob-kill-test',
      onError: (error) => errors.push(error),
    });
    const lease = await runningJob(store);
    await store.getJob(lease.jobId);
    const { rows } = await admin.query(
      `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'syncjob-kill-test'`,
    );
    expect(rows.length).toBeGreaterThan(0);
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 2000 });
    const renewed = await store.renewLease(lease, 60_000);
    expect(renewed.status).toBe('running');
    await store.commitBatch(lease, { logs: [{ level: 'info', message: 'after reconnect' }] });
    expect(await store.getLogs(lease.jobId)).toMatchObject([{ seq: 1, message: 'after reconnect' }]);
  });

  it('survives its connections being terminated: an expired lease stops with LEASE_LOST', async () => {
    const store = await newStore({ applicationName: 'syncjob-kill-expired' });
    const lease = await runningJob(store, 200);
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'syncjob-kill-expired'`,
    );
    await new Promise((resolve) => setTimeout(resolve, 450));
    await expect(
      store.commitBatch(lease, { logs: [{ level: 'info', message: 'too late' }] }),
    ).rejects.toMatchObject({
      code: 'LEASE_LOST',
    });
    await expect(store.renewLease(lease, 60_000)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await store.getLogs(lease.jobId)).toEqual([]);
  });

  it('fails operations with STORE_UNAVAILABLE while the database is down, without crashing on subscribe', async () => {
    const errors: unknown[] = [];
    const store = await createPostgresStore({
      connectionString: 'postgres://nobody@127.0.0.1:1/none',
      migrate: false,
      pollIntervalMs: 20,
      onError: (error) => errors.push(error),
    });
    const unsubscribe = store.subscribe(() => {});
    await expect(store.getJob('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    await expect(store.createJob({ ...account(), mode: 'full', trigger: 'manual' })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(1), { timeout: 2000 });
    expect(store.isListening).toBe(false);
    unsubscribe();
    await store.close();
  });

  it("uses an app's pool without ending it, and migrate() accepts a pool", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const schema = freshSchema('p');
    schemas.add(schema);
    expect((await migrate(pool, { schema })).applied).toEqual(allVersions);
    const store = await createPostgresStore({ pool, schema });
    expect(store.pool).toBe(pool);
    await store.createJob({ ...account(), mode: 'full', trigger: 'manual' });
    await store.close();
    expect((await pool.query(`SELECT count(*)::int AS n FROM "${schema}".jobs`)).rows[0].n).toBe(1);
    expect(pool.listenerCount('error')).toBe(0);
    await pool.end();
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await expect(
      createPostgresStore({ connectionString: url, schema: 'x"; DROP TABLE y; --' }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
    });
    await expect(createPostgresStore({})).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('reports an unreachable database as STORE_UNAVAILABLE', async () => {
    const error = await createPostgresStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none' }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    expect((error as Error).message).toMatch(/PostgreSQL is unreachable/);
  });
});

function job0() {
  return { total: null, listed: 0, fetched: 0, classified: 0, stored: 0, skipped: 0, deleted: 0, failed: 0 };
}
