import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { type Clock, SyncError, sleep } from '@syncjob/core';

/** A row as `node:sqlite` returns it. */
export type SqlRow = Record<string, unknown>;

/** Primary result codes (the low byte of an extended code) that mean "another connection holds a lock". */
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
/** Primary result codes that mean the database file cannot be used right now. */
const UNAVAILABLE_CODES: ReadonlySet<number> = new Set([
  SQLITE_BUSY,
  SQLITE_LOCKED,
  8, // READONLY
  10, // IOERR
  13, // FULL
  14, // CANTOPEN
  15, // PROTOCOL
]);

/** How often a statement that stayed busy for the whole busy timeout is tried again, and the pauses between. */
const BUSY_RETRY_DELAYS_MS = [50, 200, 500] as const;

const isPromiseLike = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

const primaryCode = (error: unknown): number | undefined => {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined;
};

const isBusyError = (error: unknown): boolean => {
  const code = primaryCode(error);
  return code === SQLITE_BUSY || code === SQLITE_LOCKED;
};

/**
 * Turns an SQLite failure that means "the database cannot be used now" into `STORE_UNAVAILABLE`;
 * anything else (a `SyncError`, an app sink's own error, a bug) is returned as it is.
 */
export function toStoreError(error: unknown): unknown {
  if (error instanceof SyncError) return error;
  const code = primaryCode(error);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    const busy = code === SQLITE_BUSY || code === SQLITE_LOCKED;
    return new SyncError(
      'STORE_UNAVAILABLE',
      busy
        ? 'The SQLite database stayed locked by another connection longer than the busy timeout. Retry later, or raise busyTimeoutMs.'
        : `The SQLite database cannot be used: ${(error as Error).message}. Check the file's path, permissions and free disk space.`,
      { cause: error },
    );
  }
  if (code === undefined && (error as { code?: unknown } | null)?.code === 'ERR_INVALID_STATE') {
    return new SyncError('STORE_UNAVAILABLE', 'The SQLite database is closed.', { cause: error });
  }
  return error;
}

/**
 * Runs `attempt`, and runs it again after a pause while it fails with SQLITE_BUSY/LOCKED. Each try
 * already waited up to the busy timeout inside SQLite, so this only outlasts unusually long writers
 * in other processes; after the last try the failure surfaces as `STORE_UNAVAILABLE`.
 */
export async function withBusyRetry<T>(attempt: () => T, clock: Clock): Promise<T> {
  for (const delayMs of BUSY_RETRY_DELAYS_MS) {
    try {
      return attempt();
    } catch (error) {
      if (!isBusyError(error)) throw toStoreError(error);
      await sleep(delayMs, { clock });
    }
  }
  try {
    return attempt();
  } catch (error) {
    throw toStoreError(error);
  }
}

export interface OpenDatabaseOptions {
  /** How long SQLite waits for another connection's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs: number;
}

/** True for a path naming a file on disk (not `:memory:`, not a `file:` URI with its own rules). */
const isFilePath = (path: string): boolean => path !== ':memory:' && !path.startsWith('file:');

/**
 * Creates the folder of the database file when it is missing (like `mkdir -p`). SQLite creates a
 * missing file but not a missing folder, and the first run of an app (the README's
 * `./data/sync.db` in a fresh checkout, a new volume) rarely has the folder: without this every
 * call would fail with SQLite's bare "unable to open database file". A folder that cannot be
 * created is reported with both paths.
 */
async function ensureFolder(path: string): Promise<void> {
  const folder = dirname(resolve(path));
  try {
    await mkdir(folder, { recursive: true });
  } catch (error) {
    throw new SyncError(
      'STORE_UNAVAILABLE',
      `Cannot create the folder ${folder} for the SQLite database ${resolve(path)}: ${(error as Error).message}. Check the path and its permissions.`,
      { cause: error, details: { path: resolve(path) } },
    );
  }
}

/** `toStoreError`, with the database's path in the message of a file that cannot be opened. */
function openError(path: string, error: unknown): unknown {
  if (error instanceof SyncError) return error;
  const where = isFilePath(path) ? resolve(path) : path;
  return new SyncError(
    'STORE_UNAVAILABLE',
    `Cannot open the SQLite database ${where}: ${(error as Error)?.message ?? String(error)}. Check the file's path, its permissions and free disk space.`,
    { cause: error, details: { path: where } },
  );
}

/**
 * Opens a connection with the settings every syncjob connection needs. WAL lets readers in other
 * processes carry on while one process writes; `synchronous=NORMAL` is durable across application
 * crashes in WAL mode (only an OS crash can lose the last commits) and much faster than FULL.
 * A missing folder of `path` is created first (see `ensureFolder`).
 */
export async function openDatabase(
  path: string,
  options: OpenDatabaseOptions & { clock: Clock },
): Promise<DatabaseSync> {
  if (isFilePath(path)) await ensureFolder(path);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: options.busyTimeoutMs, enableForeignKeyConstraints: true });
  } catch (error) {
    throw openError(path, error);
  }
  try {
    // Switching a new file to WAL needs a moment of exclusive access: processes opening the file
    // together may see SQLITE_BUSY here, so it is retried like any other locked statement.
    await withBusyRetry(() => {
      db.exec(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMs)}`);
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec('PRAGMA foreign_keys = ON');
    }, options.clock);
  } catch (error) {
    db.close();
    throw isBusyError((error as SyncError).cause)
      ? error
      : openError(path, (error as SyncError).cause ?? error);
  }
  return db;
}

/**
 * One `DatabaseSync` plus the statement cache and the transaction discipline of a store instance.
 */
export class SqliteConnection {
  readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.db = db;
  }

  private statement(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get(sql: string, ...params: SQLInputValue[]): SqlRow | undefined {
    return this.statement(sql).get(...params);
  }

  all(sql: string, ...params: SQLInputValue[]): SqlRow[] {
    return this.statement(sql).all(...params);
  }

  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.statement(sql).run(...params).changes);
  }

  /** Runs an INSERT of one row; its rowid, or `null` when a conflict clause skipped it. */
  insert(sql: string, ...params: SQLInputValue[]): number | null {
    const result = this.statement(sql).run(...params);
    return Number(result.changes) === 0 ? null : Number(result.lastInsertRowid);
  }

  /**
   * Runs `body` in a write transaction. BEGIN IMMEDIATE takes the write lock up front: a deferred
   * transaction that reads first and writes later could fail with SQLITE_BUSY on the upgrade
   * (without waiting on the busy timeout) when another process wrote in between. Any failure rolls
   * everything back.
   *
   * A synchronous `body` runs from BEGIN to COMMIT without yielding to the event loop, so the write
   * lock is held for as short as possible; only an asynchronous body (an app sink that awaits)
   * keeps it across ticks.
   */
  transaction<T>(body: () => T | Promise<T>, clock: Clock): Promise<T> {
    try {
      this.db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      if (!isBusyError(error)) return Promise.reject(toStoreError(error));
      return withBusyRetry(() => this.db.exec('BEGIN IMMEDIATE'), clock).then(() =>
        this.runInTransaction(body),
      );
    }
    return this.runInTransaction(body);
  }

  private runInTransaction<T>(body: () => T | Promise<T>): Promise<T> {
    let result: T | Promise<T>;
    try {
      result = body();
      if (!isPromiseLike(result)) return Promise.resolve(this.commit(result));
    } catch (error) {
      return Promise.reject(this.rollback(error));
    }
    return result.then(
      (value) => this.commit(value),
      (error: unknown) => Promise.reject(this.rollback(error)),
    );
  }

  private commit<T>(result: T): T {
    try {
      this.db.exec('COMMIT');
    } catch (error) {
      throw this.rollback(error);
    }
    return result;
  }

  /** Rolls back what is still open (SQLite may have rolled back already) and returns the error to throw. */
  private rollback(error: unknown): unknown {
    if (this.db.isOpen && this.db.isTransaction) this.db.exec('ROLLBACK');
    return toStoreError(error);
  }

  close(): void {
    this.statements.clear();
    if (this.db.isOpen) this.db.close();
  }
}
