import type { EventEmitter } from 'eventemitter3';
import { SyncError } from '../errors';
import type { CycleEvent, JobProgress, SyncEngineEvents } from '../events/syncEvents';
import { terminalEventOf } from '../events/syncEvents';
import type { Job, LogEntry } from '../job/job';
import type { SyncLogger } from '../logger';
import type { JobRunEvents } from './jobRun';

export interface EventFanOutOptions {
  /** The engine: its listeners get every event. */
  emitter: Pick<EventEmitter<SyncEngineEvents>, 'emit'>;
  /** Called once per job that reaches a terminal status in this process (see `SyncEngineOptions`). */
  onJobFinished: ((job: Job) => void | Promise<void>) | undefined;
  logger: SyncLogger;
}

/**
 * Turns what the engine's control plane, worker loop and runs report into typed events for its
 * listeners, and calls `onJobFinished` on a terminal status. A listener or hook that throws never
 * breaks the work that reported.
 */
export class EventFanOut implements JobRunEvents {
  readonly #emitter: EventFanOutOptions['emitter'];
  readonly #onJobFinished: EventFanOutOptions['onJobFinished'];
  readonly #logger: SyncLogger;
  /** `onJobFinished` calls under way: `stop` waits for them so a notification is not cut off at exit. */
  readonly #hooks = new Set<Promise<void>>();

  constructor(options: EventFanOutOptions) {
    this.#emitter = options.emitter;
    this.#onJobFinished = options.onJobFinished;
    this.#logger = options.logger;
  }

  status(job: Job): void {
    this.#emitSafely('status', { type: 'status', jobId: job.id, job });
  }

  /** The job's terminal event (if it has a terminal status) and its `onJobFinished` call. */
  finished(job: Job): void {
    const event = terminalEventOf(job);
    if (!event) return;
    switch (event.type) {
      case 'completed':
        this.#emitSafely('completed', { ...event, type: 'completed' });
        break;
      case 'failed':
        this.#emitSafely('failed', { ...event, type: 'failed' });
        break;
      case 'cancelled':
        this.#emitSafely('cancelled', { ...event, type: 'cancelled' });
        break;
      case 'interrupted':
        this.#emitSafely('interrupted', { ...event, type: 'interrupted' });
        break;
    }
    this.#callJobFinished(job);
  }

  progress(jobId: string, progress: JobProgress): void {
    this.#emitSafely('progress', { type: 'progress', jobId, progress });
  }

  /** Lines exactly as the store wrote them. */
  logs(entries: readonly LogEntry[]): void {
    for (const entry of entries) this.#emitSafely('log', { type: 'log', jobId: entry.jobId, entry });
  }

  quota(job: Job, units: number): void {
    this.#emitSafely('quota', {
      type: 'quota',
      jobId: job.id,
      source: job.source,
      accountId: job.accountId,
      units,
    });
  }

  /** A scheduler cycle ended: one log line (a warning when it failed) and the `cycle` event. */
  cycle(event: CycleEvent): void {
    const started = event.started.map((key) => `${key.source}/${key.accountId}`).join(', ') || 'none';
    const { active, reauthRequired, noSlot, dailyBudget } = event.skipped;
    const text = `Sync cycle (${event.reason}): ${event.stale} of ${event.accounts} accounts due, started ${started}; skipped ${active} running, ${reauthRequired} needing re-authorisation, ${noSlot} for lack of a slot${dailyBudget ? `, ${dailyBudget} full syncs until the daily quota resets` : ''} (${event.durationMs} ms)`;
    if (event.error)
      this.#logger.warn(`${text}; the cycle failed: ${event.error.message}`, { code: event.error.code });
    else this.#logger.info?.(text);
    this.#emitSafely('cycle', event);
  }

  /** Resolves once every `onJobFinished` call under way has ended (including ones started meanwhile). */
  async settled(): Promise<void> {
    while (this.#hooks.size > 0) await Promise.all([...this.#hooks]);
  }

  /** Runs the hook detached from the job: its failure is logged and changes nothing. */
  #callJobFinished(job: Job): void {
    const hook = this.#onJobFinished;
    if (!hook) return;
    const call = (async () => {
      try {
        await hook(job);
      } catch (error) {
        const cause = SyncError.fromUnknown(error);
        this.#logger.error(`onJobFinished failed for job ${job.id} (${job.status}): ${cause.message}`, {
          jobId: job.id,
          code: cause.code,
        });
      }
    })();
    this.#hooks.add(call);
    void call.finally(() => this.#hooks.delete(call));
  }

  /**
   * Listeners run synchronously inside the job's run: a listener that throws must not break the run
   * (a half-finished commit bookkeeping, a job failed by a UI bug). Its error is rethrown on its own
   * microtask, so it still surfaces as an uncaught error.
   */
  #emitSafely<K extends keyof SyncEngineEvents>(
    name: K,
    ...args: EventEmitter.EventArgs<SyncEngineEvents, K>
  ): void {
    try {
      this.#emitter.emit(name, ...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
