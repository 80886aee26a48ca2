import { SyncError } from '@syncjob/core';
import pg from 'pg';
import { toStoreError } from './storeErrors';

/** The schema syncjob's tables live in unless told otherwise. */
export const DEFAULT_SCHEMA = 'syncjob';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Returns the schema name double-quoted for SQL. Only plain lower-case identifiers are accepted, so
 * the name can be spliced into statements (schemas cannot be bind parameters) without any risk.
 */
export function quoteSchema(schema: string): string {
  if (!IDENTIFIER.test(schema)) {
    throw new SyncError(
      'INVALID_INPUT',
      `Invalid PostgreSQL schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _ (at most 63), starting with a letter or _.`,
    );
  }
  return `"${schema}"`;
}

interface Migration {
  version: number;
  name: string;
  /** The statements, with `$schema` standing for the quoted schema. */
  sql: string;
}

/**
 * The migrations, in order. A shipped migration is never edited: a change is a new version.
 *
 * Text keys compare with `COLLATE "C"` (byte order) so `(group, id)` and id order is the same as
 * JavaScript's string order in the other stores, whatever the database's locale.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, logs, account state, staged items, messages, labels',
    sql: `
CREATE TABLE $schema.jobs (
  id text PRIMARY KEY,
  -- Breaks ties between jobs created in the same microsecond, so "oldest first" is a total order.
  seq bigint GENERATED ALWAYS AS IDENTITY,
  source text COLLATE "C" NOT NULL,
  account_id text COLLATE "C" NOT NULL,
  status text NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled','interrupted')),
  phase text,
  mode text NOT NULL,
  trigger text NOT NULL,
  counters jsonb NOT NULL,
  category_counts jsonb NOT NULL DEFAULT '{}',
  rate_per_sec double precision,
  eta_seconds double precision,
  current_item text,
  created_at timestamptz NOT NULL,
  started_at timestamptz,
  updated_at timestamptz NOT NULL,
  heartbeat_at timestamptz,
  lease_expires_at timestamptz,
  finished_at timestamptz,
  attempt integer NOT NULL DEFAULT 0,
  cancel_requested boolean NOT NULL DEFAULT false,
  error jsonb,
  last_log_seq integer NOT NULL DEFAULT 0,
  lease_token text,
  worker_id text
);
-- At most one active job per account, enforced by the database so racing starts create one job.
CREATE UNIQUE INDEX jobs_one_active_per_account ON $schema.jobs (source, account_id)
  WHERE status IN ('queued', 'running');
CREATE INDEX jobs_queue ON $schema.jobs (created_at, seq) WHERE status = 'queued';
CREATE INDEX jobs_running_lease ON $schema.jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_account_created ON $schema.jobs (source, account_id, created_at DESC);
CREATE INDEX jobs_created ON $schema.jobs (created_at DESC, seq DESC);
CREATE INDEX jobs_updated ON $schema.jobs (updated_at);

CREATE TABLE $schema.job_logs (
  job_id text NOT NULL REFERENCES $schema.jobs (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  at timestamptz NOT NULL,
  level text NOT NULL,
  message text NOT NULL,
  data jsonb,
  PRIMARY KEY (job_id, seq)
);

CREATE TABLE $schema.account_state (
  source text COLLATE "C" NOT NULL,
  account_id text COLLATE "C" NOT NULL,
  cursor text,
  checkpoint jsonb,
  last_synced_at timestamptz,
  last_full_sync_at timestamptz,
  last_job_id text,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (source, account_id)
);

CREATE TABLE $schema.staged_items (
  source text COLLATE "C" NOT NULL,
  account_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  grp text COLLATE "C",
  PRIMARY KEY (source, account_id, id)
);
CREATE INDEX staged_items_order ON $schema.staged_items (source, account_id, grp NULLS FIRST, id);

CREATE TABLE $schema.messages (
  source text COLLATE "C" NOT NULL,
  account_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  thread_id text,
  history_id text,
  internal_date bigint,
  label_ids jsonb NOT NULL DEFAULT '[]',
  snippet text,
  size_estimate integer,
  headers jsonb NOT NULL DEFAULT '{}',
  category text,
  raw text,
  payload jsonb,
  PRIMARY KEY (source, account_id, id)
);
CREATE INDEX messages_latest ON $schema.messages (source, account_id, internal_date DESC NULLS LAST, id DESC);

CREATE TABLE $schema.labels (
  source text COLLATE "C" NOT NULL,
  account_id text COLLATE "C" NOT NULL,
  id text COLLATE "C" NOT NULL,
  name text NOT NULL,
  type text NOT NULL,
  messages_total integer,
  messages_unread integer,
  PRIMARY KEY (source, account_id, id)
);
`,
  },
  {
    version: 2,
    name: 'messages.generation, for the prune at the end of a full sync',
    sql: `
ALTER TABLE $schema.messages ADD COLUMN IF NOT EXISTS generation text;
CREATE INDEX IF NOT EXISTS messages_generation ON $schema.messages (source, account_id, generation);
`,
  },
  {
    version: 3,
    name: 'quota_windows, quota_demands and take_quota, the budget every worker shares',
    // take_quota runs the whole take in one round trip: create the missing rows, lock them (in key
    // order, so concurrent takes cannot deadlock), check that the units fit in every one, add.
    sql: `
CREATE TABLE IF NOT EXISTS $schema.quota_windows (
  scope text COLLATE "C" NOT NULL,
  key text COLLATE "C" NOT NULL,
  used bigint NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS $schema.quota_demands (
  scope text COLLATE "C" NOT NULL,
  demander text COLLATE "C" NOT NULL,
  priority integer NOT NULL,
  wanted bigint,
  seen_at bigint NOT NULL,
  PRIMARY KEY (scope, demander)
);
CREATE OR REPLACE FUNCTION $schema.take_quota(
  p_scope text, p_units bigint, p_keys text[], p_limits float8[], p_expires bigint[]
) RETURNS TABLE (granted boolean, used bigint[]) LANGUAGE plpgsql AS $take$
DECLARE
  v_used bigint[];
  v_fits boolean;
BEGIN
  -- A window row lives for seconds: should the server crash, losing the last takes costs a few
  -- units of accounting, while waiting for the WAL flush would cost every grant a disk sync.
  PERFORM set_config('synchronous_commit', 'off', true);
  IF p_units > 0 THEN
    INSERT INTO $schema.quota_windows AS w (scope, key, used, expires_at)
      SELECT p_scope, u.k, 0, u.e FROM unnest(p_keys, p_expires) AS u(k, e)
      ORDER BY u.k
      ON CONFLICT (scope, key) DO NOTHING;
    PERFORM 1 FROM $schema.quota_windows AS w
      WHERE w.scope = p_scope AND w.key = ANY (p_keys) ORDER BY w.key FOR UPDATE;
  END IF;
  SELECT array_agg(coalesce(w.used, 0) ORDER BY u.i),
         bool_and(p_units = 0 OR coalesce(w.used, 0) = 0 OR coalesce(w.used, 0) + p_units <= u.lim)
    INTO v_used, v_fits
    FROM unnest(p_keys, p_limits) WITH ORDINALITY AS u(k, lim, i)
    LEFT JOIN $schema.quota_windows AS w ON w.scope = p_scope AND w.key = u.k;
  IF p_units > 0 AND v_fits THEN
    UPDATE $schema.quota_windows AS w SET used = w.used + p_units
      WHERE w.scope = p_scope AND w.key = ANY (p_keys);
    SELECT array_agg(x.v + p_units ORDER BY x.i) INTO v_used FROM unnest(v_used) WITH ORDINALITY AS x(v, i);
  END IF;
  RETURN QUERY SELECT v_fits, v_used;
END
$take$;
`,
  },
  {
    version: 4,
    name: 'jobs.waiting: what a job held back by a quota waits for, and until when',
    sql: `
ALTER TABLE $schema.jobs ADD COLUMN IF NOT EXISTS waiting jsonb;
`,
  },
];

/** The newest schema version this build of `@syncjob/postgres` knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export interface MigrateOptions {
  /** Schema to migrate. Default `'syncjob'`. */
  schema?: string;
}

export interface MigrateResult {
  /** Versions applied by this call (`[]` when the schema was already current). */
  applied: number[];
  /** The schema's version afterwards. */
  version: number;
}

/**
 * Creates or upgrades syncjob's tables. Idempotent and safe to run from many processes at once: a
 * transaction-scoped advisory lock (`pg_advisory_xact_lock`) serialises concurrent migrators, and
 * each migration is recorded in `<schema>.schema_migrations` in the transaction that applies it.
 * Stores run it on first use; call it yourself to migrate at deploy time.
 */
export async function migrate(
  target: pg.Pool | pg.Client | string,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const quoted = quoteSchema(schema);
  if (typeof target === 'string') {
    const client = new pg.Client({ connectionString: target });
    client.on('error', () => {});
    try {
      await client.connect();
      return await migrateWith(client, schema, quoted);
    } catch (error) {
      throw toStoreError(error);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (target instanceof pg.Pool) {
    let client: pg.PoolClient;
    try {
      client = await target.connect();
    } catch (error) {
      throw toStoreError(error);
    }
    try {
      return await migrateWith(client, schema, quoted);
    } finally {
      client.release();
    }
  }
  return migrateWith(target, schema, quoted);
}

async function migrateWith(client: pg.ClientBase, schema: string, quoted: string): Promise<MigrateResult> {
  try {
    await client.query('BEGIN');
    // Without the lock two processes starting together would both see "version 0" and race on
    // CREATE SCHEMA / CREATE TABLE (IF NOT EXISTS is not safe under concurrency in PostgreSQL).
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`syncjob.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(
      `SELECT version FROM ${quoted}.schema_migrations`,
    );
    const done = new Set(rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql.replaceAll('$schema', quoted));
      await client.query(`INSERT INTO ${quoted}.schema_migrations (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    const version = Math.max(0, ...done, ...applied);
    return { applied, version };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw toStoreError(error);
  }
}
