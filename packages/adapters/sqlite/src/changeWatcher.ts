import type { Clock, JobStatus, StoreNotice, TimerHandle } from '@syncjob/core';
import type { SqliteConnection } from './sqliteConnection';

/** Rows read at once when catching up with other connections' changes. */
const PAGE = 500;

export interface ChangeWatcherOptions {
  /** The store's connection when it is open (the watcher never opens one itself). */
  connection: () => SqliteConnection | undefined;
  /** Runs `body` on the store's connection in its call queue: after the calls made before it, before those made after. */
  read: (body: (db: SqliteConnection) => void) => Promise<void>;
  clock: Clock;
  /** Pause between two `PRAGMA data_version` checks, in ms. */
  intervalMs: number;
  /** Hands a notice of another connection's change to the store's subscribers. */
  deliver: (notice: StoreNotice) => void;
}

/**
 * A position in one of the two feeds of job changes (rows by `row_seq`, stamps by `change_seq`),
 * both of which grow in commit order: the highest seq read, and this store's own seqs above it,
 * already told to subscribers and skipped when read back.
 */
class FeedPosition {
  last: number | null = null;
  private readonly own = new Set<number>();

  reset(last: number | null): void {
    this.last = last;
    this.own.clear();
  }

  /** Records a seq this store's own write transaction committed (after it was told). */
  noteOwn(seq: number): void {
    if (this.last === null) return;
    if (seq === this.last + 1) {
      // Nobody committed one in between: move on without a read, and past any own seqs that follow.
      this.last = seq;
      while (this.own.delete(this.last + 1)) this.last += 1;
    } else if (seq > this.last) {
      this.own.add(seq);
    }
  }

  /**
   * Whether own seqs wait above a gap. A gap need not be another connection's: an insert that a
   * conflict clause skipped still used up a `row_seq`. A read closes it.
   */
  get waiting(): boolean {
    return this.own.size > 0;
  }

  /** Moves past a seq read back; false when it is this store's own (told already). */
  pass(seq: number): boolean {
    this.last = seq;
    return !this.own.delete(seq);
  }

  /** Forgets own seqs the reads have moved past. */
  settle(): void {
    for (const seq of this.own) if (seq <= (this.last ?? 0)) this.own.delete(seq);
  }
}

/**
 * Tells a store's subscribers about the job changes other connections commit (other processes, or
 * other stores of this process on the same file). One per store, running only while it has
 * subscribers: every `intervalMs` it asks `PRAGMA data_version`, which SQLite answers from the
 * shared WAL index without reading the database and which changes only when another connection
 * committed. When it did, it reads two feeds, both through a key the writes move anyway or at the
 * end of an index: new jobs by `row_seq` (the rowid, which AUTOINCREMENT never hands out twice),
 * and changed jobs by `change_seq` (stamped by every write transaction that changes an existing
 * job's status, progress or lines: see `nextChangeSeq`). Each job read becomes one notice.
 *
 * This store's own writes are told to subscribers directly when they commit; their seqs are
 * remembered here so that the watcher does not tell them a second time.
 */
export class ChangeWatcher {
  private active = false;
  private timer: TimerHandle | null = null;
  /** `data_version` at the last check; `null` until the baseline is read. */
  private version: number | null = null;
  private readonly rows = new FeedPosition();
  private readonly stamps = new FeedPosition();
  /** Bumped by `stop`, so that a baseline read queued before it is dropped. */
  private session = 0;

  constructor(private readonly options: ChangeWatcherOptions) {}

  /** Starts watching (idempotent). Changes committed after the calls already queued on the store are told. */
  start(): void {
    if (this.active) return;
    this.active = true;
    const session = this.session;
    this.options
      .read((db) => {
        if (!this.active || session !== this.session) return;
        this.version = dataVersion(db);
        this.rows.reset(lastRowSeq(db));
        this.stamps.reset(lastChangeSeq(db));
      })
      .catch(() => {
        // The store cannot be opened: its calls report that. The next `start` tries again.
        if (session === this.session) this.stop();
      });
    this.schedule();
  }

  /** Stops watching and forgets the position (idempotent); a later `start` takes a new baseline. */
  stop(): void {
    this.active = false;
    this.session += 1;
    if (this.timer !== null) this.options.clock.clearTimeout(this.timer);
    this.timer = null;
    this.version = null;
    this.rows.reset(null);
    this.stamps.reset(null);
  }

  /** Records the `row_seq` of a job this store inserted (after it committed and was told). */
  noteOwnInsert(rowSeq: number): void {
    this.rows.noteOwn(rowSeq);
  }

  /** Records the seq this store's own write transaction stamped (after it committed and was told). */
  noteOwnChange(seq: number): void {
    this.stamps.noteOwn(seq);
  }

  private schedule(): void {
    if (!this.active) return;
    this.timer = this.options.clock.setTimeout(() => this.tick(), this.options.intervalMs);
    // A watcher must not keep the process alive on its own (Node's timers have `unref`).
    (this.timer as { unref?: () => void } | null)?.unref?.();
  }

  private tick(): void {
    this.timer = null;
    if (!this.active) return;
    const db = this.options.connection();
    // Inside this store's own open transaction (an app sink that awaits) a read would see its
    // uncommitted rows: wait for the next tick.
    if (db?.db.isOpen && !db.db.isTransaction && this.rows.last !== null) {
      try {
        const version = dataVersion(db);
        if (version !== this.version || this.rows.waiting || this.stamps.waiting) {
          // Read after the version: a commit landing between the two is caught by the next tick.
          this.version = version;
          this.catchUp(db);
        }
      } catch {
        // A locked or closing database: the next tick tries again (the version was not advanced
        // past rows that were not read, as `catchUp` moves each position only row by row).
        this.version = null;
      }
    }
    this.schedule();
  }

  private catchUp(db: SqliteConnection): void {
    // One notice per job, with the state read last: a job both created and changed since the last
    // look is read by both feeds.
    const notices = new Map<string, StoreNotice>();
    this.read(db, NEW_JOBS_SQL, this.rows, 'row_seq', notices);
    this.read(db, CHANGED_JOBS_SQL, this.stamps, 'change_seq', notices);
    for (const notice of notices.values()) {
      if (!this.active) return;
      this.options.deliver(notice);
    }
  }

  private read(
    db: SqliteConnection,
    sql: string,
    position: FeedPosition,
    seqColumn: 'row_seq' | 'change_seq',
    notices: Map<string, StoreNotice>,
  ): void {
    for (;;) {
      const rows = db.all(sql, position.last ?? 0, PAGE);
      for (const row of rows) {
        const id = String(row.id);
        if (position.pass(Number(row[seqColumn]))) {
          notices.set(id, {
            jobId: id,
            status: row.status as JobStatus,
            lastLogSeq: Number(row.last_log_seq),
          });
        }
      }
      if (rows.length < PAGE) break;
    }
    position.settle();
  }
}

export const NEW_JOBS_SQL =
  'SELECT id, status, last_log_seq, row_seq FROM jobs WHERE row_seq > ? ORDER BY row_seq LIMIT ?';
// `change_seq > 0` is the partial index's own condition, spelled out so that SQLite uses it.
export const CHANGED_JOBS_SQL = `SELECT id, status, last_log_seq, change_seq FROM jobs
  WHERE change_seq > ? AND change_seq > 0 ORDER BY change_seq LIMIT ?`;

const dataVersion = (db: SqliteConnection): number => Number(db.get('PRAGMA data_version')?.data_version);

/** The newest job row: new jobs get a higher `row_seq`, even after the newest was deleted. */
const lastRowSeq = (db: SqliteConnection): number =>
  Number(db.get('SELECT coalesce(max(row_seq), 0) AS seq FROM jobs')?.seq ?? 0);

/**
 * The seq a write transaction stamps on every existing job it changes (a new job is not stamped:
 * watchers find it by `row_seq`), as an SQL expression: one above the newest stamp on a job (the
 * end of `jobs_by_change`) or the floor that deleted jobs left in `job_change_counter` (migration
 * 5), whichever is higher. Read under the transaction's write lock, so no other connection can take
 * it too, and seqs grow in commit order: a watcher that saw up to N reads exactly the jobs changed
 * since with `change_seq > N`. Nothing is written for it: the stamp on the job row is the only trace.
 */
export const NEXT_CHANGE_SEQ = `(max(
  coalesce((SELECT change_seq FROM jobs WHERE change_seq > 0 ORDER BY change_seq DESC LIMIT 1), 0),
  coalesce((SELECT seq FROM job_change_counter WHERE id = 1), 0)) + 1)`;

const lastChangeSeq = (db: SqliteConnection): number =>
  Number(db.get(`SELECT ${NEXT_CHANGE_SEQ} - 1 AS seq`)?.seq ?? 0);

/** `NEXT_CHANGE_SEQ`, read on its own, for a transaction that stamps several statements. */
export const nextChangeSeq = (db: SqliteConnection): number =>
  Number(db.get(`SELECT ${NEXT_CHANGE_SEQ} AS seq`)?.seq);
