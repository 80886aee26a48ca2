import type { Clock } from '../clock';
import { fromIso, systemClock, toIso } from '../clock';
import { LeaseLostError, SyncError } from '../errors';
import type { AccountKey, AccountState, Job, LogEntry, LogInput } from '../job/job';
import { newId, percentOf } from '../job/job';
import type { JobTransition } from '../job/jobLifecycle';
import { applyJobChange, claimTransition, finishChange, isLeaseExpired, newJob } from '../job/jobLifecycle';
import type { MailLabel, MailMessage, SinkWrite, SyncSink } from './sink';
import type {
  ClaimedJob,
  JobWrite,
  Lease,
  ListStagedQuery,
  MailDataReader,
  QuotaDemand,
  StageChange,
  StagedItem,
  StoreNotice,
  SyncStore,
} from './syncStore';
import {
  applyProgressPatch,
  checkCreateJobInput,
  checkLeaseMs,
  checkTakeQuota,
  clampLimit,
  LIMITS,
  newLogEntries,
  quotaTakeFits,
} from './syncStore';

/**
 * What an app's own sink receives as its transaction handle from the memory store. The memory store
 * has no database transaction: it calls `write` before it applies anything of the batch, and applies
 * the batch only when `write` returns (or its promise resolves). A sink that keeps its own state
 * registers the change with `onCommit`, so a batch that fails (its `write` throws) leaves that state
 * untouched too.
 */
export interface MemoryTransaction {
  /** The account the batch belongs to. */
  readonly account: AccountKey;
  /**
   * Runs `effect` right after the batch was applied, in registration order; never when the batch
   * fails. Effects must not throw: the batch is committed by then, and an effect's error only
   * rejects the `commitBatch` call.
   */
  onCommit(effect: () => void): void;
}

export interface MemoryStoreOptions {
  /** The store's notion of "now" for timestamps and lease expiry (default: the system clock). */
  clock?: Clock;
  /**
   * The app's own sink. When given, batches' data goes to it instead of the default `messages` and
   * `labels` tables (which `store.data` then reads empty).
   */
  sink?: SyncSink<MemoryTransaction>;
}

interface JobRecord {
  job: Job;
  /** The current lease token, `null` when no worker holds the job. */
  leaseToken: string | null;
  leaseExpiresMs: number | null;
  /** Creation order, to order jobs created within the same millisecond. */
  order: number;
}

interface AccountRecord {
  state: AccountState;
  staged: OrderedTable<StagedItem>;
  messages: OrderedTable<MailMessage>;
  /** Message id → the `SinkWrite.generation` it was last upserted with (absent: none). */
  generations: Map<string, string>;
  labels: Map<string, MailLabel>;
}

const accountKeyOf = (key: AccountKey): string => JSON.stringify([key.source, key.accountId]);

/** Code-unit order, the same as the SQL stores' binary collation. */
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** (group, id) order with a `null` group first. */
const compareStaged = (a: StagedItem, b: StagedItem): number => {
  if (a.group !== b.group) {
    if (a.group === null) return -1;
    if (b.group === null) return 1;
    const byGroup = compareStrings(a.group, b.group);
    if (byGroup !== 0) return byGroup;
  }
  return compareStrings(a.id, b.id);
};

/** Thrown by `copyPlain` when it meets something `structuredClone` must handle. */
const notPlain = Symbol('not plain data');

/**
 * A deep copy of plain data (primitives, plain objects, dense arrays), several times faster than
 * `structuredClone`, which dominated a batch's cost. Throws `notPlain` for anything else (a Date, a
 * Map, a class instance, a function, an own `__proto__` key, a cycle or very deep nesting) so `copy`
 * falls back.
 */
const copyPlain = (value: unknown, depth: number): unknown => {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'function' || typeof value === 'symbol') throw notPlain;
    return value;
  }
  if (depth > 64) throw notPlain;
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) {
    const array = value as unknown[];
    const keys = Object.keys(array);
    if (keys.length !== array.length) throw notPlain;
    const result = new Array<unknown>(array.length);
    for (let index = 0; index < array.length; index++) result[index] = copyPlain(array[index], depth + 1);
    return result;
  }
  if (prototype !== Object.prototype) throw notPlain;
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // Assigning an own `__proto__` key would set the copy's prototype instead.
    if (key === '__proto__') throw notPlain;
    result[key] = copyPlain((value as Record<string, unknown>)[key], depth + 1);
  }
  return result;
};

/** A deep copy with `structuredClone`'s result, by the fast path when the value is plain data. */
const copy = <T>(value: T): T => {
  try {
    return copyPlain(value, 0) as T;
  } catch (error) {
    if (error !== notPlain) throw error;
    return structuredClone(value);
  }
};

/** Claim order: oldest `createdAt` first, creation order within one millisecond. */
const compareClaimOrder = (a: JobRecord, b: JobRecord): number =>
  compareStrings(a.job.createdAt, b.job.createdAt) || a.order - b.order;

/**
 * A map that is read in one order without sorting it on every read: the first ordered read sorts
 * it; later writes only leave a trace (a new value waits in `pending`, a replaced or deleted one
 * stays in `sorted` as a tombstone) that the next ordered read folds in with one merge. Reading and
 * then removing the first items, as the fetch phase does with staged items, costs O(1) amortised
 * per item because `head` moves past the tombstones at the front for good.
 */
class OrderedTable<T> {
  readonly #values = new Map<string, T>();
  readonly #keyOf: (value: T) => string;
  readonly #compare: (a: T, b: T) => number;
  /** The values in order from `#head`, tombstones included; `null` until an ordered read needs it. */
  #sorted: T[] | null = null;
  #head = 0;
  /** Values set since the last ordered read, unsorted, tombstones included. */
  #pending: T[] = [];

  constructor(keyOf: (value: T) => string, compare: (a: T, b: T) => number) {
    this.#keyOf = keyOf;
    this.#compare = compare;
  }

  get size(): number {
    return this.#values.size;
  }

  get(key: string): T | undefined {
    return this.#values.get(key);
  }

  keys(): IterableIterator<string> {
    return this.#values.keys();
  }

  values(): IterableIterator<T> {
    return this.#values.values();
  }

  set(key: string, value: T): void {
    if (this.#values.get(key) === value) return;
    this.#values.set(key, value);
    if (this.#sorted !== null) this.#pending.push(value);
  }

  delete(key: string): void {
    this.#values.delete(key);
  }

  clear(): void {
    this.#values.clear();
    this.#sorted = null;
    this.#head = 0;
    this.#pending = [];
  }

  /** Up to `limit` values in order, from the first one for which `isAfter` holds (all when omitted). */
  slice(isAfter: ((value: T) => boolean) | undefined, limit: number): T[] {
    const sorted = this.#ordered();
    let index = this.#head;
    if (isAfter !== undefined) {
      let high = sorted.length;
      while (index < high) {
        const middle = (index + high) >>> 1;
        if (isAfter(sorted[middle] as T)) high = middle;
        else index = middle + 1;
      }
    }
    const result: T[] = [];
    for (; index < sorted.length && result.length < limit; index++) {
      const value = sorted[index] as T;
      if (this.#isLive(value)) result.push(value);
    }
    return result;
  }

  /** A value is live while the map still holds that very object under its key. */
  #isLive(value: T): boolean {
    return this.#values.get(this.#keyOf(value)) === value;
  }

  #ordered(): T[] {
    let sorted = this.#sorted;
    if (sorted === null) {
      sorted = [...this.#values.values()].sort(this.#compare);
      this.#sorted = sorted;
      this.#head = 0;
      this.#pending = [];
      return sorted;
    }
    while (this.#head < sorted.length && !this.#isLive(sorted[this.#head] as T)) this.#head++;
    const entries = sorted.length - this.#head + this.#pending.length;
    const tombstones = entries - this.#values.size;
    // Compact once tombstones outnumber live values, so a read never walks more than twice the data.
    if (this.#pending.length === 0 && tombstones <= Math.max(1024, this.#values.size)) return sorted;
    const added = this.#pending.filter((value) => this.#isLive(value)).sort(this.#compare);
    const merged: T[] = [];
    let next = 0;
    for (let index = this.#head; index < sorted.length; index++) {
      const value = sorted[index] as T;
      if (!this.#isLive(value)) continue;
      while (next < added.length && this.#compare(added[next] as T, value) < 0)
        merged.push(added[next++] as T);
      merged.push(value);
    }
    while (next < added.length) merged.push(added[next++] as T);
    this.#sorted = merged;
    this.#head = 0;
    this.#pending = [];
    return merged;
  }
}

/** The part of a table a batch writes through. */
interface Table<T> {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
  delete(key: string): void;
  clear(): void;
}

/**
 * One batch's changes to one table, kept aside so that a batch whose app sink throws changes
 * nothing, without copying the table: reads see the batch's own writes over the table, and
 * `applyTo` writes them into it once nothing can fail any more.
 */
class Overlay<T> {
  readonly #base: Table<T>;
  /** Key → the batch's value, `null` when the batch deletes it. */
  readonly #changes = new Map<string, T | null>();
  #cleared = false;

  constructor(base: Table<T>) {
    this.#base = base;
  }

  get(key: string): T | undefined {
    const changed = this.#changes.get(key);
    if (changed !== undefined) return changed ?? undefined;
    return this.#cleared ? undefined : this.#base.get(key);
  }

  set(key: string, value: T): void {
    this.#changes.set(key, value);
  }

  delete(key: string): void {
    this.#changes.set(key, null);
  }

  clear(): void {
    this.#cleared = true;
    this.#changes.clear();
  }

  /** The keys the batch set (not deleted), and the table's keys unless the batch cleared it. */
  keys(baseKeys: Iterable<string>): Set<string> {
    const keys = new Set<string>();
    if (!this.#cleared) for (const key of baseKeys) if (!this.#changes.has(key)) keys.add(key);
    for (const [key, value] of this.#changes) if (value !== null) keys.add(key);
    return keys;
  }

  applyTo(table: Table<T>): void {
    if (this.#cleared) table.clear();
    for (const [key, value] of this.#changes) {
      if (value === null) table.delete(key);
      else table.set(key, value);
    }
  }
}

/** Queued jobs of one source in claim order, a binary heap. Jobs that left the queue are dropped lazily. */
class ClaimQueue {
  readonly #heap: JobRecord[] = [];

  push(record: JobRecord): void {
    const heap = this.#heap;
    let index = heap.push(record) - 1;
    while (index > 0) {
      const parent = (index - 1) >>> 1;
      if (compareClaimOrder(heap[parent] as JobRecord, record) <= 0) break;
      heap[index] = heap[parent] as JobRecord;
      index = parent;
    }
    heap[index] = record;
  }

  /** The oldest job still queued, left in the queue. */
  peek(): JobRecord | undefined {
    while (this.#heap.length > 0 && this.#heap[0]?.job.status !== 'queued') this.pop();
    return this.#heap[0];
  }

  pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    while (true) {
      const left = index * 2 + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && compareClaimOrder(heap[right] as JobRecord, heap[left] as JobRecord) < 0
          ? right
          : left;
      if (compareClaimOrder(last, heap[child] as JobRecord) <= 0) break;
      heap[index] = heap[child] as JobRecord;
      index = child;
    }
    heap[index] = last;
  }
}

const noop = (): void => {};

/**
 * The in-memory store: for tests and single-process apps. Operations run one at a time, in call
 * order (a promise chain), so an app sink that awaits cannot interleave with other operations, and
 * every result is a deep copy that never aliases the store's state.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SyncStore {
  const clock = options.clock ?? systemClock;
  const appSink = options.sink;
  const jobs = new Map<string, JobRecord>();
  const logs = new Map<string, LogEntry[]>();
  const accounts = new Map<string, AccountRecord>();
  /** Every job in creation order, for `listJobs`. */
  const jobsInOrder: JobRecord[] = [];
  /** Whether `createdAt` never went back (a clock can), so creation order is also `createdAt` order. */
  let createdAtInOrder = true;
  /** The queued or running job of each account. */
  const activeJobs = new Map<string, JobRecord>();
  const runningJobs = new Set<JobRecord>();
  const claimQueues = new Map<string, ClaimQueue>();
  const listeners = new Set<(notice: StoreNotice) => void>();
  /** Shared-quota windows and demand rows, by scope then key. */
  const quotaWindows = new Map<string, Map<string, { used: number; expiresAt: number }>>();
  const quotaDemands = new Map<string, Map<string, QuotaDemand>>();
  let createdCount = 0;
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  const serialize = <T>(operation: () => T | Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new SyncError('STORE_UNAVAILABLE', 'The memory store was closed.'));
    const result = tail.then(operation);
    tail = result.then(noop, noop);
    return result;
  };

  const clockNow = () => {
    const ms = clock.now();
    return { ms, iso: toIso(ms) };
  };

  const notify = (job: Job): void => {
    const notice: StoreNotice = { jobId: job.id, status: job.status, lastLogSeq: job.lastLogSeq };
    for (const listener of [...listeners]) {
      try {
        listener(notice);
      } catch {
        // The change is committed; a failing listener must not turn it into a failed operation.
      }
    }
  };

  const findActive = (key: AccountKey): JobRecord | undefined => activeJobs.get(accountKeyOf(key));

  /** Keeps the job indexes in step with a job whose status was `before` (`null`: a new job). */
  const track = (record: JobRecord, before: Job['status'] | null): void => {
    const { job } = record;
    if (job.status === before) return;
    const key = accountKeyOf(job);
    if (job.status === 'queued' || job.status === 'running') activeJobs.set(key, record);
    else if (activeJobs.get(key) === record) activeJobs.delete(key);
    if (job.status === 'running') runningJobs.add(record);
    else runningJobs.delete(record);
    if (job.status === 'queued') {
      let queue = claimQueues.get(job.source);
      if (!queue) {
        queue = new ClaimQueue();
        claimQueues.set(job.source, queue);
      }
      queue.push(record);
    }
  };

  /** The account record of a job; every job's account was created with it. */
  const accountOf = (job: Job): AccountRecord => {
    const account = accounts.get(accountKeyOf(job));
    if (!account) throw new SyncError('INTERNAL', `The account of job ${job.id} is missing.`);
    return account;
  };

  /** The job a lease may write to; throws and changes nothing otherwise. */
  const fenced = (lease: Lease, nowMs: number): JobRecord => {
    const record = jobs.get(lease.jobId);
    if (
      record?.job.status !== 'running' ||
      record.leaseToken !== lease.token ||
      record.leaseExpiresMs === null ||
      record.leaseExpiresMs <= nowMs
    ) {
      throw new LeaseLostError(lease.jobId);
    }
    return record;
  };

  /** New log lines for `draft`, numbered after its last one; bumps the draft's `lastLogSeq`. */
  const buildLogs = (draft: Job, entries: readonly LogInput[] | undefined, at: string): LogEntry[] =>
    newLogEntries(draft, entries, at, copy);

  /** Stores a changed job with its new log lines and tells subscribers. */
  const saveJob = (record: JobRecord, draft: Job, newLogs: LogEntry[], at: string): JobWrite => {
    draft.updatedAt = at;
    draft.percent = percentOf(draft.counters, draft.status);
    const before = record.job.status;
    record.job = draft;
    track(record, before);
    if (newLogs.length > 0) logs.get(draft.id)?.push(...newLogs);
    notify(draft);
    return { job: copy(draft), logs: newLogs.length > 0 ? copy(newLogs) : [] };
  };

  /** Applies a core-computed transition to the job as it is now, with its lines. */
  const applyTransition = (
    record: JobRecord,
    transition: JobTransition,
    now: { ms: number; iso: string },
  ): JobWrite => {
    const draft = copy(record.job);
    if (applyJobChange(draft, transition.change).leaseEnded) {
      record.leaseToken = null;
      record.leaseExpiresMs = null;
    } else if (transition.change.leaseExpiresAt) {
      record.leaseExpiresMs = fromIso(transition.change.leaseExpiresAt);
    }
    return saveJob(record, draft, buildLogs(draft, transition.logs, now.iso), now.iso);
  };

  const stageInto = (staged: Overlay<StagedItem>, change: StageChange): void => {
    if (change.clear) staged.clear();
    for (const item of change.add ?? []) {
      if (staged.get(item.id) === undefined) staged.set(item.id, { id: item.id, group: item.group ?? null });
    }
    for (const id of change.remove ?? []) staged.delete(id);
  };

  /** The default sink: upserts, label changes, then deletes, then labels, then the prune. */
  const writeDefaultSink = (
    account: AccountRecord,
    messages: Overlay<MailMessage>,
    generations: Overlay<string>,
    labels: Overlay<MailLabel>,
    write: SinkWrite,
  ): void => {
    for (const message of write.upsertMessages ?? []) {
      messages.set(message.id, copy(message));
      if (write.generation === undefined) generations.delete(message.id);
      else generations.set(message.id, write.generation);
    }
    for (const change of write.changeLabels ?? []) {
      const stored = messages.get(change.id);
      if (!stored) continue;
      const removed = new Set(change.remove);
      const labelIds = stored.labelIds.filter((id) => !removed.has(id));
      for (const id of change.add) {
        if (!labelIds.includes(id) && !removed.has(id)) labelIds.push(id);
      }
      messages.set(change.id, { ...stored, labelIds });
    }
    for (const id of write.deleteMessages ?? []) {
      messages.delete(id);
      generations.delete(id);
    }
    for (const label of write.upsertLabels ?? []) labels.set(label.id, copy(label));
    if (write.keepOnlyLabels !== undefined) {
      const keep = new Set(write.keepOnlyLabels);
      for (const id of labels.keys(account.labels.keys())) if (!keep.has(id)) labels.delete(id);
    }
    if (write.pruneMessages !== undefined) {
      const { keepGeneration } = write.pruneMessages;
      for (const id of messages.keys(account.messages.keys())) {
        if (generations.get(id) === keepGeneration) continue;
        messages.delete(id);
        generations.delete(id);
      }
    }
  };

  const data: MailDataReader = {
    listMessages: (key, query = {}) =>
      serialize(() => {
        const account = accounts.get(accountKeyOf(key));
        if (!account) return [];
        const limit = clampLimit(query.limit, LIMITS.messagesDefault, LIMITS.messagesMax);
        const { afterId } = query;
        const isAfter = afterId === undefined ? undefined : (message: MailMessage) => message.id > afterId;
        return copy(account.messages.slice(isAfter, limit));
      }),
    latestMessages: (key, limit) =>
      serialize(() => {
        const account = accounts.get(accountKeyOf(key));
        if (!account) return [];
        const newest = [...account.messages.values()].sort(
          (a, b) =>
            (b.internalDate ?? Number.NEGATIVE_INFINITY) - (a.internalDate ?? Number.NEGATIVE_INFINITY) ||
            compareStrings(b.id, a.id),
        );
        return copy(newest.slice(0, clampLimit(limit, LIMITS.messagesDefault, LIMITS.messagesMax)));
      }),
    countMessages: (key) => serialize(() => accounts.get(accountKeyOf(key))?.messages.size ?? 0),
    listLabels: (key) =>
      serialize(() => {
        const account = accounts.get(accountKeyOf(key));
        if (!account) return [];
        return copy([...account.labels.values()].sort((a, b) => compareStrings(a.id, b.id)));
      }),
  };

  const store: SyncStore = {
    kind: 'memory',
    capabilities: { multiProcess: false, crossProcessNotices: false },
    data,

    createJob: (input) =>
      serialize(() => {
        checkCreateJobInput(input);
        const active = findActive(input);
        if (active) return { job: copy(active.job), logs: [] as [], created: false as const };
        const now = clockNow();
        const draft = newJob({ ...input, id: newId() }, now.iso);
        const newLogs = buildLogs(draft, input.logs, now.iso);
        const key = accountKeyOf(input);
        const account = accounts.get(key) ?? {
          state: {
            source: input.source,
            accountId: input.accountId,
            cursor: null,
            checkpoint: null,
            lastSyncedAt: null,
            lastFullSyncAt: null,
            lastJobId: null,
            updatedAt: now.iso,
          },
          staged: new OrderedTable<StagedItem>((item) => item.id, compareStaged),
          messages: new OrderedTable<MailMessage>(
            (message) => message.id,
            (a, b) => compareStrings(a.id, b.id),
          ),
          generations: new Map(),
          labels: new Map(),
        };
        account.state = { ...account.state, lastJobId: draft.id, updatedAt: now.iso };
        accounts.set(key, account);
        const record: JobRecord = {
          job: draft,
          leaseToken: null,
          leaseExpiresMs: null,
          order: createdCount++,
        };
        jobs.set(draft.id, record);
        const newest = jobsInOrder[jobsInOrder.length - 1];
        if (newest && compareStrings(draft.createdAt, newest.job.createdAt) < 0) createdAtInOrder = false;
        jobsInOrder.push(record);
        track(record, null);
        logs.set(draft.id, []);
        return { ...saveJob(record, draft, newLogs, now.iso), created: true as const };
      }),

    getJob: (jobId) => serialize(() => copy(jobs.get(jobId)?.job ?? null)),

    getActiveJob: (key) => serialize(() => copy(findActive(key)?.job ?? null)),

    listJobs: (query = {}) =>
      serialize(() => {
        const limit = clampLimit(query.limit, LIMITS.listJobsDefault, LIMITS.listJobsMax);
        const matches = ({ job }: JobRecord) =>
          (query.source === undefined || job.source === query.source) &&
          (query.accountId === undefined || job.accountId === query.accountId) &&
          (query.statuses === undefined || query.statuses.includes(job.status));
        if (createdAtInOrder) {
          // Newest first is then simply creation order backwards: stop at the limit.
          const newest: Job[] = [];
          for (let index = jobsInOrder.length - 1; index >= 0 && newest.length < limit; index--) {
            const record = jobsInOrder[index] as JobRecord;
            if (matches(record)) newest.push(record.job);
          }
          return copy(newest);
        }
        const matching = jobsInOrder.filter(matches);
        matching.sort((a, b) => compareStrings(b.job.createdAt, a.job.createdAt) || b.order - a.order);
        return copy(matching.slice(0, limit).map((record) => record.job));
      }),

    updateJob: (jobId, decide) =>
      serialize((): JobWrite | null => {
        const record = jobs.get(jobId);
        if (!record) return null;
        const now = clockNow();
        const transition = decide(copy(record.job), now.iso);
        if (!transition) return { job: copy(record.job), logs: [] };
        return applyTransition(record, transition, now);
      }),

    sweepExpired: (decide) =>
      serialize(() => {
        const now = clockNow();
        const changed: JobWrite[] = [];
        const expired = [...runningJobs]
          .filter((record) => isLeaseExpired(record.job, now.ms))
          .sort((a, b) => a.order - b.order);
        for (const record of expired) {
          const transition = decide(copy(record.job), now.iso);
          if (transition) changed.push(applyTransition(record, transition, now));
        }
        return changed;
      }),

    claimJob: (input) =>
      serialize((): ClaimedJob | null => {
        checkLeaseMs(input.leaseMs);
        let oldest: JobRecord | undefined;
        let from: ClaimQueue | undefined;
        const sources = input.sources ?? [...claimQueues.keys()];
        for (const source of sources) {
          const queue = claimQueues.get(source);
          const head = queue?.peek();
          if (head && (!oldest || compareClaimOrder(head, oldest) < 0)) {
            oldest = head;
            from = queue;
          }
        }
        if (!oldest || !from) return null;
        from.pop();
        const now = clockNow();
        const token = newId();
        oldest.leaseToken = token;
        const { job } = applyTransition(oldest, claimTransition(oldest.job, now.iso, input.leaseMs), now);
        return { job, lease: { jobId: job.id, workerId: input.workerId, token } };
      }),

    renewLease: (lease, leaseMs) =>
      serialize(() => {
        checkLeaseMs(leaseMs);
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const draft = copy(record.job);
        const expiresMs = now.ms + leaseMs;
        draft.heartbeatAt = now.iso;
        draft.leaseExpiresAt = toIso(expiresMs);
        record.leaseExpiresMs = expiresMs;
        return saveJob(record, draft, [], now.iso).job;
      }),

    updateProgress: (lease, patch) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const draft = copy(record.job);
        applyProgressPatch(draft, patch);
        return saveJob(record, draft, [], now.iso).job;
      }),

    commitBatch: (lease, commit) =>
      serialize(async () => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const account = accountOf(record.job);
        const draft = copy(record.job);
        applyProgressPatch(draft, commit.progress);
        const newLogs = buildLogs(draft, commit.logs, now.iso);
        const staged = new Overlay(account.staged);
        if (commit.stage) stageInto(staged, commit.stage);
        const checkpoint =
          commit.checkpoint === undefined ? account.state.checkpoint : copy(commit.checkpoint);
        const messages = new Overlay(account.messages);
        const generations = new Overlay(account.generations);
        const labels = new Overlay(account.labels);
        const effects: Array<() => void> = [];
        if (commit.write) {
          if (appSink) {
            const key: AccountKey = { source: draft.source, accountId: draft.accountId };
            const tx: MemoryTransaction = { account: key, onCommit: (effect) => effects.push(effect) };
            await appSink.write(tx, copy(key), copy(commit.write));
          } else {
            writeDefaultSink(account, messages, generations, labels, commit.write);
          }
        }
        // Everything that can fail has run: apply the whole batch at once.
        messages.applyTo(account.messages);
        generations.applyTo(account.generations);
        labels.applyTo(account.labels);
        staged.applyTo(account.staged);
        if (commit.checkpoint !== undefined || commit.stage) {
          account.state = { ...account.state, checkpoint, updatedAt: now.iso };
        }
        const written = saveJob(record, draft, newLogs, now.iso);
        for (const effect of effects) effect();
        return written;
      }),

    finishJob: (lease, input) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const account = accountOf(record.job);
        const draft = copy(record.job);
        applyProgressPatch(draft, input.progress);
        applyJobChange(draft, finishChange(input.status, now.iso, copy(input.error ?? null)));
        const newLogs = buildLogs(draft, input.logs, now.iso);
        if (input.status === 'completed') {
          account.state = {
            ...account.state,
            cursor: input.cursor === undefined ? account.state.cursor : input.cursor,
            checkpoint: null,
            lastSyncedAt: now.iso,
            lastFullSyncAt: draft.mode === 'full' ? now.iso : account.state.lastFullSyncAt,
            updatedAt: now.iso,
          };
          account.staged.clear();
        }
        record.leaseToken = null;
        record.leaseExpiresMs = null;
        return saveJob(record, draft, newLogs, now.iso);
      }),

    releaseJob: (lease, decide) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const transition = decide(copy(record.job), now.iso);
        if (!transition) return { job: copy(record.job), logs: [] };
        return applyTransition(record, transition, now);
      }),

    appendLogs: (jobId, entries, lease) =>
      serialize(() => {
        const now = clockNow();
        const record = lease ? fenced(lease, now.ms) : jobs.get(jobId);
        if (!record || record.job.id !== jobId) {
          if (lease) throw new LeaseLostError(jobId);
          throw new SyncError('NOT_FOUND', `No job has the id ${jobId}.`, { details: { jobId } });
        }
        if (entries.length === 0) return [];
        const draft = copy(record.job);
        const newLogs = buildLogs(draft, entries, now.iso);
        saveJob(record, draft, newLogs, now.iso);
        return copy(newLogs);
      }),

    getLogs: (jobId, query = {}) =>
      serialize(() => {
        const lines = logs.get(jobId) ?? [];
        const afterSeq = Math.max(0, Math.floor(query.afterSeq ?? 0));
        const limit = clampLimit(query.limit, LIMITS.logsDefault, LIMITS.logsMax);
        // Seqs are 1, 2, 3 … so line `seq` sits at index `seq - 1`.
        return copy(lines.slice(afterSeq, afterSeq + limit));
      }),

    getAccountState: (key) => serialize(() => copy(accounts.get(accountKeyOf(key))?.state ?? null)),

    listAccountStates: (query = {}) =>
      serialize(() => {
        const states = [...accounts.values()]
          .map((account) => account.state)
          .filter((state) => query.source === undefined || state.source === query.source)
          .sort((a, b) => compareStrings(a.source, b.source) || compareStrings(a.accountId, b.accountId));
        return copy(states);
      }),

    listStaged: (key, query: ListStagedQuery) =>
      serialize(() => {
        const account = accounts.get(accountKeyOf(key));
        if (!account) return [];
        const limit = clampLimit(query.limit, LIMITS.stagedMax, LIMITS.stagedMax);
        const { after } = query;
        const cursor: StagedItem | undefined =
          after === undefined ? undefined : { id: after.id, group: after.group ?? null };
        const isAfter =
          cursor === undefined ? undefined : (item: StagedItem) => compareStaged(item, cursor) > 0;
        return copy(account.staged.slice(isAfter, limit));
      }),

    countStaged: (key) => serialize(() => accounts.get(accountKeyOf(key))?.staged.size ?? 0),

    takeQuota: (input) =>
      serialize(() => {
        checkTakeQuota(input);
        let rows = quotaWindows.get(input.scope);
        if (!rows) {
          rows = new Map();
          quotaWindows.set(input.scope, rows);
        }
        const used = input.windows.map((window) => rows.get(window.key)?.used ?? 0);
        const granted = input.units > 0 && quotaTakeFits(input.units, input.windows, used);
        if (!granted) return { granted: input.units === 0, used };
        input.windows.forEach((window, index) => {
          const row = rows.get(window.key);
          if (row) row.used += input.units;
          else rows.set(window.key, { used: input.units, expiresAt: window.expiresAt });
          used[index] = (used[index] ?? 0) + input.units;
        });
        return { granted, used };
      }),

    reportQuotaDemand: (input) =>
      serialize(() => {
        const windows = quotaWindows.get(input.scope);
        for (const [key, row] of windows ?? []) if (row.expiresAt <= input.now) windows?.delete(key);
        let rows = quotaDemands.get(input.scope);
        if (!rows) {
          rows = new Map();
          quotaDemands.set(input.scope, rows);
        }
        for (const demand of input.upsert ?? []) rows.set(demand.demander, { ...demand });
        for (const demander of input.remove ?? []) rows.delete(demander);
        for (const [demander, row] of rows) if (row.seenAt < input.activeSince) rows.delete(demander);
        return [...rows.values()]
          .sort((a, b) => (a.demander < b.demander ? -1 : a.demander > b.demander ? 1 : 0))
          .map((row) => ({ ...row }));
      }),

    subscribe: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    close: async () => {
      if (closed) return;
      closed = true;
      listeners.clear();
      // Operations already queued finish; later calls reject.
      await tail;
    },
  };
  return store;
}
