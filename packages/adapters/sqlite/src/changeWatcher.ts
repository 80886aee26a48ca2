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
 * Tells a store's subscribers about the job changes other connections commit (other processes, or
 * other stores of this process on the same file). One per store, running only while it has
 * subscribers: every `intervalMs` it asks `PRAGMA data_version`, which SQLite answers from the
 * shared WAL index without reading the database and which changes only when another connection
 * committed. When it did, one indexed query reads the jobs whose `change_seq` (stamped by every
 * write transaction that changes a job's status, progress or lines: see `nextChangeSeq`) passed the
 * last one seen, and each becomes a notice.
 *
 * This store's own writes are told to subscribers directly when they commit; their seqs are
 * remembered here so that the watcher does not tell them a second time.
 */
export class ChangeWatcher {
  private active = false;
  private timer: TimerHandle | null = null;
  /** `data_version` at the last check, and the highest `change_seq` seen; `null` until the baseline is read. */
  private version: number | null = null;
  private lastSeen: number | null = null;
  /** Seqs of this store's own writes above `lastSeen`: already told, skipped when read back. */
  private readonly own = new Set<number>();
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
        this.lastSeen = lastChangeSeq(db);
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
    this.lastSeen = null;
    this.own.clear();
  }

  /** Records the seq this store's own write transaction stamped (after it committed and was told). */
  noteOwnChange(seq: number): void {
    if (this.lastSeen === null) return;
    if (seq === this.lastSeen + 1) {
      // Nobody committed a change in between: move on without a read, and past any own seqs that follow.
      this.lastSeen = seq;
      while (this.own.delete(this.lastSeen + 1)) this.lastSeen += 1;
    } else if (seq > this.lastSeen) {
      this.own.add(seq);
    }
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
    if (db?.db.isOpen && !db.db.isTransaction && this.lastSeen !== null) {
      try {
        const version = dataVersion(db);
        if (version !== this.version) {
          // Read after the version: a commit landing between the two is caught by the next tick.
          this.version = version;
          this.catchUp(db);
        }
      } catch {
        // A locked or closing database: the next tick tries again (the version was not advanced
        // past rows that were not read, as `catchUp` moves `lastSeen` only row by row).
        this.version = null;
      }
    }
    this.schedule();
  }

  private catchUp(db: SqliteConnection): void {
    for (;;) {
      const rows = db.all(
        'SELECT id, status, last_log_seq, change_seq FROM jobs WHERE change_seq > ? ORDER BY change_seq LIMIT ?',
        this.lastSeen ?? 0,
        PAGE,
      );
      for (const row of rows) {
        if (!this.active) return;
        const seq = Number(row.change_seq);
        this.lastSeen = seq;
        if (this.own.has(seq)) continue;
        this.options.deliver({
          jobId: String(row.id),
          status: row.status as JobStatus,
          lastLogSeq: Number(row.last_log_seq),
        });
      }
      if (rows.length < PAGE) break;
    }
    for (const seq of this.own) if (seq <= (this.lastSeen ?? 0)) this.own.delete(seq);
  }
}

const dataVersion = (db: SqliteConnection): number => Number(db.get('PRAGMA data_version')?.data_version);

/**
 * The newest change seq handed out: the highest stamp on a job (an index lookup), or the floor that
 * deleted jobs left in `job_change_counter` (migration 5), whichever is higher.
 */
const lastChangeSeq = (db: SqliteConnection): number =>
  Number(
    db.get(
      `SELECT max(coalesce((SELECT max(change_seq) FROM jobs), 0),
         coalesce((SELECT seq FROM job_change_counter WHERE id = 1), 0)) AS seq`,
    )?.seq ?? 0,
  );

/**
 * The seq a write transaction stamps on every job it changes. Read under the transaction's write
 * lock, so no other connection can take it too, and seqs grow in commit order: a watcher that saw
 * up to N reads exactly the jobs changed since with `change_seq > N`. Nothing is written for it:
 * the stamp on the job row is the only trace.
 */
export const nextChangeSeq = (db: SqliteConnection): number => lastChangeSeq(db) + 1;
