import type { Clock, TimerHandle } from '../clock';
import { systemClock } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import { SyncError } from '../errors';
import type { Job, JobStatus, LogEntry } from '../job/job';
import { isTerminalStatus } from '../job/job';
import { LIMITS } from '../store/syncStore';
import type {
  JobProgress,
  LogEvent,
  ProgressEvent,
  StatusEvent,
  SyncEvent,
  TerminalEvent,
} from './syncEvents';
import { progressOf, terminalEventOf } from './syncEvents';

/** The engine events that carry a job's new status; the feed listens to all of them alike. */
const STATUS_EVENTS = ['status', 'completed', 'failed', 'cancelled', 'interrupted'] as const;

/** What a feed needs of an engine: reads, its local events and its store's notices. */
export type JobEventFeedEngine = Pick<SyncEngine, 'getJob' | 'getLogs' | 'on' | 'off' | 'store'>;

export interface JobEventFeedOptions {
  jobId: string;
  /** Log lines up to this seq are already known to the consumer and are not sent again (default 0). */
  afterSeq?: number;
  /**
   * How often to read the store when it cannot tell this process about changes made by another one
   * (a multi-process store without cross-process notices), in ms (default 1,000).
   */
  pollIntervalMs?: number;
  /** Injected time for the polling timer (default: the system clock). */
  clock?: Clock;
  /** Receives the events in order: a snapshot, the backlog of logs, then live events, then one terminal event. */
  onEvent: (event: SyncEvent) => void;
  /**
   * Receives several events at once, in the same order: the snapshot with the backlog, and each read
   * of the store (lines that filled a gap with the job's change). Optional: without it every event
   * goes to `onEvent`. A consumer folding a 10,000-line backlog this way copies its log array once.
   */
  onEvents?: (events: SyncEvent[]) => void;
  /** Called once when the feed stops on an error (job gone, store unreachable…). Not called on `close()`. */
  onError?: (error: SyncError) => void;
  /** Log lines read from the store at once, for the backlog and for gaps (default and maximum `LIMITS.logsMax`). */
  pageSize?: number;
  /**
   * Resolves when the consumer can take more. With it, a backlog is sent page by page (each page
   * through `onEvents`), waiting for it between pages, so a stream of a 100,000-line job never
   * holds more than a page in memory. Without it, the whole read goes out as one batch.
   */
  waitForConsumer?: () => Promise<void>;
}

export interface JobEventFeed {
  /** Stops listening and polling. Idempotent. */
  close(): void;
  /** True after the terminal event, an error or `close()`. */
  readonly closed: boolean;
  /** Seq of the newest log line sent. */
  readonly lastSeq: number;
}

const progressJson = ({ updatedAt: _, ...progress }: JobProgress): string => JSON.stringify(progress);

/**
 * The events of one job, in order and each log line exactly once, from whichever signals exist:
 * the engine's local events (same process, lowest latency), the store's notices (other processes
 * when the store supports it) and, for a multi-process store without cross-process notices, a
 * polling read of the store. The store is the source of truth: local events are forwarded only when
 * they are the next thing in order; anything else triggers a read of the job and of the logs after
 * the last seq sent, so a gap is filled rather than skipped and nothing is sent twice.
 *
 * This is the one feed behind the SSE stream and the in-process transport.
 */
export function openJobEventFeed(engine: JobEventFeedEngine, options: JobEventFeedOptions): JobEventFeed {
  const { jobId, onEvent } = options;
  const clock = options.clock ?? systemClock;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const pageSize = Math.max(1, Math.min(LIMITS.logsMax, Math.floor(options.pageSize ?? LIMITS.logsMax)));
  const { waitForConsumer } = options;
  const capabilities = engine.store.capabilities;
  const mustPoll = capabilities.multiProcess && !capabilities.crossProcessNotices;

  let closed = false;
  let ready = false;
  let lastSeq = Math.max(0, Math.floor(options.afterSeq ?? 0));
  let lastStatus: JobStatus | null = null;
  let lastUpdatedAt = '';
  let lastProgressJson = '';
  let syncing = false;
  let syncAgain = false;
  let pollTimer: TimerHandle | null = null;

  /** Events of the store read under way, sent together when it ends (live events meanwhile join it, in order). */
  let batch: SyncEvent[] | null = null;

  const emit = (event: SyncEvent) => {
    if (closed) return;
    if (batch) batch.push(event);
    else onEvent(event);
  };

  const flushBatch = () => {
    const events = batch;
    batch = null;
    if (closed || !events || events.length === 0) return;
    if (options.onEvents) options.onEvents(events);
    else for (const event of events) onEvent(event);
  };

  /** The one gate for log lines: only the next seq passes, so nothing is duplicated or reordered. */
  const emitLog = (entry: LogEntry): boolean => {
    if (entry.seq <= lastSeq) return true;
    if (entry.seq !== lastSeq + 1) return false;
    lastSeq = entry.seq;
    emit({ type: 'log', jobId, entry });
    return true;
  };

  const emitProgress = (progress: JobProgress) => {
    if (progress.updatedAt < lastUpdatedAt) return;
    // A log write moves `updatedAt` without progress: not worth a frame.
    const json = progressJson(progress);
    if (json === lastProgressJson) return;
    lastUpdatedAt = progress.updatedAt;
    lastProgressJson = json;
    emit({ type: 'progress', jobId, progress });
  };

  const finish = (job: Job) => {
    const terminal = terminalEventOf(job);
    if (!terminal) return;
    emit(terminal);
    flushBatch();
    close();
  };

  /** Sends what changed in `job` since the last event: a terminal event, a status change or progress. */
  const emitJob = (job: Job) => {
    if (isTerminalStatus(job.status)) {
      finish(job);
      return;
    }
    if (job.status !== lastStatus) {
      if (job.updatedAt < lastUpdatedAt && lastStatus !== null) return;
      lastStatus = job.status;
      lastUpdatedAt = job.updatedAt;
      lastProgressJson = progressJson(progressOf(job));
      emit({ type: 'status', jobId, job });
      return;
    }
    emitProgress(progressOf(job));
  };

  /** Reads the logs after the last seq sent, page by page, until `untilSeq` (or the end) is reached. */
  const drainLogs = async (untilSeq: number) => {
    while (!closed && lastSeq < untilSeq) {
      const page = await engine.getLogs(jobId, { afterSeq: lastSeq, limit: pageSize });
      if (closed || page.length === 0) return;
      for (const entry of page) {
        if (!emitLog(entry)) return;
      }
      if (page.length < pageSize) return;
      if (waitForConsumer && lastSeq < untilSeq) {
        // Hand this page over and let the consumer catch up before reading the next one; live
        // events meanwhile join the next batch, in order.
        flushBatch();
        batch = [];
        await waitForConsumer();
      }
    }
  };

  const readJob = async (): Promise<Job> => {
    const job = await engine.getJob(jobId);
    if (!job) throw new SyncError('NOT_FOUND', `Job ${jobId} no longer exists.`);
    return job;
  };

  const syncOnce = async () => {
    // The job first, then the logs: the logs read cover every line the job counts, so a terminal
    // event is only sent after all of its lines.
    const job = await readJob();
    if (closed) return;
    await drainLogs(job.lastLogSeq);
    if (closed) return;
    emitJob(job);
  };

  const fail = (cause: unknown) => {
    if (closed) return;
    // What was read before the failure is sent: the consumer resumes after it.
    flushBatch();
    const error = SyncError.fromUnknown(cause, 'STORE_UNAVAILABLE');
    close();
    options.onError?.(error);
  };

  const requestSync = () => {
    if (closed) return;
    if (!ready || syncing) {
      syncAgain = true;
      return;
    }
    syncing = true;
    void (async () => {
      try {
        do {
          syncAgain = false;
          batch = [];
          try {
            await syncOnce();
          } finally {
            flushBatch();
          }
        } while (syncAgain && !closed);
      } catch (cause) {
        fail(cause);
      } finally {
        syncing = false;
      }
    })();
  };

  const onLog = (event: LogEvent) => {
    if (event.jobId !== jobId) return;
    if (!ready || !emitLog(event.entry)) requestSync();
  };
  const onProgress = (event: ProgressEvent) => {
    if (event.jobId !== jobId || !ready || closed) return;
    if (lastStatus !== 'running') {
      requestSync();
      return;
    }
    emitProgress(event.progress);
  };
  const onStatus = (event: StatusEvent | TerminalEvent) => {
    if (event.jobId !== jobId) return;
    if (!ready || isTerminalStatus(event.job.status) || event.job.lastLogSeq > lastSeq) {
      requestSync();
      return;
    }
    emitJob(event.job);
  };
  const unsubscribeStore = engine.store.subscribe((notice) => {
    if (notice.jobId === jobId) requestSync();
  });
  engine.on('log', onLog);
  engine.on('progress', onProgress);
  for (const type of STATUS_EVENTS) engine.on(type, onStatus);

  const schedulePoll = () => {
    if (!mustPoll || closed) return;
    pollTimer = clock.setTimeout(() => {
      pollTimer = null;
      requestSync();
      schedulePoll();
    }, pollIntervalMs);
  };

  function close() {
    if (closed) return;
    closed = true;
    unsubscribeStore();
    engine.off('log', onLog);
    engine.off('progress', onProgress);
    for (const type of STATUS_EVENTS) engine.off(type, onStatus);
    if (pollTimer !== null) clock.clearTimeout(pollTimer);
    pollTimer = null;
  }

  void (async () => {
    try {
      const job = await readJob();
      if (closed) return;
      // A consumer claiming more lines than exist (another job's seq, a stale tab) gets them all.
      lastSeq = Math.min(lastSeq, job.lastLogSeq);
      lastStatus = job.status;
      lastUpdatedAt = job.updatedAt;
      lastProgressJson = progressJson(progressOf(job));
      batch = [];
      emit({ type: 'snapshot', jobId, job });
      await drainLogs(job.lastLogSeq);
      flushBatch();
      if (closed) return;
      ready = true;
      if (isTerminalStatus(job.status)) {
        finish(job);
        return;
      }
      schedulePoll();
      if (syncAgain) requestSync();
    } catch (cause) {
      fail(cause);
    }
  })();

  return {
    close,
    get closed() {
      return closed;
    },
    get lastSeq() {
      return lastSeq;
    },
  };
}
