import type { DatabaseSync } from 'node:sqlite';
import { type Clock, SyncError, systemClock } from '@syncjob/core';
import { openDatabase, SqliteConnection, withBusyRetry } from './sqliteConnection';

/** One step of the schema. Versions only grow; a released migration is never edited. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The schema of `@syncjob/sqlite`. Times are epoch milliseconds; JSON columns hold text.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs, logs, accounts, staged items, messages and labels',
    sql: `
      CREATE TABLE jobs (
        -- Creation order: ties of created_at (same millisecond) keep their order.
        row_seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        account_id TEXT NOT NULL,
        status TEXT NOT NULL
          CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
        phase TEXT,
        mode TEXT NOT NULL,
        job_trigger TEXT NOT NULL,
        counters TEXT NOT NULL,
        category_counts TEXT NOT NULL DEFAULT '{}',
        rate_per_sec REAL,
        eta_seconds REAL,
        current_item TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        updated_at INTEGER NOT NULL,
        heartbeat_at INTEGER,
        lease_expires_at INTEGER,
        finished_at INTEGER,
        attempt INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        last_log_seq INTEGER NOT NULL DEFAULT 0,
        lease_token TEXT,
        worker_id TEXT
      );
      -- At most one queued or running job per account, enforced by SQLite across processes.
      CREATE UNIQUE INDEX jobs_one_active_per_account ON jobs (source, account_id)
        WHERE status IN ('queued', 'running');
      CREATE INDEX jobs_queue ON jobs (status, created_at, row_seq);
      CREATE INDEX jobs_by_account ON jobs (source, account_id, created_at);
      CREATE INDEX jobs_by_created ON jobs (created_at, row_seq);

      CREATE TABLE job_logs (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at INTEGER NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('info', 'warn', 'error')),
        message TEXT NOT NULL,
        data TEXT,
        PRIMARY KEY (job_id, seq)
      ) WITHOUT ROWID;

      CREATE TABLE account_state (
        source TEXT NOT NULL,
        account_id TEXT NOT NULL,
        cursor TEXT,
        checkpoint TEXT,
        last_synced_at INTEGER,
        last_full_sync_at INTEGER,
        last_job_id TEXT,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (source, account_id)
      ) WITHOUT ROWID;

      CREATE TABLE staged_items (
        source TEXT NOT NULL,
        account_id TEXT NOT NULL,
        id TEXT NOT NULL,
        grp TEXT,
        PRIMARY KEY (source, account_id, id)
      ) WITHOUT ROWID;
      -- Read in (group, id) order; NULL groups sort first in SQLite.
      CREATE INDEX staged_items_order ON staged_items (source, account_id, grp, id);

      CREATE TABLE messages (
        source TEXT NOT NULL,
        account_id TEXT NOT NULL,
        id TEXT NOT NULL,
        thread_id TEXT,
        history_id TEXT,
        internal_date INTEGER,
        label_ids TEXT NOT NULL DEFAULT '[]',
        snippet TEXT,
        size_estimate INTEGER,
        headers TEXT NOT NULL DEFAULT '{}',
        category TEXT,
        raw TEXT,
        payload TEXT,
        PRIMARY KEY (source, account_id, id)
      ) WITHOUT ROWID;
      CREATE INDEX messages_latest ON messages (source, account_id, internal_date, id);

      CREATE TABLE labels (
        source TEXT NOT NULL,
        account_id TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        messages_total INTEGER,
        messages_unread INTEGER,
        PRIMARY KEY (source, account_id, id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'messages.generation, for the prune at the end of a full sync',
    // The runner applies a version once, in the transaction that records it, so a plain ADD COLUMN
    // (SQLite has no IF NOT EXISTS for it) is still idempotent.
    sql: `
      ALTER TABLE messages ADD COLUMN generation TEXT;
      CREATE INDEX IF NOT EXISTS messages_generation ON messages (source, account_id, generation);
    `,
  },
  {
    version: 3,
    name: 'jobs.change_seq and its counter, for notices to other processes',
    // Every write transaction that changes jobs takes the next value of the one-row counter and
    // stamps it on them. The counter only grows (unlike MAX(change_seq), which a deleted job would
    // lower), so a process that saw up to N reads exactly the jobs changed since with `> N`.
    sql: `
      ALTER TABLE jobs ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX IF NOT EXISTS jobs_by_change ON jobs (change_seq);
      CREATE TABLE IF NOT EXISTS job_change_counter (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL
      );
      INSERT OR IGNORE INTO job_change_counter (id, seq) VALUES (1, 0);
    `,
  },
  {
    version: 4,
    name: 'quota_windows and quota_demands, the budget every worker shares',
    // A window row counts the units all workers took from one slice of a shared budget; a demand
    // row says who wants units now. Both are small and short-lived: expired rows are deleted as
    // demand is reported.
    sql: `
      CREATE TABLE IF NOT EXISTS quota_windows (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        used INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS quota_demands (
        scope TEXT NOT NULL,
        demander TEXT NOT NULL,
        priority INTEGER NOT NULL,
        wanted INTEGER,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (scope, demander)
      ) WITHOUT ROWID;
      `,
  },
  {
    version: 5,
    name: 'change seqs from the newest stamp; the counter keeps the seqs of deleted jobs',
    // A write transaction now takes the next seq as one above the newest stamp (read through
    // jobs_by_change) instead of writing the counter: one page less in every commit. The counter
    // stays as the floor: deleting the newest-stamped job would otherwise hand its seq out again,
    // and a watcher that had seen it would miss the next change.
    sql: `
      CREATE TRIGGER IF NOT EXISTS jobs_keep_deleted_change_seq AFTER DELETE ON jobs
      BEGIN
        UPDATE job_change_counter SET seq = max(seq, OLD.change_seq) WHERE id = 1;
      END;
      `,
  },
  {
    version: 6,
    name: 'jobs.waiting: what a job held back by a quota waits for, and until when',
    // JSON text ({ "for": …, "until": … }) or NULL; written with the job's other progress fields.
    sql: `
      ALTER TABLE jobs ADD COLUMN waiting TEXT;
    `,
  },
  {
    version: 7,
    name: 'job indexes that a claim, a finish and a new job touch once',
    // A write pays a page for every index entry it moves, and a status change moved the job's entry
    // in jobs_queue (status, created_at, row_seq) twice in its life: queued → running, running →
    // done. The queue now holds queued jobs only (a claim deletes one entry, a finish touches
    // none) and finished jobs have their own index for listings by status; running ones are
    // found through jobs_one_active_per_account. A new job is not stamped (change_seq 0, left out
    // of jobs_by_change): watchers find new rows by row_seq, which AUTOINCREMENT never hands out
    // twice, so only a job's later changes move it in jobs_by_change. (A partial index's condition
    // is evaluated by every write that sets `status`: a list of two costs nothing measurable, one
    // of four made SQLite build a lookup table per statement, ~7 µs on every claim.)
    sql: `
      DROP INDEX IF EXISTS jobs_queue;
      CREATE INDEX jobs_queue ON jobs (created_at, row_seq) WHERE status = 'queued';
      CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (status, created_at, row_seq)
        WHERE status NOT IN ('queued', 'running');
      DROP INDEX IF EXISTS jobs_by_change;
      CREATE INDEX jobs_by_change ON jobs (change_seq) WHERE change_seq > 0;
    `,
  },
];

/** The newest schema version this package knows. */
export const SCHEMA_VERSION: number = Math.max(...MIGRATIONS.map((migration) => migration.version));

export interface MigrateOptions {
  /** Used to pause between retries when another process holds the lock. Default `systemClock`. */
  clock?: Clock;
  /** Busy timeout for a connection opened from a path, in milliseconds. Default 5000. */
  busyTimeoutMs?: number;
}

export interface MigrateResult {
  /** Versions applied by this call (`[]` when the schema was already current). */
  applied: number[];
  /** The schema version now in the database. */
  version: number;
}

const MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS syncjob_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
  )`;

function appliedVersions(connection: SqliteConnection): number[] {
  const table = connection.get(
    "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'syncjob_migrations'",
  );
  if (!table) return [];
  return connection
    .all('SELECT version FROM syncjob_migrations ORDER BY version')
    .map((row) => Number(row.version));
}

/** Applies the missing migrations on an open connection. Safe to run from several processes at once. */
export async function migrateConnection(connection: SqliteConnection, clock: Clock): Promise<MigrateResult> {
  const before = await withBusyRetry(() => appliedVersions(connection), clock);
  const newest = Math.max(0, ...before);
  if (newest > SCHEMA_VERSION) {
    throw new SyncError(
      'INTERNAL',
      `The SQLite database has schema version ${newest}, newer than this @syncjob/sqlite knows (${SCHEMA_VERSION}). Upgrade @syncjob/sqlite.`,
      { retryable: false },
    );
  }
  if (MIGRATIONS.every((migration) => before.includes(migration.version))) {
    return { applied: [], version: newest };
  }
  // Re-read inside the write transaction: another process may have migrated in the meantime, and
  // the write lock makes "read the versions, apply the rest" atomic across processes.
  return connection.transaction(() => {
    connection.db.exec(MIGRATIONS_TABLE);
    const done = new Set(appliedVersions(connection));
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      connection.db.exec(migration.sql);
      connection.run(
        'INSERT INTO syncjob_migrations (version, name, applied_at) VALUES (?, ?, ?)',
        migration.version,
        migration.name,
        clock.now(),
      );
      applied.push(migration.version);
    }
    return { applied, version: SCHEMA_VERSION };
  }, clock);
}

/**
 * Brings a database to the current schema: creates the tables on a new file and applies the
 * missing migrations on an older one. Idempotent and safe to run from several processes at once.
 * `createSqliteStore` runs it on first use; call it yourself to migrate at deploy time.
 *
 * @param target A file path (opened with syncjob's settings and closed afterwards) or an open
 *   `DatabaseSync` (left open; it must not be inside a transaction).
 */
export async function migrate(
  target: string | DatabaseSync,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const clock = options.clock ?? systemClock;
  if (typeof target !== 'string') return migrateConnection(new SqliteConnection(target), clock);
  const connection = new SqliteConnection(
    await openDatabase(target, { busyTimeoutMs: options.busyTimeoutMs ?? 5000, clock }),
  );
  try {
    return await migrateConnection(connection, clock);
  } finally {
    connection.close();
  }
}
