import type { Clock } from '../clock';
import type {
  AccountKey,
  Job,
  JobCounters,
  JobPhase,
  JobWaitReason,
  LogInput,
  LogLevel,
  SyncMode,
} from '../job/job';
import type { ProjectQuota } from '../quota/projectQuota';
import type { SinkWrite } from '../store/sink';
import type { ListStagedQuery, StageChange, StagedItem } from '../store/syncStore';

/** Counter increments a batch reports (`total` is set separately). */
export type CounterIncrements = Partial<Omit<JobCounters, 'total'>>;

/**
 * What a source yields: the data of one batch and the checkpoint that covers it. The engine
 * commits all of it in one transaction (fenced by the lease), then updates progress, ETA and
 * events. A batch may carry no data at all (a phase change, a newly known total).
 */
export interface SourceBatch<TCheckpoint = unknown> {
  /** The resume state once this batch is durable. Passed back as `ctx.checkpoint` on resume. */
  checkpoint: TCheckpoint;
  /** Data for the sink. */
  write?: SinkWrite;
  /** Changes to the account's durable work list (see `StagedItem`). */
  stage?: StageChange;
  /** Counter increments for the work in this batch. */
  counts?: CounterIncrements;
  /** Category count increments (from the classify hook). */
  categoryCounts?: Record<string, number>;
  /** Sets the total (`null` = unknown again). */
  total?: number | null;
  /** Enters a phase. A phase change resets the ETA. */
  phase?: JobPhase;
  /**
   * Switches the job's mode (an expired incremental cursor continues as a full sync). The counters
   * restart from zero in the new mode.
   */
  mode?: SyncMode;
  currentItem?: string | null;
  /**
   * The account's new incremental cursor. The engine saves it only when the job completes, so a
   * crash never lets a later incremental sync skip work that was not done.
   */
  cursor?: string;
  /** Log lines written with the batch (summaries, not one line per item). */
  logs?: LogInput[];
}

export interface RetryOptions {
  /** What is being retried, for the log line ("messages.list page 3"). */
  label: string;
  /** Retries after the first attempt (default: the engine's `retry.retries`). */
  retries?: number;
  /**
   * The run goes on while this waits (the source retries it alongside other work), so the wait is
   * logged but does not pause the ETA as a back-off that stalls the run does (default false).
   */
  inBackground?: boolean;
}

/** What the engine gives a source for one run. */
export interface SourceContext<TCheckpoint = unknown> {
  /** The job as it was when the run started. */
  readonly job: Job;
  readonly account: AccountKey;
  /** The mode to run (the engine resolved `auto`). */
  readonly mode: SyncMode;
  /** The account's incremental cursor, `null` before the first completed full sync. */
  readonly cursor: string | null;
  /** The source data of the account's checkpoint for this mode, `null` to start from scratch. */
  readonly checkpoint: TCheckpoint | null;
  /** Aborted on cancel, lease loss or engine stop: stop fetching and return. */
  readonly signal: AbortSignal;
  readonly clock: Clock;
  /** Writes a log line promptly (fenced). Never pass tokens or message content. */
  log(level: LogLevel, message: string, data?: Record<string, unknown>): void;
  /**
   * Runs `operation` with the engine's retry policy: exponential back-off with jitter, a
   * `Retry-After` hint (`SyncError.retryAfterMs`) honoured, only retryable errors retried, each
   * retry logged with its reason, and the ETA paused during the back-off.
   */
  retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T>;
  /** Tells the engine the source is waiting (e.g. quota back-off) so the ETA does not read it as slowness. */
  reportBackoff(ms: number): void;
  /**
   * Tells the engine how many provider quota units the source just spent (Gmail: the cost-table
   * units of each call). The engine emits them as a `quota` event, which `@syncjob/core/metrics`
   * counts. Optional so hand-made contexts in tests need not provide it; the engine always does.
   */
  reportQuotaUnits?(units: number): void;
  /**
   * The provider project's budget, shared by every worker of the deployment through the store, when
   * the engine was given `projectQuota`; `undefined` otherwise. `take(units)` resolves once the units
   * are granted, waiting (abortable by `signal`) while the minute's fair share or the day's budget is
   * spent, and reports the wait itself (`reportBackoff`, `reportWait`). Call it before each provider
   * call or batch, alongside the source's own per-user limiter.
   */
  readonly projectQuota?: ProjectQuota;
  /**
   * Tells the engine the job is held back by a quota until `until` (a project budget shared by the
   * fleet, or the account's own quota on a long back-off), or that it no longer is (`null`). The
   * engine stores it on the job (`Job.waiting`) and sends it to clients at once, counts the wait in
   * the ETA without reading it as slowness, and clears it by itself on the next committed batch and
   * when the job ends. Optional so hand-made contexts in tests need not provide it; the engine
   * always does.
   */
  reportWait?(wait: { for: JobWaitReason; until: Date } | null): void;
  /** Reads the account's durable work list. */
  readonly staged: {
    list(query: ListStagedQuery): Promise<StagedItem[]>;
    count(): Promise<number>;
  };
}

/**
 * A source knows its provider's API and nothing about persistence: it yields batches, the engine
 * owns durability, fencing, progress, ETA, logs and cancellation between batches.
 */
export interface SyncSource<TCheckpoint = unknown> {
  /** The name jobs refer to (`gmail`). */
  readonly id: string;
  run(context: SourceContext<TCheckpoint>): AsyncIterable<SourceBatch<TCheckpoint>>;
}
