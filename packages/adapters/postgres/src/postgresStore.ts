import {
  type AccountKey,
  type AccountState,
  type BatchCommit,
  type ClaimedJob,
  type ClaimInput,
  type CreateJobInput,
  type CreateJobResult,
  type DecideTransition,
  type FinishInput,
  type GetLogsQuery,
  isEmptySinkWrite,
  type Job,
  type JobChange,
  type JobError,
  type JobTransition,
  type JobWrite,
  type Lease,
  LeaseLostError,
  type ListJobsQuery,
  type ListMessagesQuery,
  type ListStagedQuery,
  type LogEntry,
  type LogInput,
  type MailDataReader,
  type MailLabel,
  type MailMessage,
  newId,
  type ProgressPatch,
  percentOf,
  type QuotaDemand,
  type StageChange,
  type StagedItem,
  type StoreCapabilities,
  type StoreNotice,
  SyncError,
  type SyncSink,
  type SyncStore,
} from '@syncjob/core';
import {
  checkCreateJobInput,
  checkLeaseMs,
  checkTakeQuota,
  clampLimit,
  finishChange,
  LIMITS,
  newJob,
} from '@syncjob/core/store';
import pg from 'pg';
import { DEFAULT_SCHEMA, migrate, quoteSchema } from './migrations';
import { NoticeChannel, type VersionedNotice } from './notifications';
import { createPostgresSink } from './postgresSink';
import { isConnectionError, toStoreError } from './storeErrors';

export interface PostgresStoreOptions {
  /** Connection string for a pool the store creates (and ends on `close`). Ignored when `pool` is given. */
  connectionString?: string;
  /** An existing pool to use. The store never ends it; `close` only detaches from it. */
  pool?: pg.Pool;
  /**
   * Schema holding syncjob's tables. Default `'syncjob'`: a schema of its own keeps `jobs`,
   * `messages` and `labels` away from the app's tables of the same names.
   */
  schema?: string;
  /**
   * Where batches of synced data go. Default: the `messages` and `labels` tables of `schema`. An
   * app sink receives the `pg.PoolClient` inside the batch's open transaction; if it throws, the
   * whole batch (checkpoint, progress, logs) rolls back.
   */
  sink?: SyncSink<pg.PoolClient>;
  /** How often to poll for job changes while the LISTEN connection is down, in ms. Default 1000. */
  pollIntervalMs?: number;
  /** Run migrations when the store is created. Default `true` (idempotent and concurrency-safe). */
  migrate?: boolean;
  /** Size of the pool the store creates from `connectionString`. Default 10. */
  maxConnections?: number;
  /**
   * Ends a session left idle inside a transaction this long (`idle_in_transaction_session_timeout`),
   * in ms, for the pool the store creates. A worker frozen mid-batch (SIGSTOP, a paused VM) would
   * otherwise hold its job's row lock forever and no other worker could take the job over. Default
   * 60000; set it on your own pool when you pass `pool`.
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * How long to wait for a connection (a new one, or a free one from a busy pool) before the
   * operation fails with `STORE_UNAVAILABLE`, in ms, for the pool the store creates. Default 15000;
   * without it an unreachable host would hang every call.
   */
  connectionTimeoutMs?: number;
  /** `application_name` of the store's connections (visible in `pg_stat_activity`). Default `'syncjob'`. */
  applicationName?: string;
  /**
   * Called with errors the store recovers from by itself (an idle pooled connection dropped, the
   * listener connection lost, a failing subscriber). Default: ignored. The process never crashes on them.
   */
  onError?: (error: unknown) => void;
}

/** A `SyncStore` on PostgreSQL, plus what is specific to it. */
export interface PostgresStore extends SyncStore {
  readonly kind: 'postgres';
  /** The pool the store queries through. */
  readonly pool: pg.Pool;
  /** The schema holding its tables. */
  readonly schema: string;
  /** True while the LISTEN connection for cross-process notices is up. */
  readonly isListening: boolean;
}

interface JobRow {
  id: string;
  source: string;
  account_id: string;
  status: Job['status'];
  phase: Job['phase'];
  mode: Job['mode'];
  trigger: Job['trigger'];
  counters: Job['counters'];
  category_counts: Record<string, number>;
  rate_per_sec: number | null;
  eta_seconds: number | null;
  current_item: string | null;
  waiting: Job['waiting'];
  created_at: Date;
  started_at: Date | null;
  updated_at: Date;
  heartbeat_at: Date | null;
  lease_expires_at: Date | null;
  finished_at: Date | null;
  attempt: number;
  cancel_requested: boolean;
  error: JobError | null;
  last_log_seq: number;
  lease_token: string | null;
  worker_id: string | null;
  /** `updated_at` in epoch microseconds: identifies this version of the row for notices. */
  version: string;
}

interface LogRow {
  job_id: string;
  seq: number;
  at: Date | string;
  level: LogEntry['level'];
  message: string;
  data: Record<string, unknown> | null;
}

interface AccountRow {
  source: string;
  account_id: string;
  cursor: string | null;
  checkpoint: AccountState['checkpoint'];
  last_synced_at: Date | null;
  last_full_sync_at: Date | null;
  last_job_id: string | null;
  updated_at: Date;
}

const iso = (value: Date | null): string | null => (value ? value.toISOString() : null);

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    source: row.source,
    accountId: row.account_id,
    status: row.status,
    phase: row.phase,
    mode: row.mode,
    trigger: row.trigger,
    counters: row.counters,
    categoryCounts: row.category_counts,
    // Derived on read so it can never disagree with the counters it is computed from.
    percent: percentOf(row.counters, row.status),
    ratePerSec: row.rate_per_sec,
    etaSeconds: row.eta_seconds,
    currentItem: row.current_item,
    // NULL in rows written before the column existed, as in rows of jobs that wait for nothing.
    waiting: row.waiting ?? null,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    updatedAt: row.updated_at.toISOString(),
    heartbeatAt: iso(row.heartbeat_at),
    leaseExpiresAt: iso(row.lease_expires_at),
    finishedAt: iso(row.finished_at),
    attempt: row.attempt,
    cancelRequested: row.cancel_requested,
    error: row.error,
    lastLogSeq: row.last_log_seq,
  };
}

function toLogEntry(row: LogRow): LogEntry {
  const entry: LogEntry = {
    jobId: row.job_id,
    seq: row.seq,
    // A line read back from `json_agg` carries its time as text.
    at: new Date(row.at).toISOString(),
    level: row.level,
    message: row.message,
  };
  if (row.data !== null) entry.data = row.data;
  return entry;
}

function toAccountState(row: AccountRow): AccountState {
  return {
    source: row.source,
    accountId: row.account_id,
    cursor: row.cursor,
    checkpoint: row.checkpoint,
    lastSyncedAt: iso(row.last_synced_at),
    lastFullSyncAt: iso(row.last_full_sync_at),
    lastJobId: row.last_job_id,
    updatedAt: row.updated_at.toISOString(),
  };
}

const toNotice = (row: JobRow): VersionedNotice => ({
  jobId: row.id,
  status: row.status,
  lastLogSeq: row.last_log_seq,
  version: row.version,
});

/** A job row with the lines its write appended (`json_agg` of the `new_logs` CTE). */
type WrittenRow = JobRow & { new_logs?: LogRow[] | null };

const toJobWrite = (row: WrittenRow): JobWrite => ({
  job: toJob(row),
  logs: (row.new_logs ?? []).map(toLogEntry).sort((a, b) => a.seq - b.seq),
});

/** The job columns a core `JobChange` sets. */
const CHANGE_COLUMNS: Record<keyof JobChange, { column: string; cast: string }> = {
  status: { column: 'status', cast: '' },
  phase: { column: 'phase', cast: '' },
  attempt: { column: 'attempt', cast: '::integer' },
  startedAt: { column: 'started_at', cast: '::timestamptz' },
  heartbeatAt: { column: 'heartbeat_at', cast: '::timestamptz' },
  leaseExpiresAt: { column: 'lease_expires_at', cast: '::timestamptz' },
  finishedAt: { column: 'finished_at', cast: '::timestamptz' },
  cancelRequested: { column: 'cancel_requested', cast: '::boolean' },
  error: { column: 'error', cast: '::jsonb' },
  waiting: { column: 'waiting', cast: '::jsonb' },
};

/**
 * Stands for the database's `now()` in a change computed before the statement runs (a fenced
 * finish is one statement, with no read to take the time from).
 */
const DB_NOW = 'now()';

const logsJson = (entries: readonly LogInput[]): string =>
  JSON.stringify(
    entries.map((entry) => ({ level: entry.level, message: entry.message, data: entry.data ?? null })),
  );

/**
 * Creates the PostgreSQL store: many workers in many processes on many machines share it. Runs the
 * migrations first (unless `migrate: false`).
 */
export async function createPostgresStore(options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const schemaName = options.schema ?? DEFAULT_SCHEMA;
  const schema = quoteSchema(schemaName);
  if (!options.pool && !options.connectionString) {
    throw new SyncError('INVALID_INPUT', 'createPostgresStore needs a `connectionString` or a `pool`.');
  }
  const ownsPool = !options.pool;
  const applicationName = options.applicationName ?? 'syncjob';
  const pool =
    options.pool ??
    new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      application_name: applicationName,
      idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 15_000,
      // TCP keep-alive notices a peer that vanished (a failed-over server, a dropped NAT entry).
      keepAlive: true,
    });
  const onError = options.onError ?? (() => {});
  // An idle pooled client whose connection drops emits `error` on the pool; unhandled, Node would
  // crash the process. The pool already discards that client, so noting it is all there is to do.
  const onPoolError = (error: Error) => onError(error);
  pool.on('error', onPoolError);

  if (options.migrate !== false) {
    try {
      await migrate(pool, { schema: schemaName });
    } catch (error) {
      pool.off('error', onPoolError);
      if (ownsPool) await pool.end().catch(() => {});
      throw error;
    }
  }

  const sink = options.sink ?? createPostgresSink({ schema: schemaName });
  const origin = newId();
  // Channel names are identifiers (at most 63 bytes); one channel per schema keeps stores apart.
  const channel = `syncjob.${schemaName}`.slice(0, 63);
  const jobs = `${schema}.jobs`;
  const logs = `${schema}.job_logs`;
  const accounts = `${schema}.account_state`;
  const staged = `${schema}.staged_items`;
  const quotaWindows = `${schema}.quota_windows`;
  const quotaDemands = `${schema}.quota_demands`;

  const version = (alias: string) =>
    `(extract(epoch from ${alias}.updated_at) * 1000000)::bigint::text AS version`;
  // NOTIFY travels with the transaction: listeners hear of a change only once it committed, and
  // never of one that rolled back.
  const notify = (alias: string) =>
    `pg_notify('${channel}', json_build_object('o', '${origin}', 'j', ${alias}.id, 's', ${alias}.status,
      'q', ${alias}.last_log_seq,
      'v', (extract(epoch from ${alias}.updated_at) * 1000000)::bigint::text)::text) AS notified`;
  const returningJob = (alias = 'j') => `RETURNING ${alias}.*, ${version(alias)}, ${notify(alias)}`;
  const selectJob = `SELECT j.*, ${version('j')} FROM ${jobs} AS j`;
  // The fence of every worker write, evaluated by the database with its own clock: the token must
  // be the current one, the job running, and the lease not expired. A worker whose clock drifts or
  // whose process was frozen cannot write past its lease.
  const fence = (idParam: string, tokenParam: string) =>
    `j.id = ${idParam} AND j.lease_token = ${tokenParam} AND j.status = 'running' AND j.lease_expires_at > now()`;

  const notices = new NoticeChannel({
    channel,
    origin,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    onError,
    createClient: () => {
      // The listener lives outside the pool: LISTEN is a property of one session, and a pooled
      // client would be handed to other queries. No idle-in-transaction timeout applies to it.
      return new pg.Client({
        ...pool.options,
        application_name: `${applicationName}:listen`,
        keepAlive: true,
      });
    },
    poll: async (sinceMs) => {
      // An aggregate always yields one row, so the database's "now" comes back even when nothing changed.
      const { rows } = await query<{ db_now: number; changed: JobRow[] }>(
        `SELECT (extract(epoch from now()) * 1000)::float8 AS db_now,
           coalesce(json_agg(json_build_object('id', j.id, 'status', j.status, 'last_log_seq', j.last_log_seq,
             'version', (extract(epoch from j.updated_at) * 1000000)::bigint::text) ORDER BY j.updated_at), '[]') AS changed
         FROM ${jobs} AS j
         WHERE j.updated_at > coalesce(to_timestamp($1::float8 / 1000), now() - interval '10 seconds')`,
        [sinceMs],
      );
      const row = rows[0]!;
      return { now: row.db_now, notices: row.changed.map(toNotice) };
    },
  });
  let closed = false;

  const afterCommit = (rows: readonly JobRow[]) => {
    for (const row of rows) notices.deliverLocal(toNotice(row));
  };

  /** One statement. Reads are retried once on a dropped connection; writes only when nothing was sent. */
  async function query<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    retry: 'read' | 'write' = 'read',
  ): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(sql, params);
    } catch (error) {
      const unsent = error instanceof Error && error.message.includes('not queryable');
      if (!closed && isConnectionError(error) && (retry === 'read' || unsent)) {
        try {
          return await pool.query<R>(sql, params);
        } catch (second) {
          throw toStoreError(second);
        }
      }
      throw toStoreError(error);
    }
  }

  /**
   * Runs `fn` in one transaction on one pooled client. A client whose connection died is destroyed
   * rather than returned to the pool. If BEGIN itself fails on a dead connection nothing was done,
   * so it is retried once on a fresh one.
   */
  async function transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        client = await pool.connect();
        await client.query('BEGIN');
        break;
      } catch (error) {
        client?.release(error instanceof Error ? error : true);
        client = undefined;
        if (attempt > 0 || closed || !isConnectionError(error)) throw toStoreError(error);
      }
    }
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      const broken = isConnectionError(error);
      if (!broken) await client.query('ROLLBACK').catch(() => {});
      client.release(broken ? (error as Error) : undefined);
      throw toStoreError(error);
    }
  }

  /** Appends `value` to `params` and returns its placeholder. */
  const bind = (params: unknown[], value: unknown, cast = ''): string => {
    params.push(value);
    return `$${params.length}${cast}`;
  };

  /**
   * `SET` clauses for the fields of a progress patch; parameters are appended to `params`.
   * `withChange`: the statement also applies a lifecycle change, which owns `phase` and `waiting`
   * (a column may be set once per statement).
   */
  function progressSets(patch: ProgressPatch | undefined, params: unknown[], withChange = false): string[] {
    const sets: string[] = [];
    if (!patch) return sets;
    const set = (column: string, value: unknown, cast = '') =>
      sets.push(`${column} = ${bind(params, value, cast)}`);
    if (patch.phase !== undefined && !withChange) set('phase', patch.phase);
    if (patch.mode !== undefined) set('mode', patch.mode);
    if (patch.counters !== undefined) set('counters', JSON.stringify(patch.counters), '::jsonb');
    if (patch.categoryCounts !== undefined)
      set('category_counts', JSON.stringify(patch.categoryCounts), '::jsonb');
    if (patch.ratePerSec !== undefined) set('rate_per_sec', patch.ratePerSec);
    if (patch.etaSeconds !== undefined) set('eta_seconds', patch.etaSeconds);
    if (patch.currentItem !== undefined) set('current_item', patch.currentItem);
    if (patch.waiting !== undefined && !withChange)
      set('waiting', patch.waiting === null ? null : JSON.stringify(patch.waiting), '::jsonb');
    return sets;
  }

  /**
   * `SET` clauses for a core-computed change. A time equal to `now` (the "now" the change was
   * computed with, read from the database in the same transaction, or `DB_NOW`) is written as
   * `now()`, exactly the transaction's time. An ended lease also drops the token and the worker.
   */
  function changeSets(change: JobChange, params: unknown[], now: string = DB_NOW): string[] {
    const sets: string[] = [];
    for (const [key, { column, cast }] of Object.entries(CHANGE_COLUMNS)) {
      const value = change[key as keyof JobChange];
      if (value === undefined) continue;
      if (value === now && cast === '::timestamptz') sets.push(`${column} = now()`);
      else
        sets.push(
          `${column} = ${bind(params, cast === '::jsonb' && value !== null ? JSON.stringify(value) : value, cast)}`,
        );
    }
    if (change.leaseExpiresAt === null) sets.push('lease_token = NULL', 'worker_id = NULL');
    return sets;
  }

  /** `, (the appended lines as JSON) AS new_logs` when the statement has a `new_logs` CTE. */
  const newLogsColumn = (count: number) =>
    count > 0 ? `, (SELECT json_agg(n) FROM new_logs AS n) AS new_logs` : '';

  /**
   * Applies a core-computed transition to a job this transaction holds locked (read with
   * `FOR UPDATE`), with its lines, in one statement.
   */
  async function applyTransition(
    client: pg.ClientBase,
    jobId: string,
    transition: JobTransition,
    now: string,
  ): Promise<WrittenRow> {
    const params: unknown[] = [jobId];
    const entries = transition.logs;
    const sets = [
      ...changeSets(transition.change, params, now),
      `last_log_seq = j.last_log_seq + ${entries.length}`,
      'updated_at = now()',
    ];
    const logsCte =
      entries.length > 0
        ? `, new_logs AS (${insertLogsFrom('job', bind(params, logsJson(entries), '::jsonb'), entries.length)})`
        : '';
    const { rows } = await client.query<WrittenRow>(
      `WITH job AS (
         UPDATE ${jobs} AS j SET ${sets.join(', ')} WHERE j.id = $1
         ${returningJob()}
       )${logsCte}
       SELECT job.*${newLogsColumn(entries.length)} FROM job`,
      params,
    );
    return rows[0]!;
  }

  /**
   * Reads the job locked (fenced by `lease` when given), lets `decide` compute its transition from
   * it and the database's "now", and applies it: one transaction, so nothing changes in between.
   */
  async function decideAndApply(
    jobId: string,
    lease: Lease | undefined,
    decide: DecideTransition,
  ): Promise<WrittenRow | null> {
    const written = await transaction(async (client) => {
      const { rows } = await client.query<JobRow & { db_now: Date }>(
        `${selectJob.replace('SELECT j.*', 'SELECT j.*, now() AS db_now')}
         WHERE ${lease ? fence('$1', '$2') : 'j.id = $1'} FOR UPDATE`,
        lease ? [jobId, lease.token] : [jobId],
      );
      const row = rows[0];
      if (!row) return null;
      const now = row.db_now.toISOString();
      const transition = decide(toJob(row), now);
      if (!transition) return { row: row as WrittenRow, changed: false };
      return { row: await applyTransition(client, jobId, transition, now), changed: true };
    });
    if (!written) return null;
    if (written.changed) afterCommit([written.row]);
    return written.row;
  }

  /**
   * One fenced worker write as ONE statement: an UPDATE that checks the lease (token, status
   * running, lease not expired by the database clock), applies `sets` and advances the log counter,
   * then — as further CTEs reading the updated row from `job`, so they run only if the fence
   * passed — the log lines and `also`. Inside a transaction (`client`) the row lock it takes lasts
   * until commit, so a sweeper cannot take the job away halfway through a batch. Throws
   * `LeaseLostError` when the fence fails; nothing changed then.
   */
  async function fencedWrite(
    client: pg.ClientBase | undefined,
    lease: Lease,
    write: { sets: string[]; params: unknown[]; logs?: readonly LogInput[]; also?: string[] },
  ): Promise<WrittenRow> {
    const { params } = write;
    const entries = write.logs ?? [];
    const ctes = [
      `job AS (
         UPDATE ${jobs} AS j SET ${[...write.sets, `last_log_seq = j.last_log_seq + ${entries.length}`, 'updated_at = now()'].join(', ')}
         WHERE ${fence(bind(params, lease.jobId), bind(params, lease.token))}
         ${returningJob()}
       )`,
    ];
    if (entries.length > 0) {
      ctes.push(
        `new_logs AS (${insertLogsFrom('job', bind(params, logsJson(entries), '::jsonb'), entries.length)})`,
      );
    }
    for (const [i, cte] of (write.also ?? []).entries()) ctes.push(`also_${i} AS (${cte})`);
    const sql = `WITH ${ctes.join(',\n')} SELECT job.*${newLogsColumn(entries.length)} FROM job`;
    const { rows } = client
      ? await client.query<WrittenRow>(sql, params)
      : await query<WrittenRow>(sql, params, 'write');
    const row = rows[0];
    if (!row) throw new LeaseLostError(lease.jobId);
    return row;
  }

  /**
   * INSERT of log lines for the job row(s) in CTE `from`, whose `last_log_seq` was already advanced
   * by `count`: the lines get the `count` seqs just handed out by the counter.
   */
  const insertLogsFrom = (from: string, json: string, count: number) =>
    `INSERT INTO ${logs} (job_id, seq, at, level, message, data)
     SELECT ${from}.id, ${from}.last_log_seq - ${count} + e.ord::integer, now(), e.v->>'level', e.v->>'message',
       nullif(e.v->'data', 'null'::jsonb)
     FROM ${from}, jsonb_array_elements(${json}) WITH ORDINALITY AS e(v, ord)
     RETURNING *`;

  async function applyStage(client: pg.ClientBase, key: AccountKey, stage: StageChange): Promise<void> {
    if (stage.clear) {
      await client.query(`DELETE FROM ${staged} WHERE source = $1 AND account_id = $2`, [
        key.source,
        key.accountId,
      ]);
    }
    if (stage.add?.length) {
      await client.query(
        `INSERT INTO ${staged} (source, account_id, id, grp)
         SELECT $1, $2, i.id, i.grp FROM unnest($3::text[], $4::text[]) AS i(id, grp)
         ON CONFLICT DO NOTHING`,
        [
          key.source,
          key.accountId,
          stage.add.map((item) => item.id),
          stage.add.map((item) => item.group ?? null),
        ],
      );
    }
    if (stage.remove?.length) {
      await client.query(
        `DELETE FROM ${staged} WHERE source = $1 AND account_id = $2 AND id = ANY($3::text[])`,
        [key.source, key.accountId, stage.remove],
      );
    }
  }

  const keyOf = (row: JobRow): AccountKey => ({ source: row.source, accountId: row.account_id });

  const capabilities: StoreCapabilities = { multiProcess: true, crossProcessNotices: true };

  const data: MailDataReader = {
    async listMessages(key: AccountKey, q: ListMessagesQuery = {}) {
      const limit = clampLimit(q.limit, LIMITS.messagesDefault, LIMITS.messagesMax);
      const { rows } = await query<MessageRow>(
        `SELECT * FROM ${schema}.messages
         WHERE source = $1 AND account_id = $2 AND ($3::text IS NULL OR id > $3::text)
         ORDER BY id LIMIT $4`,
        [key.source, key.accountId, q.afterId ?? null, limit],
      );
      return rows.map(toMessage);
    },
    async latestMessages(key: AccountKey, limit?: number) {
      const { rows } = await query<MessageRow>(
        `SELECT * FROM ${schema}.messages WHERE source = $1 AND account_id = $2
         ORDER BY internal_date DESC NULLS LAST, id DESC LIMIT $3`,
        [key.source, key.accountId, clampLimit(limit, LIMITS.messagesDefault, LIMITS.messagesMax)],
      );
      return rows.map(toMessage);
    },
    async countMessages(key: AccountKey) {
      const { rows } = await query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM ${schema}.messages WHERE source = $1 AND account_id = $2`,
        [key.source, key.accountId],
      );
      return rows[0]?.n ?? 0;
    },
    async listLabels(key: AccountKey) {
      const { rows } = await query<LabelRow>(
        `SELECT * FROM ${schema}.labels WHERE source = $1 AND account_id = $2 ORDER BY id`,
        [key.source, key.accountId],
      );
      return rows.map(toLabel);
    },
  };

  const store: PostgresStore = {
    kind: 'postgres',
    capabilities,
    pool,
    schema: schemaName,
    get isListening() {
      return notices.isListening;
    },
    data,

    async createJob(input: CreateJobInput): Promise<CreateJobResult> {
      checkCreateJobInput(input);
      const entries = input.logs ?? [];
      // The partial unique index decides the race: of concurrent inserts exactly one succeeds, the
      // others wait for it to commit and then do nothing. The job, its first log lines and the
      // account state are one statement. A losing insert cannot see the winner in its own snapshot,
      // so the active job is read by a second statement; rarely it finished in between, and the
      // insert is simply tried again.
      for (let round = 0; round < 5; round++) {
        // Core's new job; its times become the database's `now()` (the other columns' defaults are
        // the same empty values).
        const fresh = newJob({ ...input, id: newId() }, DB_NOW);
        const { rows } = await query<WrittenRow>(
          `WITH job AS (
             INSERT INTO ${jobs} AS j (id, source, account_id, status, mode, trigger, counters, category_counts, attempt, created_at, updated_at, last_log_seq)
             VALUES ($1, $2, $3, $7, $4, $5, $6::jsonb, $8::jsonb, $9::integer, now(), now(), ${entries.length})
             ON CONFLICT (source, account_id) WHERE status IN ('queued', 'running') DO NOTHING
             ${returningJob()}
           ), account AS (
             INSERT INTO ${accounts} (source, account_id, last_job_id, updated_at)
             SELECT job.source, job.account_id, job.id, now() FROM job
             ON CONFLICT (source, account_id) DO UPDATE SET last_job_id = excluded.last_job_id, updated_at = now()
           )${entries.length > 0 ? `, new_logs AS (${insertLogsFrom('job', '$10::jsonb', entries.length)})` : ''}
           SELECT job.*${newLogsColumn(entries.length)} FROM job`,
          [
            fresh.id,
            fresh.source,
            fresh.accountId,
            fresh.mode,
            fresh.trigger,
            JSON.stringify(fresh.counters),
            fresh.status,
            JSON.stringify(fresh.categoryCounts),
            fresh.attempt,
            ...(entries.length > 0 ? [logsJson(entries)] : []),
          ],
          'write',
        );
        if (rows[0]) {
          afterCommit(rows);
          return { ...toJobWrite(rows[0]), created: true };
        }
        const existing = await store.getActiveJob(input);
        if (existing) return { job: existing, logs: [], created: false };
      }
      throw new SyncError('CONFLICT', 'Could not create the job: the account kept changing. Try again.', {
        retryable: true,
      });
    },

    async getJob(jobId) {
      const { rows } = await query<JobRow>(`${selectJob} WHERE j.id = $1`, [jobId]);
      return rows[0] ? toJob(rows[0]) : null;
    },

    async getActiveJob(key) {
      const { rows } = await query<JobRow>(
        `${selectJob} WHERE j.source = $1 AND j.account_id = $2 AND j.status IN ('queued', 'running')`,
        [key.source, key.accountId],
      );
      return rows[0] ? toJob(rows[0]) : null;
    },

    async listJobs(q: ListJobsQuery = {}) {
      const { rows } = await query<JobRow>(
        `${selectJob}
         WHERE ($1::text IS NULL OR j.source = $1) AND ($2::text IS NULL OR j.account_id = $2)
           AND ($3::text[] IS NULL OR j.status = ANY($3::text[]))
         ORDER BY j.created_at DESC, j.seq DESC LIMIT $4`,
        [
          q.source ?? null,
          q.accountId ?? null,
          q.statuses ? [...q.statuses] : null,
          clampLimit(q.limit, LIMITS.listJobsDefault, LIMITS.listJobsMax),
        ],
      );
      return rows.map(toJob);
    },

    async updateJob(jobId, decide) {
      const row = await decideAndApply(jobId, undefined, decide);
      return row ? toJobWrite(row) : null;
    },

    async sweepExpired(decide) {
      // A NULL expiry counts as expired (core's `isLeaseExpired`): such a job cannot be heart-beating.
      const expiredWhere = `status = 'running' AND (lease_expires_at IS NULL OR lease_expires_at <= now())`;
      // The usual answer is "none": one statement finds out, without a transaction.
      const { rows: any } = await query<{ id: string }>(
        `SELECT id FROM ${jobs} WHERE ${expiredWhere} LIMIT 1`,
      );
      if (any.length === 0) return [];
      const rows = await transaction(async (client) => {
        // SKIP LOCKED: concurrent sweepers split the expired jobs between them instead of queueing
        // on the same rows, and a job locked by its worker's open batch is left to a later sweep.
        const { rows: expired } = await client.query<JobRow & { db_now: Date }>(
          `SELECT j.*, ${version('j')}, now() AS db_now FROM ${jobs} AS j WHERE ${expiredWhere}
           ORDER BY lease_expires_at NULLS FIRST, created_at
           FOR UPDATE SKIP LOCKED`,
        );
        const written: WrittenRow[] = [];
        for (const row of expired) {
          const now = row.db_now.toISOString();
          const transition = decide(toJob(row), now);
          if (transition) written.push(await applyTransition(client, row.id, transition, now));
        }
        return written;
      });
      afterCommit(rows);
      return rows.map(toJobWrite);
    },

    async claimJob(input: ClaimInput): Promise<ClaimedJob | null> {
      checkLeaseMs(input.leaseMs);
      const token = newId();
      // Core's `claimTransition`, written in SQL: the claim stays ONE round trip (pick, lock and
      // take the oldest job), which a read-decide-write would make four. The conformance suite
      // holds it to the same result.
      // FOR UPDATE SKIP LOCKED: many workers polling the queue each take a different job without
      // waiting on each other; the outer status check re-validates the row once it is locked.
      const { rows } = await query<JobRow>(
        `UPDATE ${jobs} AS j SET
           status = 'running', attempt = j.attempt + 1, lease_token = $1, worker_id = $2, error = NULL,
           waiting = NULL,
           lease_expires_at = now() + $3::float8 * interval '1 millisecond',
           heartbeat_at = now(), started_at = coalesce(j.started_at, now()), updated_at = now()
         WHERE j.status = 'queued' AND j.id = (
           SELECT id FROM ${jobs}
           WHERE status = 'queued' AND ($4::text[] IS NULL OR source = ANY($4::text[]))
           ORDER BY created_at, seq
           LIMIT 1
           FOR UPDATE SKIP LOCKED
         )
         ${returningJob()}`,
        [token, input.workerId, input.leaseMs, input.sources ? [...input.sources] : null],
        'write',
      );
      const row = rows[0];
      if (!row) return null;
      afterCommit([row]);
      return { job: toJob(row), lease: { jobId: row.id, workerId: input.workerId, token } };
    },

    async renewLease(lease, leaseMs) {
      checkLeaseMs(leaseMs);
      const { rows } = await query<JobRow>(
        `UPDATE ${jobs} AS j SET
           lease_expires_at = now() + $3::float8 * interval '1 millisecond', heartbeat_at = now(),
           updated_at = now()
         WHERE ${fence('$1', '$2')}
         RETURNING j.*, ${version('j')}`,
        [lease.jobId, lease.token, leaseMs],
        'write',
      );
      if (!rows[0]) throw new LeaseLostError(lease.jobId);
      return toJob(rows[0]);
    },

    async updateProgress(lease, patch) {
      const params: unknown[] = [];
      const row = await fencedWrite(undefined, lease, { sets: progressSets(patch, params), params });
      afterCommit([row]);
      return toJob(row);
    },

    async commitBatch(lease, commit: BatchCommit) {
      const params: unknown[] = [];
      const also: string[] = [];
      if (commit.checkpoint !== undefined) {
        const checkpoint = bind(
          params,
          commit.checkpoint === null ? null : JSON.stringify(commit.checkpoint),
          '::jsonb',
        );
        also.push(
          `INSERT INTO ${accounts} (source, account_id, checkpoint, updated_at)
           SELECT job.source, job.account_id, ${checkpoint}, now() FROM job
           ON CONFLICT (source, account_id) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = now()`,
        );
      }
      const write = { sets: progressSets(commit.progress, params), params, logs: commit.logs ?? [], also };
      const hasData = !isEmptySinkWrite(commit.write);
      // Fence, progress, checkpoint and logs are one statement; the sink's writes and staged items
      // join it in one transaction.
      const row: WrittenRow =
        !hasData && !commit.stage
          ? await fencedWrite(undefined, lease, write)
          : await transaction(async (client) => {
              const row = await fencedWrite(client, lease, write);
              const key = keyOf(row);
              if (hasData) await sink.write(client, key, commit.write!);
              if (commit.stage) await applyStage(client, key, commit.stage);
              return row;
            });
      afterCommit([row]);
      return toJobWrite(row);
    },

    async finishJob(lease, input: FinishInput) {
      const params: unknown[] = [];
      const sets = [
        ...changeSets(finishChange(input.status, DB_NOW, input.error ?? null), params),
        ...progressSets(input.progress, params, true),
      ];
      const also: string[] = [];
      if (input.status === 'completed') {
        const hasCursor = bind(params, input.cursor !== undefined, '::boolean');
        const cursor = bind(params, input.cursor ?? null, '::text');
        // A finished sync leaves no resume point behind: the checkpoint and the staged work list go.
        also.push(
          `INSERT INTO ${accounts} AS a (source, account_id, cursor, last_synced_at, last_full_sync_at, last_job_id, updated_at)
           SELECT job.source, job.account_id, ${cursor}, now(), CASE WHEN job.mode = 'full' THEN now() END, job.id, now()
           FROM job
           ON CONFLICT (source, account_id) DO UPDATE SET
             cursor = CASE WHEN ${hasCursor} THEN excluded.cursor ELSE a.cursor END,
             checkpoint = NULL, last_synced_at = now(),
             last_full_sync_at = coalesce(excluded.last_full_sync_at, a.last_full_sync_at),
             updated_at = now()`,
          `DELETE FROM ${staged} AS s USING job WHERE s.source = job.source AND s.account_id = job.account_id`,
        );
      }
      const row = await fencedWrite(undefined, lease, { sets, params, logs: input.logs ?? [], also });
      afterCommit([row]);
      return toJobWrite(row);
    },

    async releaseJob(lease, decide) {
      const row = await decideAndApply(lease.jobId, lease, decide);
      if (!row) throw new LeaseLostError(lease.jobId);
      return toJobWrite(row);
    },

    async appendLogs(jobId, entries, lease) {
      const where = lease ? fence('$1', '$2') : 'j.id = $1';
      const params = lease ? [jobId, lease.token] : [jobId];
      if (entries.length === 0) {
        const { rows } = await query<JobRow>(`SELECT j.id FROM ${jobs} AS j WHERE ${where}`, params);
        if (!rows[0]) throw appendRefused(jobId, lease);
        return [];
      }
      // One statement, so one round trip: the counter on the job row hands out the seqs. The UPDATE
      // locks the row, so concurrent appends to one job serialise and each gets the next
      // contiguous range (no MAX()+1 race, no gaps from a sequence).
      const { rows } = await query<LogRow & { job: JobRow }>(
        `WITH job AS (
           UPDATE ${jobs} AS j SET last_log_seq = j.last_log_seq + ${entries.length}, updated_at = now()
           WHERE ${where}
           ${returningJob()}
         ), new_logs AS (${insertLogsFrom('job', `$${params.length + 1}::jsonb`, entries.length)})
         SELECT new_logs.*, json_build_object('id', job.id, 'status', job.status, 'last_log_seq', job.last_log_seq,
           'version', job.version) AS job
         FROM new_logs, job ORDER BY new_logs.seq`,
        [...params, logsJson(entries)],
        'write',
      );
      const job = rows[0]?.job;
      if (!job) throw appendRefused(jobId, lease);
      notices.deliverLocal(toNotice(job));
      return rows.map(toLogEntry);
    },

    async getLogs(jobId, q: GetLogsQuery = {}) {
      const { rows } = await query<LogRow>(
        `SELECT * FROM ${logs} WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [
          jobId,
          Math.max(0, Math.floor(q.afterSeq ?? 0)),
          clampLimit(q.limit, LIMITS.logsDefault, LIMITS.logsMax),
        ],
      );
      return rows.map(toLogEntry);
    },

    async getAccountState(key) {
      const { rows } = await query<AccountRow>(
        `SELECT * FROM ${accounts} WHERE source = $1 AND account_id = $2`,
        [key.source, key.accountId],
      );
      return rows[0] ? toAccountState(rows[0]) : null;
    },

    async listAccountStates(q = {}) {
      const { rows } = await query<AccountRow>(
        `SELECT * FROM ${accounts} WHERE ($1::text IS NULL OR source = $1) ORDER BY source, account_id`,
        [q.source ?? null],
      );
      return rows.map(toAccountState);
    },

    async listStaged(key, q: ListStagedQuery): Promise<StagedItem[]> {
      const limit = clampLimit(q.limit, LIMITS.stagedMax, LIMITS.stagedMax);
      const params: unknown[] = [key.source, key.accountId];
      // Strictly after `after` in (grp, id) order with NULL groups first, the order the other stores use.
      let afterClause = 'true';
      if (q.after) {
        const id = bind(params, q.after.id);
        const group = q.after.group ?? null;
        afterClause =
          group === null
            ? `(grp IS NOT NULL OR id > ${id})`
            : `(grp > ${bind(params, group)} OR (grp = $${params.length} AND id > ${id}))`;
      }
      params.push(limit);
      const { rows } = await query<{ id: string; grp: string | null }>(
        `SELECT id, grp FROM ${staged} WHERE source = $1 AND account_id = $2 AND ${afterClause}
         ORDER BY grp NULLS FIRST, id LIMIT $${params.length}`,
        params,
      );
      return rows.map((row) => ({ id: row.id, group: row.grp }));
    },

    async countStaged(key) {
      const { rows } = await query<{ n: number }>(
        `SELECT count(*)::integer AS n FROM ${staged} WHERE source = $1 AND account_id = $2`,
        [key.source, key.accountId],
      );
      return rows[0]?.n ?? 0;
    },

    async takeQuota(input) {
      checkTakeQuota(input);
      // One round trip: the function (migration 3) creates, locks, checks and adds in one step.
      const { rows } = await query<{ granted: boolean; used: string[] }>(
        `SELECT granted, used FROM ${schema}.take_quota($1, $2, $3, $4, $5)`,
        [
          input.scope,
          input.units,
          input.windows.map((window) => window.key),
          input.windows.map((window) => window.limit),
          input.windows.map((window) => Math.floor(window.expiresAt)),
        ],
        'write',
      );
      const row = rows[0]!;
      return { granted: row.granted, used: row.used.map(Number) };
    },

    async reportQuotaDemand(input) {
      const { scope } = input;
      const upsert = input.upsert ?? [];
      return transaction(async (client) => {
        await client.query(`DELETE FROM ${quotaWindows} WHERE scope = $1 AND expires_at <= $2`, [
          scope,
          Math.floor(input.now),
        ]);
        if (upsert.length > 0) {
          await client.query(
            `INSERT INTO ${quotaDemands} (scope, demander, priority, wanted, seen_at)
             SELECT $1, u.d, u.p, u.w, u.s FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::bigint[])
               AS u(d, p, w, s)
             ORDER BY u.d
             ON CONFLICT (scope, demander) DO UPDATE SET
               priority = excluded.priority, wanted = excluded.wanted, seen_at = excluded.seen_at`,
            [
              scope,
              upsert.map((demand) => demand.demander),
              upsert.map((demand) => demand.priority),
              upsert.map((demand) => demand.wanted),
              upsert.map((demand) => Math.floor(demand.seenAt)),
            ],
          );
        }
        const { rows } = await client.query<{
          demander: string;
          priority: number;
          wanted: string | null;
          seen_at: string;
        }>(
          `WITH gone AS (
             DELETE FROM ${quotaDemands} WHERE scope = $1 AND (seen_at < $2 OR demander = ANY ($3::text[]))
             RETURNING demander
           )
           SELECT demander, priority, wanted, seen_at FROM ${quotaDemands}
           WHERE scope = $1 AND NOT demander IN (SELECT demander FROM gone) ORDER BY demander`,
          [scope, Math.floor(input.activeSince), [...(input.remove ?? [])]],
        );
        return rows.map(
          (row): QuotaDemand => ({
            demander: row.demander,
            priority: row.priority,
            wanted: row.wanted === null ? null : Number(row.wanted),
            seenAt: Number(row.seen_at),
          }),
        );
      });
    },

    subscribe(listener: (notice: StoreNotice) => void) {
      if (closed) return () => {};
      return notices.subscribe(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      await notices.close();
      if (ownsPool) await pool.end().catch(() => {});
      pool.off('error', onPoolError);
    },
  };
  return store;
}

/** Why an append changed nothing: the lease is lost (fenced append) or there is no such job. */
function appendRefused(jobId: string, lease: Lease | undefined): SyncError {
  if (lease) return new LeaseLostError(jobId);
  return new SyncError('NOT_FOUND', `No job has the id ${jobId}.`, { details: { jobId } });
}

interface MessageRow {
  id: string;
  thread_id: string | null;
  history_id: string | null;
  internal_date: string | null;
  label_ids: string[];
  snippet: string | null;
  size_estimate: number | null;
  headers: Record<string, string>;
  category: string | null;
  raw: string | null;
  payload: unknown;
}

function toMessage(row: MessageRow): MailMessage {
  const message: MailMessage = {
    id: row.id,
    threadId: row.thread_id,
    historyId: row.history_id,
    internalDate: row.internal_date === null ? null : Number(row.internal_date),
    labelIds: row.label_ids,
    snippet: row.snippet,
    sizeEstimate: row.size_estimate,
    headers: row.headers,
    category: row.category,
  };
  // Optional fields stay absent when not stored, as the source left them.
  if (row.raw !== null) message.raw = row.raw;
  if (row.payload !== null) message.payload = row.payload;
  return message;
}

interface LabelRow {
  id: string;
  name: string;
  type: MailLabel['type'];
  messages_total: number | null;
  messages_unread: number | null;
}

function toLabel(row: LabelRow): MailLabel {
  const label: MailLabel = { id: row.id, name: row.name, type: row.type };
  if (row.messages_total !== null) label.messagesTotal = row.messages_total;
  if (row.messages_unread !== null) label.messagesUnread = row.messages_unread;
  return label;
}
