import type { Job, JobSubscriptionHandlers, LogEntry, SyncEvent, SyncTransport } from '@syncjob/core/client';

/** A job as the API would send it, with the given changes. */
export function jobFixture(patch: Partial<Job> = {}): Job {
  const at = new Date(Date.UTC(2026, 2, 1, 11, 0, 0)).toISOString();
  return {
    id: '0b9e8a4e-8a5d-4a7b-9c1d-2f3e4a5b6c7d',
    source: 'test',
    accountId: 'alice@example.com',
    status: 'running',
    phase: 'fetching',
    mode: 'full',
    trigger: 'manual',
    counters: {
      total: 44_000,
      listed: 44_000,
      fetched: 12_340,
      classified: 0,
      stored: 12_340,
      skipped: 0,
      deleted: 0,
      failed: 0,
    },
    categoryCounts: {},
    percent: 28,
    ratePerSec: 120,
    etaSeconds: 4_320,
    currentItem: null,
    waiting: null,
    createdAt: at,
    startedAt: at,
    updatedAt: at,
    heartbeatAt: at,
    leaseExpiresAt: null,
    finishedAt: null,
    attempt: 1,
    cancelRequested: false,
    error: null,
    lastLogSeq: 0,
    ...patch,
  };
}

export const logLine = (job: Job, seq: number, level: LogEntry['level'] = 'info'): LogEntry => ({
  jobId: job.id,
  seq,
  at: job.updatedAt,
  level,
  message: `Stored batch ${seq}`,
});

/**
 * A transport over one job whose events the test pushes: for exact states (10,000 lines, an event
 * storm) that a running engine would not produce on cue. A real `SyncTransport`, not a mock of one.
 */
export function scriptedTransport(job: Job, logs: readonly LogEntry[] = []) {
  let handlers: JobSubscriptionHandlers | null = null;
  const transport: SyncTransport = {
    start: async () => ({ job, started: false, reason: 'alreadyRunning' }),
    cancel: async () => job,
    retry: async () => ({ job, started: true }),
    getJob: async () => job,
    getActive: async () => (job.status === 'queued' || job.status === 'running' ? job : null),
    listJobs: async () => [job],
    subscribe(_jobId, options, subscription) {
      handlers = subscription;
      subscription.onConnectionChange?.('open');
      subscription.onEvent({ type: 'snapshot', jobId: job.id, job });
      for (const entry of logs) {
        if (entry.seq > (options.afterSeq ?? 0)) subscription.onEvent({ type: 'log', jobId: job.id, entry });
      }
      return () => {
        handlers = null;
      };
    },
  };
  return {
    transport,
    emit: (event: SyncEvent) => handlers?.onEvent(event),
    setConnection: (state: Parameters<NonNullable<JobSubscriptionHandlers['onConnectionChange']>>[0]) =>
      handlers?.onConnectionChange?.(state),
  };
}
