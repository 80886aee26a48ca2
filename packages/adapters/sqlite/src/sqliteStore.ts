import { resolve } from 'node:path';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import {
  type AccountKey,
  type AccountState,
  type BatchCommit,
  type ClaimedJob,
  type ClaimInput,
  type Clock,
  type CreateJobResult,
  type DecideTransition,
  type FinishInput,
  type GetLogsQuery,
  isEmptySinkWrite,
  isTerminalStatus,
  type JobTransition,
  type JobWrite,
  type Lease,
  LeaseLostError,
  type ListJobsQuery,
  type ListStagedQuery,
  type LogEntry,
  type LogInput,
  newId,
  type QuotaDemand,
  type StageChange,
  type StagedItem,
  type StoreNotice,
  SyncError,
  type SyncSink,
  type SyncStore,
  systemClock,
  toIso,
} from '@syncjob/core';
import {
  applyProgressPatch,
  checkCreateJobInput,
  checkLeaseMs,
  checkTakeQuota,
  clampLimit,
  finishChange,
  LIMITS,
  newJob,
  newLogEntries,
  quotaTakeFits,
} from '@syncjob/core/store';
import { ChangeWatcher, nextChangeSeq } from './changeWatcher';
import { defaultSqliteSink } from './defaultSink';
import {
  ACTIVE_JOB_SQL,
  accountStateFromRow,
  applyChangeToRecord,
  CLAIM_JOB_SQL,
  claimJobParams,
  INSERT_JOB_SQL,
  insertJobParams,
  type JobRecord,
  jobFromRecord,
  jobRecordFromRow,
  listJobsSql,
  logFromRow,
  RENEW_LEASE_SQL,
  recordFromJob,
  renewLeaseParams,
  SWEEP_EXPIRED_SQL,
  UPDATE_JOB_SQL,
  UPDATE_PROGRESS_SQL,
  updateJobParams,
  updateProgressParams,
} from './jobRecord';
import { createMailDataReader } from './mailDataReader';
import { migrateConnection } from './migrations';
import { acquireFileMutex, Mutex } from './mutex';
import { openDatabase, SqliteConnection, withBusyRetry } from './sqliteConnection';

export interface SqliteStoreOptions {
  /**
   * The database file, or `':memory:'` for a private in-memory database that lives as long as this
   * store (one process only). Several processes may open the same file. A missing file is created on
   * the first call, and so is its folder (`./data/sync.db` works without a `./data` folder); a file
   * or folder that cannot be created or opened rejects every call with `STORE_UNAVAILABLE` naming
   * the path.
   */
  path: string;
  /**
   * Where each batch's data goes. It is called inside the batch's write transaction with this
   * store's `DatabaseSync`, and must write through that handle (not through this store, whose calls
   * wait for the transaction to end). Default: `defaultSqliteSink`, the `messages` and `labels`
   * tables of the same file.
   */
  sink?: SyncSink<DatabaseSync>;
  /** The store's notion of "now" for timestamps and lease expiry. Default `systemClock`. */
  clock?: Clock;
  /**
   * How long a statement waits for another process's write lock before failing, in milliseconds.
   * Such a failure is retried a few times, then surfaces as `STORE_UNAVAILABLE`. Default 5000.
   */
  busyTimeoutMs?: number;
  /**
   * How often, while anything is subscribed (an open event stream, a running worker loop), the store
   * asks SQLite whether another connection committed (`PRAGMA data_version`), in milliseconds. It is
   * how a web process hears of a worker process's progress, and a worker of a job queued elsewhere,
   * without reading the database: each check costs a few microseconds. Default 10.
   */
  noticeIntervalMs?: number;
}

const invalid = (message: string) => new SyncError('INVALID_INPUT', message, { retryable: false });

const jsonOrNull = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

/** What a write transaction's body works with, made once the write lock is held. */
class WriteContext {
  /** Jobs changed by this transaction, told to subscribers once it has committed. */
  readonly changed = new Map<string, JobRecord>();
  /** The change seq of this transaction, 0 until a job is about to be stamped. */
  seq = 0;
  /** Whether a job row was written with `seq`: only then is the seq this store's own. */
  stamped = false;
  /** `row_seq`s of the jobs this transaction inserted (new jobs are not stamped). */
  readonly inserted: number[] = [];

  constructor(
    readonly db: SqliteConnection,
    /** The store's clock, read after the write lock was taken. */
    readonly now: number,
  ) {}

  /** The seq every job this transaction changes is stamped with (see `nextChangeSeq`), read once. */
  changeSeq(): number {
    if (this.seq === 0) this.seq = nextChangeSeq(this.db);
    return this.seq;
  }

  /** Records a job written with `changeSeq()`, to be told to subscribers once committed. */
  stamp(record: JobRecord): void {
    this.stamped = true;
    this.changed.set(record.id, record);
  }
}

/**
 * A `SyncStore` in one SQLite file on `node:sqlite` (no native addon), safe for several processes
 * on one machine. Returns at once: the file is opened and migrated on the first call.
 */
export function createSqliteStore(options: SqliteStoreOptions): SyncStore {
  if (typeof options?.path !== 'string' || options.path === '') {
    throw invalid('createSqliteStore needs a database file path (or ":memory:").');
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isFinite(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw invalid(`busyTimeoutMs must be zero or a positive number, got ${String(options.busyTimeoutMs)}.`);
  }
  const noticeIntervalMs = options.noticeIntervalMs ?? 10;
  if (!Number.isFinite(noticeIntervalMs) || noticeIntervalMs <= 0) {
    throw invalid(`noticeIntervalMs must be a positive number, got ${String(options.noticeIntervalMs)}.`);
  }
  const { path } = options;
  const clock = options.clock ?? systemClock;
  const sink = options.sink ?? defaultSqliteSink;
  // Stores of this process on one file share a queue (see `acquireFileMutex`); an in-memory
  // database is private to its store.
  const shared = path === ':memory:' ? undefined : acquireFileMutex(resolve(path));
  const mutex = shared?.mutex ?? new Mutex();
  const listeners = new Set<(notice: StoreNotice) => void>();
  let connection: SqliteConnection | undefined;
  let closed = false;

  async function open(): Promise<SqliteConnection> {
    if (closed)
      throw new SyncError('STORE_UNAVAILABLE', 'This SQLite store was closed.', { retryable: false });
    if (!connection) {
      const opened = new SqliteConnection(await openDatabase(path, { busyTimeoutMs, clock }));
      try {
        await migrateConnection(opened, clock);
      } catch (error) {
        opened.close();
        throw error;
      }
      connection = opened;
    }
    return connection;
  }

  function read<T>(body: (db: SqliteConnection) => T): Promise<T> {
    return mutex.run(async () => {
      const db = await open();
      return withBusyRetry(() => body(db), clock);
    });
  }

  function write<T>(body: (tx: WriteContext) => T | Promise<T>): Promise<T> {
    return mutex.run(async () => {
      const db = await open();
      // Made inside the transaction: `now` is read once the write lock is held.
      let tx!: WriteContext;
      const result = await db.transaction(() => {
        tx = new WriteContext(db, clock.now());
        return body(tx);
      }, clock);
      for (const record of tx.changed.values()) {
        notify({ jobId: record.id, status: record.status, lastLogSeq: record.lastLogSeq });
      }
      for (const rowSeq of tx.inserted) watcher?.noteOwnInsert(rowSeq);
      if (tx.stamped) watcher?.noteOwnChange(tx.seq);
      return result;
    });
  }

  // Other connections' changes reach subscribers through the watcher; an in-memory database has
  // no other connection.
  const watcher =
    path === ':memory:'
      ? undefined
      : new ChangeWatcher({
          connection: () => connection,
          read: (body) => read(body),
          clock,
          intervalMs: noticeIntervalMs,
          deliver: notify,
        });

  function notify(notice: StoreNotice): void {
    for (const listener of listeners) {
      try {
        listener(notice);
      } catch {
        // A failing listener must not undo a committed write nor starve the other listeners.
      }
    }
  }

  const loadJob = (db: SqliteConnection, jobId: string): JobRecord | undefined => {
    const row = db.get('SELECT * FROM jobs WHERE id = ?', jobId);
    return row ? jobRecordFromRow(row) : undefined;
  };

  const saveJob = (tx: WriteContext, record: JobRecord): void => {
    tx.db.run(UPDATE_JOB_SQL, ...updateJobParams(record, tx.changeSeq()));
    tx.stamp(record);
  };

  /** `saveJob` for a write that changes no lifecycle field: progress, a batch, lines. */
  const saveProgress = (tx: WriteContext, record: JobRecord): void => {
    tx.db.run(UPDATE_PROGRESS_SQL, ...updateProgressParams(record, tx.changeSeq()));
    tx.stamp(record);
  };

  /**
   * The fence of every worker write, checked inside the write transaction that would apply it: the
   * job must still be running under this very token, by the store's clock. Throwing here rolls the
   * transaction back, so a worker that lost its lease changes nothing.
   */
  const fencedJob = (tx: WriteContext, lease: Lease): JobRecord => {
    const record = loadJob(tx.db, lease.jobId);
    if (
      record?.status !== 'running' ||
      record.leaseToken === null ||
      record.leaseToken !== lease.token ||
      record.leaseExpiresAt === null ||
      record.leaseExpiresAt <= tx.now
    ) {
      throw new LeaseLostError(lease.jobId);
    }
    return record;
  };

  /**
   * Inserts log lines numbered from the job's `lastLogSeq`. The counter lives on the job row and is
   * saved in the same transaction, under SQLite's single write lock, so seqs never gap or repeat.
   * The caller saves the record.
   */
  const insertLogs = (
    tx: WriteContext,
    record: JobRecord,
    entries: readonly LogInput[] | undefined,
  ): LogEntry[] => {
    const stored = numberLogs(tx, record, entries);
    writeLogs(tx, stored);
    return stored;
  };

  /** The lines `entries` become, numbered after the record's `lastLogSeq`, which moves past them. */
  const numberLogs = (tx: WriteContext, record: JobRecord, entries: readonly LogInput[] | undefined) =>
    // `data` is copied as it will read back: through JSON.
    newLogEntries(record, entries, toIso(tx.now), (data) => JSON.parse(JSON.stringify(data)));

  const writeLogs = (tx: WriteContext, stored: readonly LogEntry[]): void => {
    for (const line of stored) {
      tx.db.run(
        'INSERT INTO job_logs (job_id, seq, at, level, message, data) VALUES (?, ?, ?, ?, ?, ?)',
        line.jobId,
        line.seq,
        tx.now,
        line.level,
        line.message,
        jsonOrNull(line.data),
      );
    }
  };

  /**
   * Upserts the account's state row (every job's account has one from `createJob`; the upsert keeps
   * a hand-edited database working) with `updatedAt = now`, then applies `set` to it.
   */
  const updateAccount = (
    tx: WriteContext,
    key: AccountKey,
    set: string,
    ...params: SQLInputValue[]
  ): void => {
    tx.db.run(
      `INSERT INTO account_state (source, account_id, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (source, account_id) DO UPDATE SET updated_at = excluded.updated_at`,
      key.source,
      key.accountId,
      tx.now,
    );
    if (set === '') return;
    tx.db.run(
      `UPDATE account_state SET ${set} WHERE source = ? AND account_id = ?`,
      ...params,
      key.source,
      key.accountId,
    );
  };

  const applyStage = (tx: WriteContext, key: AccountKey, change: StageChange | undefined): void => {
    if (!change) return;
    if (change.clear) {
      tx.db.run('DELETE FROM staged_items WHERE source = ? AND account_id = ?', key.source, key.accountId);
    }
    for (const item of change.add ?? []) {
      tx.db.run(
        `INSERT INTO staged_items (source, account_id, id, grp) VALUES (?, ?, ?, ?)
         ON CONFLICT (source, account_id, id) DO NOTHING`,
        key.source,
        key.accountId,
        item.id,
        item.group ?? null,
      );
    }
    for (const id of change.remove ?? []) {
      tx.db.run(
        'DELETE FROM staged_items WHERE source = ? AND account_id = ? AND id = ?',
        key.source,
        key.accountId,
        id,
      );
    }
  };

  /** Applies a core-computed transition to a record read in this transaction, with its lines. */
  const applyTransition = (tx: WriteContext, record: JobRecord, transition: JobTransition): JobWrite => {
    applyChangeToRecord(record, transition.change);
    record.updatedAt = tx.now;
    const logs = insertLogs(tx, record, transition.logs);
    saveJob(tx, record);
    return { job: jobFromRecord(record), logs };
  };

  /** Reads the job, lets `decide` compute its transition, applies it: one write transaction. */
  const decideAndApply = (tx: WriteContext, record: JobRecord, decide: DecideTransition): JobWrite => {
    const transition = decide(jobFromRecord(record), toIso(tx.now));
    if (!transition) return { job: jobFromRecord(record), logs: [] };
    return applyTransition(tx, record, transition);
  };

  const keyOf = (record: JobRecord): AccountKey => ({ source: record.source, accountId: record.accountId });

  const store: SyncStore = {
    kind: 'sqlite',
    capabilities: { multiProcess: true, crossProcessNotices: true },

    async createJob(input) {
      checkCreateJobInput(input);
      return write<CreateJobResult>((tx) => {
        const record = recordFromJob(newJob({ ...input, id: newId() }, toIso(tx.now)));
        // Numbered first, so the row is inserted with its final `lastLogSeq` (the lines follow it).
        const logs = numberLogs(tx, record, input.logs);
        // The partial unique index decides, not a prior read: of concurrent inserts (in any
        // process) exactly one lands, and the others get the job that won.
        const rowSeq = tx.db.insert(INSERT_JOB_SQL, ...insertJobParams(record));
        if (rowSeq === null) {
          const active = tx.db.get(ACTIVE_JOB_SQL, input.source, input.accountId);
          if (!active) throw new SyncError('INTERNAL', 'A job could not be created for this account; retry.');
          return { job: jobFromRecord(jobRecordFromRow(active)), logs: [], created: false };
        }
        writeLogs(tx, logs);
        tx.changed.set(record.id, record);
        tx.inserted.push(rowSeq);
        updateAccount(tx, input, 'last_job_id = ?', record.id);
        return { job: jobFromRecord(record), logs, created: true };
      });
    },

    getJob(jobId) {
      return read((db) => {
        const record = loadJob(db, jobId);
        return record ? jobFromRecord(record) : null;
      });
    },

    getActiveJob(key) {
      return read((db) => {
        const row = db.get(ACTIVE_JOB_SQL, key.source, key.accountId);
        return row ? jobFromRecord(jobRecordFromRow(row)) : null;
      });
    },

    listJobs(query: ListJobsQuery = {}) {
      const limit = clampLimit(query.limit, LIMITS.listJobsDefault, LIMITS.listJobsMax);
      const { sql, params } = listJobsSql(query, limit);
      return read((db) => db.all(sql, ...params).map((row) => jobFromRecord(jobRecordFromRow(row))));
    },

    updateJob(jobId, decide) {
      return write((tx) => {
        const record = loadJob(tx.db, jobId);
        return record ? decideAndApply(tx, record, decide) : null;
      });
    },

    sweepExpired(decide) {
      // The write lock makes select-then-update atomic across processes: a concurrent sweeper waits,
      // then no longer sees these jobs as expired. A NULL expiry counts as expired (`isLeaseExpired`).
      return write((tx) => {
        const expired = tx.db.all(SWEEP_EXPIRED_SQL, tx.now);
        const changed: JobWrite[] = [];
        for (const row of expired) {
          const record = jobRecordFromRow(row);
          const transition = decide(jobFromRecord(record), toIso(tx.now));
          if (transition) changed.push(applyTransition(tx, record, transition));
        }
        return changed;
      });
    },

    async claimJob(input: ClaimInput) {
      checkLeaseMs(input.leaseMs);
      return write<ClaimedJob | null>((tx) => {
        const token = newId();
        // One statement picks and takes the oldest queued job; under BEGIN IMMEDIATE no other
        // process can claim between the pick and the update, so each job is claimed once.
        const row = tx.db.get(CLAIM_JOB_SQL, ...claimJobParams(input, token, tx.now));
        if (!row) return null;
        const record = jobRecordFromRow(row);
        tx.seq = Number(row.change_seq);
        tx.stamp(record);
        return { job: jobFromRecord(record), lease: { jobId: record.id, workerId: input.workerId, token } };
      });
    },

    async renewLease(lease, leaseMs) {
      checkLeaseMs(leaseMs);
      return write((tx) => {
        const row = tx.db.get(RENEW_LEASE_SQL, ...renewLeaseParams(lease, leaseMs, tx.now));
        if (!row) throw new LeaseLostError(lease.jobId);
        const record = jobRecordFromRow(row);
        // Told to this process's subscribers, but not stamped for other processes' watchers: a
        // heartbeat changes no status, progress or line, which is all a notice carries and a feed
        // shows (PostgreSQL does not NOTIFY it either). Unstamped, a heartbeat within the same
        // millisecond as the last rewrites the row unchanged, and SQLite then writes no page.
        tx.changed.set(record.id, record);
        return jobFromRecord(record);
      });
    },

    updateProgress(lease, patch) {
      return write((tx) => {
        const record = fencedJob(tx, lease);
        applyProgressPatch(record, patch);
        record.updatedAt = tx.now;
        saveProgress(tx, record);
        return jobFromRecord(record);
      });
    },

    commitBatch(lease, commit: BatchCommit) {
      return write(async (tx) => {
        const record = fencedJob(tx, lease);
        const key = keyOf(record);
        if (commit.write && !isEmptySinkWrite(commit.write)) {
          await sink.write(tx.db.db, key, commit.write);
        }
        applyStage(tx, key, commit.stage);
        if (commit.checkpoint === undefined) {
          if (commit.stage) updateAccount(tx, key, '');
        } else {
          updateAccount(
            tx,
            key,
            'checkpoint = ?',
            commit.checkpoint === null ? null : JSON.stringify(commit.checkpoint),
          );
        }
        applyProgressPatch(record, commit.progress);
        const logs = insertLogs(tx, record, commit.logs);
        record.updatedAt = tx.now;
        saveProgress(tx, record);
        return { job: jobFromRecord(record), logs };
      });
    },

    finishJob(lease, input: FinishInput) {
      if (!isTerminalStatus(input?.status)) {
        return Promise.reject(invalid(`finishJob needs a terminal status, got ${String(input?.status)}.`));
      }
      return write((tx) => {
        const record = fencedJob(tx, lease);
        const key = keyOf(record);
        applyProgressPatch(record, input.progress);
        applyChangeToRecord(record, finishChange(input.status, toIso(tx.now), input.error ?? null));
        record.updatedAt = tx.now;
        if (input.status === 'completed') {
          // A `null` cursor is a value too: only `undefined` keeps the stored one.
          const keepCursor = input.cursor === undefined;
          updateAccount(
            tx,
            key,
            `checkpoint = NULL, last_synced_at = ?,
             last_full_sync_at = CASE WHEN ? THEN ? ELSE last_full_sync_at END,
             cursor = CASE WHEN ? THEN cursor ELSE ? END`,
            tx.now,
            record.mode === 'full' ? 1 : 0,
            tx.now,
            keepCursor ? 1 : 0,
            input.cursor ?? null,
          );
          applyStage(tx, key, { clear: true });
        }
        const logs = insertLogs(tx, record, input.logs);
        saveJob(tx, record);
        return { job: jobFromRecord(record), logs };
      });
    },

    releaseJob(lease, decide) {
      return write((tx) => decideAndApply(tx, fencedJob(tx, lease), decide));
    },

    appendLogs(jobId, entries, lease) {
      return write((tx) => {
        let record: JobRecord | undefined;
        if (lease) {
          if (lease.jobId !== jobId) throw new LeaseLostError(jobId);
          record = fencedJob(tx, lease);
        } else {
          record = loadJob(tx.db, jobId);
          if (!record) {
            throw new SyncError('NOT_FOUND', `No job has the id ${jobId}.`, {
              retryable: false,
              details: { jobId },
            });
          }
        }
        if (entries.length === 0) return [];
        const stored = insertLogs(tx, record, entries);
        saveProgress(tx, record);
        return stored;
      });
    },

    getLogs(jobId, query: GetLogsQuery = {}) {
      const limit = clampLimit(query.limit, LIMITS.logsDefault, LIMITS.logsMax);
      return read((db) =>
        db
          .all(
            'SELECT * FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?',
            jobId,
            Math.max(0, Math.floor(query.afterSeq ?? 0)),
            limit,
          )
          .map(logFromRow),
      );
    },

    getAccountState(key) {
      return read((db) => {
        const row = db.get(
          'SELECT * FROM account_state WHERE source = ? AND account_id = ?',
          key.source,
          key.accountId,
        );
        return row ? accountStateFromRow(row) : null;
      });
    },

    listAccountStates(query: { source?: string } = {}) {
      return read((db): AccountState[] =>
        (query.source === undefined
          ? db.all('SELECT * FROM account_state ORDER BY source, account_id')
          : db.all('SELECT * FROM account_state WHERE source = ? ORDER BY account_id', query.source)
        ).map(accountStateFromRow),
      );
    },

    listStaged(key, query: ListStagedQuery) {
      const limit = clampLimit(query.limit, LIMITS.stagedMax, LIMITS.stagedMax);
      const after = query.after;
      // Keyset pagination in (grp, id) order, where NULL groups come first.
      let position = '';
      const params: SQLInputValue[] = [];
      if (after && after.group === null) {
        position = 'AND (grp IS NOT NULL OR id > ?)';
        params.push(after.id);
      } else if (after) {
        position = 'AND (grp > ? OR (grp = ? AND id > ?))';
        params.push(after.group, after.group, after.id);
      }
      return read((db) =>
        db
          .all(
            `SELECT id, grp FROM staged_items WHERE source = ? AND account_id = ? ${position}
             ORDER BY grp, id LIMIT ?`,
            key.source,
            key.accountId,
            ...params,
            limit,
          )
          .map(
            (row): StagedItem => ({ id: String(row.id), group: row.grp === null ? null : String(row.grp) }),
          ),
      );
    },

    countStaged(key) {
      return read((db) =>
        Number(
          db.get(
            'SELECT COUNT(*) AS n FROM staged_items WHERE source = ? AND account_id = ?',
            key.source,
            key.accountId,
          )?.n ?? 0,
        ),
      );
    },

    async takeQuota(input) {
      checkTakeQuota(input);
      const { scope, units, windows } = input;
      const usedOf = (db: SqliteConnection) =>
        windows.map((window) =>
          Number(
            db.get('SELECT used FROM quota_windows WHERE scope = ? AND key = ?', scope, window.key)?.used ??
              0,
          ),
        );
      if (units === 0) return read((db) => ({ granted: true, used: usedOf(db) }));
      // Read and add under the one write lock, so no other process takes between the check and the add.
      return write(({ db }) => {
        const used = usedOf(db);
        if (!quotaTakeFits(units, windows, used)) return { granted: false, used };
        for (const window of windows) {
          db.run(
            `INSERT INTO quota_windows (scope, key, used, expires_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (scope, key) DO UPDATE SET used = used + excluded.used`,
            scope,
            window.key,
            units,
            window.expiresAt,
          );
        }
        return { granted: true, used: used.map((held) => held + units) };
      });
    },

    reportQuotaDemand(input) {
      const { scope } = input;
      return write(({ db }) => {
        db.run('DELETE FROM quota_windows WHERE scope = ? AND expires_at <= ?', scope, input.now);
        for (const demand of input.upsert ?? []) {
          db.run(
            `INSERT INTO quota_demands (scope, demander, priority, wanted, seen_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (scope, demander) DO UPDATE SET
               priority = excluded.priority, wanted = excluded.wanted, seen_at = excluded.seen_at`,
            scope,
            demand.demander,
            demand.priority,
            demand.wanted,
            demand.seenAt,
          );
        }
        for (const demander of input.remove ?? []) {
          db.run('DELETE FROM quota_demands WHERE scope = ? AND demander = ?', scope, demander);
        }
        db.run('DELETE FROM quota_demands WHERE scope = ? AND seen_at < ?', scope, input.activeSince);
        return db.all('SELECT * FROM quota_demands WHERE scope = ? ORDER BY demander', scope).map(
          (row): QuotaDemand => ({
            demander: String(row.demander),
            priority: Number(row.priority),
            wanted: row.wanted === null ? null : Number(row.wanted),
            seenAt: Number(row.seen_at),
          }),
        );
      });
    },

    data: createMailDataReader(read),

    subscribe(listener) {
      if (closed) return () => {};
      listeners.add(listener);
      watcher?.start();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) watcher?.stop();
      };
    },

    close() {
      if (closed) return Promise.resolve();
      return mutex.run(() => {
        closed = true;
        listeners.clear();
        watcher?.stop();
        connection?.close();
        connection = undefined;
        shared?.release();
      });
    },
  };
  return store;
}
