import { fromIso } from '../clock';
import type { Job, JobCounters, JobError, JobStatus, JobTrigger, SyncMode } from '../job/job';
import { formatDuration } from '../job/jobTexts';

/**
 * What a notification tells about a finished job: ids, outcome, counts, times and error. Never
 * message content (no subjects, senders or snippets): the job holds none, and `currentItem` is left
 * out too.
 */
export interface JobSummary {
  jobId: string;
  source: string;
  accountId: string;
  status: JobStatus;
  mode: SyncMode;
  trigger: JobTrigger;
  attempt: number;
  counters: JobCounters;
  categoryCounts: Record<string, number>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** From the first start to the end; `null` for a job that never started. */
  durationMs: number | null;
  error: JobError | null;
}

export function jobSummary(job: Job): JobSummary {
  const durationMs =
    job.startedAt && job.finishedAt ? Math.max(0, fromIso(job.finishedAt) - fromIso(job.startedAt)) : null;
  return {
    jobId: job.id,
    source: job.source,
    accountId: job.accountId,
    status: job.status,
    mode: job.mode,
    trigger: job.trigger,
    attempt: job.attempt,
    counters: { ...job.counters },
    categoryCounts: { ...job.categoryCounts },
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    durationMs,
    error: job.error,
  };
}

const TITLES: Record<JobStatus, string> = {
  queued: 'Sync queued',
  running: 'Sync running',
  completed: 'Sync completed',
  failed: 'Sync failed',
  cancelled: 'Sync cancelled',
  interrupted: 'Sync interrupted',
};

/** "Sync failed: alice@example.com (gmail)". */
export const jobSummaryTitle = (summary: JobSummary): string =>
  `${TITLES[summary.status]}: ${summary.accountId} (${summary.source})`;

/** The summary as a few plain-text lines (an e-mail body, a chat message). */
export function jobSummaryText(summary: JobSummary): string {
  const c = summary.counters;
  const of = c.total === null ? '' : ` of ${c.total.toLocaleString('en-US')}`;
  const lines = [
    `${jobSummaryTitle(summary)}.`,
    '',
    `Job: ${summary.jobId}`,
    `Mode: ${summary.mode} sync (${summary.trigger}), attempt ${summary.attempt}`,
    `Messages: ${c.stored.toLocaleString('en-US')} stored${of}, ${c.skipped} skipped, ${c.deleted} deleted, ${c.failed} failed`,
    `Started: ${summary.startedAt ?? 'never'}`,
    `Finished: ${summary.finishedAt ?? '—'}`,
    `Duration: ${summary.durationMs === null ? '—' : formatDuration(summary.durationMs)}`,
  ];
  if (summary.error) lines.push(`Error: ${summary.error.code} — ${summary.error.message}`);
  return `${lines.join('\n')}\n`;
}
