import { EventEmitter } from 'eventemitter3';
import type { StartInput, StartResult, SyncEngine } from '../../engine/engineTypes';
import type { WorkOptions, WorkResult } from '../../engine/workSlice';
import { SyncError } from '../../errors';
import type { SyncEngineEvents } from '../../events/syncEvents';
import { terminalEventOf } from '../../events/syncEvents';
import type { AccountKey, Job, JobCounters, LogEntry, TerminalJobStatus } from '../../job/job';
import { emptyCounters, isTerminalStatus } from '../../job/job';
import { cancelTransition } from '../../job/jobLifecycle';
import type { ScheduleHandle } from '../../scheduler/scheduler';
import { createMemoryStore } from '../../store/memoryStore';
import type { GetLogsQuery, Lease, ListJobsQuery, SyncStore } from '../../store/syncStore';

/**
 * A SyncEngine whose jobs a test drives step by step (claim, log, progress, finish) over a real
 * store, emitting the engine's events like the real one. The HTTP and client tests need exact
 * control of what happens when, not a source running on its own.
 */
export class ScriptedEngine extends EventEmitter<SyncEngineEvents> implements SyncEngine {
  readonly store: SyncStore;
  readonly workerId = 'scripted-worker';
  readonly sourceIds: readonly string[];
  /** When false the engine emits nothing, like a worker in another process. */
  emitEvents = true;

  constructor(options: { store?: SyncStore; sourceIds?: readonly string[] } = {}) {
    super();
    this.store = options.store ?? createMemoryStore();
    this.sourceIds = options.sourceIds ?? ['test'];
  }

  async start(input: StartInput): Promise<StartResult> {
    if (!this.sourceIds.includes(input.source)) throw new SyncError('UNKNOWN_SOURCE', 'Unknown source.');
    const result = await this.store.createJob({
      source: input.source,
      accountId: input.accountId,
      mode: input.mode === 'incremental' ? 'incremental' : 'full',
      trigger: input.trigger ?? 'manual',
      logs: [{ level: 'info', message: 'Sync queued.' }],
    });
    if (!result.created) return { job: result.job, started: false, reason: 'alreadyRunning' };
    this.emitStatus(result.job);
    return { job: result.job, started: true };
  }

  async cancel(jobId: string): Promise<Job> {
    const job = await this.store.getJob(jobId);
    if (!job) throw new SyncError('NOT_FOUND', 'No such job.');
    if (isTerminalStatus(job.status)) throw new SyncError('CONFLICT', 'The job already ended.');
    const after = (await this.store.updateJob(jobId, cancelTransition))?.job;
    if (!after) throw new SyncError('NOT_FOUND', 'No such job.');
    if (isTerminalStatus(after.status)) this.emitTerminal(after);
    return after;
  }

  async retry(jobId: string): Promise<StartResult> {
    const job = await this.store.getJob(jobId);
    if (!job) throw new SyncError('NOT_FOUND', 'No such job.');
    if (!['failed', 'cancelled', 'interrupted'].includes(job.status)) {
      throw new SyncError('CONFLICT', 'Only a failed, cancelled or interrupted job can be retried.');
    }
    return this.start({ source: job.source, accountId: job.accountId, trigger: 'resume' });
  }

  getJob = (jobId: string) => this.store.getJob(jobId);
  getActiveJob = (key: AccountKey) => this.store.getActiveJob(key);
  listJobs = (query?: ListJobsQuery) => this.store.listJobs(query);
  getLogs = (jobId: string, query?: GetLogsQuery) => this.store.getLogs(jobId, query);
  getAccountState = (key: AccountKey) => this.store.getAccountState(key);
  schedule(): ScheduleHandle {
    throw new SyncError('INVALID_INPUT', 'The scripted engine has no scheduler.');
  }
  markReauthorized(key: AccountKey): Promise<StartResult> {
    return this.start({ ...key, trigger: 'manual' });
  }
  startWorker(): void {}
  async stop(): Promise<void> {}
  async runPendingJobs(): Promise<number> {
    return 0;
  }
  /** Options of every `work` call, in order; `workResult` is what each returns. */
  readonly workCalls: WorkOptions[] = [];
  workResult: WorkResult = { ran: 0, jobs: [], moreWork: false };
  async work(options: WorkOptions = {}): Promise<WorkResult> {
    this.workCalls.push(options);
    return this.workResult;
  }

  // ── Driving a job ─────────────────────────────────────────────────────────────────────────────

  /** Claims the oldest queued job and marks it running. */
  async claim(): Promise<Lease> {
    const claimed = await this.store.claimJob({ workerId: this.workerId, leaseMs: 60_000 });
    if (!claimed) throw new Error('Nothing queued.');
    this.emitStatus(claimed.job);
    return claimed.lease;
  }

  /** Appends log lines (emitting a `log` event per line). */
  async log(lease: Lease, ...messages: string[]): Promise<LogEntry[]> {
    const entries = await this.store.appendLogs(
      lease.jobId,
      messages.map((message) => ({ level: 'info' as const, message })),
      lease,
    );
    if (this.emitEvents)
      for (const entry of entries) this.emit('log', { type: 'log', jobId: lease.jobId, entry });
    return entries;
  }

  /** Sets counters (emitting a `progress` event). */
  async progress(lease: Lease, counters: Partial<JobCounters>): Promise<Job> {
    const current = await this.store.getJob(lease.jobId);
    const job = await this.store.updateProgress(lease, {
      phase: 'fetching',
      counters: { ...(current?.counters ?? emptyCounters()), ...counters },
    });
    if (this.emitEvents) {
      const { phase, mode, categoryCounts, percent, ratePerSec, etaSeconds, currentItem, updatedAt } = job;
      this.emit('progress', {
        type: 'progress',
        jobId: job.id,
        progress: {
          phase,
          mode,
          counters: job.counters,
          categoryCounts,
          percent,
          ratePerSec,
          etaSeconds,
          currentItem,
          waiting: job.waiting,
          updatedAt,
        },
      });
    }
    return job;
  }

  /** Ends the job with a final log line (emitting it, then the terminal event). */
  async finish(lease: Lease, status: TerminalJobStatus = 'completed'): Promise<Job> {
    const before = await this.store.getJob(lease.jobId);
    const { job } = await this.store.finishJob(lease, {
      status,
      error: status === 'failed' ? { code: 'NETWORK', message: 'It broke.', retryable: true } : null,
      logs: [{ level: 'info', message: `Sync ${status}.` }],
    });
    if (this.emitEvents) {
      const lines = await this.store.getLogs(job.id, { afterSeq: before?.lastLogSeq ?? 0 });
      for (const entry of lines) this.emit('log', { type: 'log', jobId: job.id, entry });
    }
    this.emitTerminal(job);
    return job;
  }

  private emitStatus(job: Job) {
    if (this.emitEvents) this.emit('status', { type: 'status', jobId: job.id, job });
  }

  private emitTerminal(job: Job) {
    const event = terminalEventOf(job);
    if (!this.emitEvents || !event) return;
    switch (event.type) {
      case 'completed':
        this.emit('completed', { ...event, type: 'completed' });
        break;
      case 'failed':
        this.emit('failed', { ...event, type: 'failed' });
        break;
      case 'cancelled':
        this.emit('cancelled', { ...event, type: 'cancelled' });
        break;
      case 'interrupted':
        this.emit('interrupted', { ...event, type: 'interrupted' });
        break;
    }
  }
}

/** A store seen as another process would see it: no local notices, so readers must poll. */
export function withoutNotices(store: SyncStore): SyncStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'capabilities') return { multiProcess: true, crossProcessNotices: false };
      if (key === 'subscribe') return () => () => {};
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
