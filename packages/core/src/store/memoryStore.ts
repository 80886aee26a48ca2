import type { Clock } from '../clock';
import { systemClock, toIso } from '../clock';
import { LeaseLostError, SyncError } from '../errors';
import type { AccountKey, AccountState, Job, LogEntry, LogInput } from '../job/job';
import { emptyCounters, newId, percentOf } from '../job/job';
import type { MailLabel, MailMessage, SinkWrite, SyncSink } from './sink';
import type {
  ClaimedJob,
  Lease,
  ListStagedQuery,
  MailDataReader,
  ProgressPatch,
  StageChange,
  StagedItem,
  StoreNotice,
  SyncStore,
} from './syncStore';
import { clampLimit, LIMITS } from './syncStore';

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
  staged: Map<string, StagedItem>;
  messages: Map<string, MailMessage>;
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

const copy = <T>(value: T): T => structuredClone(value);

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
  const listeners = new Set<(notice: StoreNotice) => void>();
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

  const findActive = (key: AccountKey): JobRecord | undefined => {
    for (const record of jobs.values()) {
      const { job } = record;
      if (
        job.source === key.source &&
        job.accountId === key.accountId &&
        (job.status === 'queued' || job.status === 'running')
      ) {
        return record;
      }
    }
    return undefined;
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
  const buildLogs = (draft: Job, entries: readonly LogInput[] | undefined, at: string): LogEntry[] => {
    const built = (entries ?? []).map((entry, index): LogEntry => {
      const line: LogEntry = {
        jobId: draft.id,
        seq: draft.lastLogSeq + index + 1,
        at,
        level: entry.level,
        message: entry.message,
      };
      if (entry.data !== undefined) line.data = copy(entry.data);
      return line;
    });
    draft.lastLogSeq += built.length;
    return built;
  };

  const applyProgress = (draft: Job, patch: ProgressPatch | undefined): void => {
    if (!patch) return;
    if (patch.phase !== undefined) draft.phase = patch.phase;
    if (patch.mode !== undefined) draft.mode = patch.mode;
    if (patch.counters !== undefined) draft.counters = copy(patch.counters);
    if (patch.categoryCounts !== undefined) draft.categoryCounts = copy(patch.categoryCounts);
    if (patch.ratePerSec !== undefined) draft.ratePerSec = patch.ratePerSec;
    if (patch.etaSeconds !== undefined) draft.etaSeconds = patch.etaSeconds;
    if (patch.currentItem !== undefined) draft.currentItem = patch.currentItem;
  };

  /** Stores a changed job with its new log lines and tells subscribers. */
  const saveJob = (record: JobRecord, draft: Job, newLogs: LogEntry[], at: string): Job => {
    draft.updatedAt = at;
    draft.percent = percentOf(draft.counters, draft.status);
    record.job = draft;
    if (newLogs.length > 0) logs.get(draft.id)?.push(...newLogs);
    notify(draft);
    return copy(draft);
  };

  const applyStage = (staged: Map<string, StagedItem>, change: StageChange): Map<string, StagedItem> => {
    const next = change.clear ? new Map<string, StagedItem>() : new Map(staged);
    for (const item of change.add ?? []) {
      if (!next.has(item.id)) next.set(item.id, { id: item.id, group: item.group ?? null });
    }
    for (const id of change.remove ?? []) next.delete(id);
    return next;
  };

  /** The default sink: upserts, label changes, then deletes, then labels. */
  const applyDefaultSink = (account: AccountRecord, write: SinkWrite) => {
    const messages = new Map(account.messages);
    for (const message of write.upsertMessages ?? []) messages.set(message.id, copy(message));
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
    for (const id of write.deleteMessages ?? []) messages.delete(id);
    const labels = new Map(account.labels);
    for (const label of write.upsertLabels ?? []) labels.set(label.id, copy(label));
    if (write.keepOnlyLabels !== undefined) {
      const keep = new Set(write.keepOnlyLabels);
      for (const id of [...labels.keys()]) if (!keep.has(id)) labels.delete(id);
    }
    return { messages, labels };
  };

  const sortedMessages = (key: AccountKey): MailMessage[] => {
    const account = accounts.get(accountKeyOf(key));
    if (!account) return [];
    return [...account.messages.values()].sort((a, b) => compareStrings(a.id, b.id));
  };

  const data: MailDataReader = {
    listMessages: (key, query = {}) =>
      serialize(() => {
        const limit = clampLimit(query.limit, LIMITS.messagesDefault, LIMITS.messagesMax);
        const { afterId } = query;
        const after =
          afterId === undefined ? sortedMessages(key) : sortedMessages(key).filter((m) => m.id > afterId);
        return copy(after.slice(0, limit));
      }),
    latestMessages: (key, limit) =>
      serialize(() => {
        const newest = sortedMessages(key).sort(
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
        const active = findActive(input);
        if (active) return { job: copy(active.job), created: false as const };
        const now = clockNow();
        const draft: Job = {
          id: newId(),
          source: input.source,
          accountId: input.accountId,
          status: 'queued',
          phase: null,
          mode: input.mode,
          trigger: input.trigger,
          counters: emptyCounters(),
          categoryCounts: {},
          percent: null,
          ratePerSec: null,
          etaSeconds: null,
          currentItem: null,
          createdAt: now.iso,
          startedAt: null,
          updatedAt: now.iso,
          heartbeatAt: null,
          leaseExpiresAt: null,
          finishedAt: null,
          attempt: 0,
          cancelRequested: false,
          error: null,
          lastLogSeq: 0,
        };
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
          staged: new Map(),
          messages: new Map(),
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
        logs.set(draft.id, []);
        return { job: saveJob(record, draft, newLogs, now.iso), created: true as const };
      }),

    getJob: (jobId) => serialize(() => copy(jobs.get(jobId)?.job ?? null)),

    getActiveJob: (key) => serialize(() => copy(findActive(key)?.job ?? null)),

    listJobs: (query = {}) =>
      serialize(() => {
        const limit = clampLimit(query.limit, LIMITS.listJobsDefault, LIMITS.listJobsMax);
        const matching = [...jobs.values()].filter(
          ({ job }) =>
            (query.source === undefined || job.source === query.source) &&
            (query.accountId === undefined || job.accountId === query.accountId) &&
            (query.statuses === undefined || query.statuses.includes(job.status)),
        );
        matching.sort((a, b) => compareStrings(b.job.createdAt, a.job.createdAt) || b.order - a.order);
        return copy(matching.slice(0, limit).map((record) => record.job));
      }),

    requestCancel: (jobId, entries) =>
      serialize(() => {
        const record = jobs.get(jobId);
        if (!record) return null;
        if (record.job.status !== 'queued' && record.job.status !== 'running') return copy(record.job);
        const now = clockNow();
        const draft = copy(record.job);
        draft.cancelRequested = true;
        if (draft.status === 'queued') {
          draft.status = 'cancelled';
          draft.finishedAt = now.iso;
        }
        return saveJob(record, draft, buildLogs(draft, entries, now.iso), now.iso);
      }),

    sweepExpired: (input) =>
      serialize(() => {
        const now = clockNow();
        const changed: Job[] = [];
        for (const record of jobs.values()) {
          if (record.job.status !== 'running') continue;
          if (record.leaseExpiresMs !== null && record.leaseExpiresMs > now.ms) continue;
          const draft = copy(record.job);
          let line: LogInput;
          if (draft.cancelRequested) {
            draft.status = 'cancelled';
            draft.finishedAt = now.iso;
            line = {
              level: 'info',
              message: 'The worker stopped heart-beating after a cancel request: cancelled.',
            };
          } else if (input.autoResume && draft.attempt < input.maxAttempts) {
            draft.status = 'queued';
            line = {
              level: 'warn',
              message: `The worker stopped heart-beating (lease expired): queued to resume from the checkpoint (attempt ${draft.attempt} of ${input.maxAttempts} used).`,
              data: { reason: 'LEASE_EXPIRED', attempt: draft.attempt, maxAttempts: input.maxAttempts },
            };
          } else {
            draft.status = 'interrupted';
            draft.finishedAt = now.iso;
            const why = input.autoResume
              ? `all ${input.maxAttempts} attempts were used`
              : 'auto-resume is off';
            draft.error = {
              code: 'LEASE_EXPIRED',
              message: `The worker running this sync stopped heart-beating and ${why}. Start the sync again to resume from its checkpoint.`,
              retryable: true,
            };
            line = {
              level: 'error',
              message: `The worker stopped heart-beating (lease expired) and ${why}: interrupted.`,
            };
          }
          draft.phase = null;
          draft.leaseExpiresAt = null;
          record.leaseToken = null;
          record.leaseExpiresMs = null;
          changed.push(saveJob(record, draft, buildLogs(draft, [line], now.iso), now.iso));
        }
        return changed;
      }),

    claimJob: (input) =>
      serialize((): ClaimedJob | null => {
        let oldest: JobRecord | undefined;
        for (const record of jobs.values()) {
          const { job } = record;
          if (job.status !== 'queued') continue;
          if (input.sources !== undefined && !input.sources.includes(job.source)) continue;
          if (
            !oldest ||
            compareStrings(job.createdAt, oldest.job.createdAt) < 0 ||
            (job.createdAt === oldest.job.createdAt && record.order < oldest.order)
          ) {
            oldest = record;
          }
        }
        if (!oldest) return null;
        const now = clockNow();
        const draft = copy(oldest.job);
        const token = newId();
        const expiresMs = now.ms + input.leaseMs;
        draft.status = 'running';
        draft.attempt += 1;
        draft.startedAt ??= now.iso;
        draft.heartbeatAt = now.iso;
        draft.leaseExpiresAt = toIso(expiresMs);
        draft.error = null;
        oldest.leaseToken = token;
        oldest.leaseExpiresMs = expiresMs;
        const job = saveJob(oldest, draft, [], now.iso);
        return { job, lease: { jobId: draft.id, workerId: input.workerId, token } };
      }),

    renewLease: (lease, leaseMs) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const draft = copy(record.job);
        const expiresMs = now.ms + leaseMs;
        draft.heartbeatAt = now.iso;
        draft.leaseExpiresAt = toIso(expiresMs);
        record.leaseExpiresMs = expiresMs;
        return saveJob(record, draft, [], now.iso);
      }),

    updateProgress: (lease, patch) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const draft = copy(record.job);
        applyProgress(draft, patch);
        return saveJob(record, draft, [], now.iso);
      }),

    commitBatch: (lease, commit) =>
      serialize(async () => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const account = accountOf(record.job);
        const draft = copy(record.job);
        applyProgress(draft, commit.progress);
        const newLogs = buildLogs(draft, commit.logs, now.iso);
        const staged = commit.stage ? applyStage(account.staged, commit.stage) : account.staged;
        const checkpoint =
          commit.checkpoint === undefined ? account.state.checkpoint : copy(commit.checkpoint);
        let tables = { messages: account.messages, labels: account.labels };
        const effects: Array<() => void> = [];
        if (commit.write) {
          if (appSink) {
            const key: AccountKey = { source: draft.source, accountId: draft.accountId };
            const tx: MemoryTransaction = { account: key, onCommit: (effect) => effects.push(effect) };
            await appSink.write(tx, copy(key), copy(commit.write));
          } else {
            tables = applyDefaultSink(account, commit.write);
          }
        }
        // Everything that can fail has run: apply the whole batch at once.
        account.messages = tables.messages;
        account.labels = tables.labels;
        account.staged = staged;
        if (commit.checkpoint !== undefined || commit.stage) {
          account.state = { ...account.state, checkpoint, updatedAt: now.iso };
        }
        const job = saveJob(record, draft, newLogs, now.iso);
        for (const effect of effects) effect();
        return job;
      }),

    finishJob: (lease, input) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const account = accountOf(record.job);
        const draft = copy(record.job);
        applyProgress(draft, input.progress);
        draft.status = input.status;
        draft.error = input.status === 'completed' ? null : copy(input.error ?? null);
        draft.phase = null;
        draft.finishedAt = now.iso;
        draft.leaseExpiresAt = null;
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
          account.staged = new Map();
        }
        record.leaseToken = null;
        record.leaseExpiresMs = null;
        return saveJob(record, draft, newLogs, now.iso);
      }),

    releaseJob: (lease, entries) =>
      serialize(() => {
        const now = clockNow();
        const record = fenced(lease, now.ms);
        const draft = copy(record.job);
        if (draft.cancelRequested) {
          draft.status = 'cancelled';
          draft.finishedAt = now.iso;
        } else {
          draft.status = 'queued';
        }
        draft.phase = null;
        draft.leaseExpiresAt = null;
        record.leaseToken = null;
        record.leaseExpiresMs = null;
        return saveJob(record, draft, buildLogs(draft, entries, now.iso), now.iso);
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
        const ordered = [...account.staged.values()].sort(compareStaged);
        const start =
          after === undefined
            ? 0
            : ordered.findIndex(
                (item) => compareStaged(item, { id: after.id, group: after.group ?? null }) > 0,
              );
        if (start < 0) return [];
        return copy(ordered.slice(start, start + limit));
      }),

    countStaged: (key) => serialize(() => accounts.get(accountKeyOf(key))?.staged.size ?? 0),

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
