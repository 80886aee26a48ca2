import { fromIso } from '../clock';
import type { Job, JobPhase, JobStatus, LogEntry } from '../job/job';
import { isActiveStatus, processedCount } from '../job/job';
import { formatCount, formatDuration } from '../job/jobTexts';
import type { ConnectionState } from './syncTransport';

/**
 * How a job reads to a person: every word, number format and "may I press this" rule of the UI
 * kits, as pure functions, so a React, Vue or server-rendered view shows the same thing and the
 * rules are tested once. Browser-safe; time is passed in, never read.
 */

/**
 * The ETA cell: "45 s", "12 min", "1 h 12 min"; "Calculating…" while an active job has no estimate
 * yet, "—" once it ended. Coarse on purpose: an ETA is never precise to the second past a minute.
 */
export function formatEta(job: Job | null): string {
  if (!job || !isActiveStatus(job.status)) return '—';
  if (job.etaSeconds === null) return 'Calculating…';
  const seconds = Math.max(1, Math.round(job.etaSeconds));
  return formatDuration((seconds < 60 ? seconds : Math.round(seconds / 60) * 60) * 1000);
}

/** "8.5 msg/s", "1,204 msg/s", "—" before there is signal. */
export function formatRate(ratePerSec: number | null): string {
  if (ratePerSec === null) return '—';
  return `${ratePerSec < 10 ? ratePerSec.toFixed(1) : formatCount(Math.round(ratePerSec))} msg/s`;
}

/** "28%": floored, so a bar never reads 100% before the job completes. */
export const formatPercent = (percent: number): string => `${Math.floor(percent)}%`;

/** "just now", "5 min ago", "3 h ago", "yesterday", "4 days ago". */
export function formatRelativeTime(at: string, now: number): string {
  const seconds = Math.max(0, (now - fromIso(at)) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

const pad = (value: number) => String(value).padStart(2, '0');

/** A log line's time, "14:03:27" in the viewer's time zone. */
export function formatLogTime(at: string): string {
  const date = new Date(fromIso(at));
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const TITLES: Record<JobStatus, string> = {
  queued: 'Syncing…',
  running: 'Syncing…',
  completed: 'Sync complete',
  failed: 'Sync failed',
  cancelled: 'Sync cancelled',
  interrupted: 'Last sync interrupted',
};

/** The heading of a job's progress view. */
export const jobTitle = (job: Job | null): string => (job ? TITLES[job.status] : 'No sync yet');

const PHASES: Record<JobPhase, string> = {
  labels: 'Reading labels',
  listing: 'Listing messages',
  fetching: 'Fetching messages',
  storing: 'Storing messages',
  finalizing: 'Finishing up',
};

/** "about 40 min", "about 3 h": a wait is told as coarsely as an ETA (minutes past the first one). */
function aboutDuration(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  if (seconds < 60) return `about ${seconds} s`;
  const minutes = Math.round(seconds / 60);
  // Past two hours, whole hours: "in about 3 h" rather than a false "2 h 47 min".
  return `about ${formatDuration((minutes >= 120 ? Math.round(minutes / 60) * 60 : minutes) * 60_000)}`;
}

const pad2 = (value: number) => String(value).padStart(2, '0');

/**
 * What a running job held back by a quota waits for, with when it resumes: "Waiting for Gmail quota
 * — resumes in about 40 min", "Daily Gmail quota used up — resumes at 00:00 UTC (in about 3 h)".
 * `null` when the job waits for nothing, or its wait is over (the next batch will clear it).
 */
export function jobWaitText(job: Job | null, now: number): string | null {
  const waiting = job?.status === 'running' && !job.cancelRequested ? job.waiting : null;
  if (!waiting) return null;
  const until = fromIso(waiting.until);
  if (!(until > now)) return null;
  const left = aboutDuration(until - now);
  switch (waiting.for) {
    case 'project-quota':
      return `Waiting for Gmail quota — resumes in ${left}`;
    case 'user-quota':
      return `Waiting for this mailbox's Gmail quota — resumes in ${left}`;
    case 'project-daily-quota': {
      // UTC, not the viewer's zone: the budget's day is the provider's, and "00:00 UTC" says so.
      const at = new Date(until);
      return `Daily Gmail quota used up — resumes at ${pad2(at.getUTCHours())}:${pad2(at.getUTCMinutes())} UTC (in ${left})`;
    }
  }
}

/**
 * One line under the title: what happens now, or how it ended and what to do next. With `now`, a
 * job held back by a quota says what it waits for and when it resumes (`jobWaitText`).
 */
export function jobSubtitle(job: Job | null, connection: ConnectionState = 'open', now?: number): string {
  if (!job) return 'Start a sync to see its progress here.';
  if (isActiveStatus(job.status) && connection === 'reconnecting') {
    return 'Connection lost. Reconnecting… (the sync continues on the server)';
  }
  const wait = now === undefined ? null : jobWaitText(job, now);
  if (wait) return wait;
  const done = formatCount(processedCount(job.counters));
  switch (job.status) {
    case 'queued':
      return 'Starting…';
    case 'running': {
      if (job.cancelRequested) return 'Cancelling…';
      const phase = job.phase ? PHASES[job.phase] : 'Working';
      return job.currentItem ? `${phase} · ${job.currentItem}` : phase;
    }
    case 'completed': {
      const took =
        job.startedAt && job.finishedAt
          ? ` in ${formatDuration(fromIso(job.finishedAt) - fromIso(job.startedAt))}`
          : '';
      return `${done} messages synced${took}.`;
    }
    case 'failed':
      return job.error?.retryable === false && job.error.code === 'REAUTH_REQUIRED'
        ? `Stopped after ${done} messages. Reconnect the account, then retry; synced messages are kept.`
        : `Stopped after ${done} messages. Retry to continue where it left off; synced messages are kept.`;
    case 'cancelled':
      return `Cancelled after ${done} messages. Messages already synced are kept.`;
    case 'interrupted':
      return `The sync stopped unexpectedly after ${done} messages. Retry to continue where it left off.`;
  }
}

/** The error to show in red, `null` when there is none. */
export const jobErrorText = (job: Job | null): string | null =>
  job?.status === 'failed' || job?.status === 'interrupted' ? (job.error?.message ?? null) : null;

export interface JobProgressBar {
  /** True when the total is known (or the job completed): show a filling bar with `aria-valuenow`. */
  determinate: boolean;
  /** 0–100 when determinate, else `null`. */
  percent: number | null;
  /** Visible label: "12,340 / 44,000 messages", "12,340 messages" or "Counting messages…". */
  label: string;
  /** `aria-valuetext`: "28% — 12,340 of 44,000 messages". */
  valueText: string;
}

/** The progress bar of a job. */
export function jobProgressBar(job: Job | null): JobProgressBar {
  if (!job) return { determinate: false, percent: null, label: 'Not started', valueText: 'Not started' };
  const done = processedCount(job.counters);
  const { total } = job.counters;
  const percent = job.status === 'completed' ? 100 : job.percent;
  if (percent === null || total === null) {
    // Only an active job is still counting; an ended one reports what it did.
    const active = isActiveStatus(job.status);
    const label = active && done === 0 ? 'Counting messages…' : `${formatCount(done)} messages`;
    const valueText = active ? `${label}, total not known yet` : `${label}, total not known`;
    return { determinate: false, percent: null, label, valueText };
  }
  const shownTotal = Math.max(total, done);
  const label = `${formatCount(done)} / ${formatCount(shownTotal)} messages`;
  return {
    determinate: true,
    percent,
    label,
    valueText: `${formatPercent(percent)} — ${formatCount(done)} of ${formatCount(shownTotal)} messages`,
  };
}

export interface JobStat {
  key: 'total' | 'fetched' | 'classified' | 'stored' | 'skipped' | 'rate' | 'eta';
  label: string;
  value: string;
}

/** The Total cell: "Counting…" only while an active job lists; an ended job never claims to count. */
function totalText(job: Job | null): string {
  if (!job) return '—';
  const { total } = job.counters;
  if (total !== null) return formatCount(total);
  if (isActiveStatus(job.status)) return 'Counting…';
  // A completed job's total is what it processed; a job that stopped early never learnt it.
  return job.status === 'completed' ? formatCount(processedCount(job.counters)) : '—';
}

/**
 * True when the job shows a sign of a classifier (something classified, or categories): without
 * one the Classified stat would be a meaningless 0, so it is left out.
 */
const hasClassifier = (job: Job | null): boolean =>
  job !== null && (job.counters.classified > 0 || Object.keys(job.categoryCounts).length > 0);

/** The stats grid: total, fetched, classified (only with a classifier), stored, skipped, rate, ETA. */
export function jobStats(job: Job | null): JobStat[] {
  const counters = job?.counters;
  const count = (value: number | undefined) => (value === undefined ? '—' : formatCount(value));
  const active = job !== null && isActiveStatus(job.status);
  const stats: JobStat[] = [
    { key: 'total', label: 'Total', value: totalText(job) },
    { key: 'fetched', label: 'Fetched', value: count(counters?.fetched) },
  ];
  if (hasClassifier(job))
    stats.push({ key: 'classified', label: 'Classified', value: count(counters?.classified) });
  stats.push(
    { key: 'stored', label: 'Stored', value: count(counters?.stored) },
    { key: 'skipped', label: 'Skipped', value: count(counters?.skipped) },
    { key: 'rate', label: 'Rate', value: active ? formatRate(job.ratePerSec) : '—' },
    { key: 'eta', label: 'Time left', value: formatEta(job) },
  );
  return stats;
}

export interface CategoryBadge {
  category: string;
  count: number;
  /** "12,340". */
  countText: string;
}

/** Category counts, largest first (ties by name), empty when the job has none. */
export function categoryBadges(job: Job | null): CategoryBadge[] {
  if (!job) return [];
  return Object.entries(job.categoryCounts)
    .filter(([, count]) => count > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([category, count]) => ({ category, count, countText: formatCount(count) }));
}

export interface JobActions {
  /** A sync may be started (no job is queued or running). */
  canStart: boolean;
  /** The job is queued or running and no cancel was requested yet. */
  canCancel: boolean;
  /** The job failed or was interrupted: a retry resumes from the checkpoint. */
  canRetry: boolean;
}

/** Which actions a job allows now. */
export function jobActions(job: Job | null): JobActions {
  const active = job !== null && isActiveStatus(job.status);
  return {
    canStart: !active,
    canCancel: active && !job.cancelRequested,
    canRetry: job?.status === 'failed' || job?.status === 'interrupted',
  };
}

/**
 * True when a job says it is active but its worker's lease ran out: the numbers may be frozen
 * until another worker resumes it or marks it interrupted.
 */
export function isJobStale(job: Job | null, now: number): boolean {
  if (!job || !isActiveStatus(job.status) || job.leaseExpiresAt === null) return false;
  return now > fromIso(job.leaseExpiresAt);
}

/** When `isJobStale` may turn true next (epoch ms), `null` when it cannot. */
export function staleAt(job: Job | null): number | null {
  if (!job || !isActiveStatus(job.status) || job.leaseExpiresAt === null) return null;
  return fromIso(job.leaseExpiresAt) + 1;
}

/**
 * A one-line account status: "Syncing… 28%", "Last synced 5 min ago", "Last sync interrupted",
 * "Sync failed — retry". While a sync runs it says how far it got, so it never repeats the button.
 */
export function syncStatusText(job: Job | null, now: number): string {
  if (!job) return 'Never synced';
  switch (job.status) {
    case 'queued':
      return 'Starting sync…';
    case 'running': {
      if (job.cancelRequested) return 'Cancelling sync…';
      if (jobWaitText(job, now)) {
        const percent = job.percent === null ? '' : ` ${formatPercent(job.percent)}`;
        return `Syncing…${percent} (waiting for Gmail quota)`;
      }
      if (job.percent !== null) return `Syncing… ${formatPercent(job.percent)}`;
      const done = processedCount(job.counters);
      return done === 0 ? 'Syncing…' : `Syncing… ${formatCount(done)} messages`;
    }
    case 'completed':
      return `Last synced ${formatRelativeTime(job.finishedAt ?? job.updatedAt, now)}`;
    case 'failed':
      return 'Sync failed — retry';
    case 'cancelled':
      return `Last sync cancelled ${formatRelativeTime(job.finishedAt ?? job.updatedAt, now)}`;
    case 'interrupted':
      return 'Last sync interrupted';
  }
}

/** What pressing a sync button does: `start` a sync, or `show` the progress of the one running. */
export type SyncButtonIntent = 'start' | 'show';

/**
 * A press starts a sync unless a job is active and alive; then it shows that job's progress (a
 * click is never swallowed). A stale job (`isJobStale`) does not block a start: the server resumes
 * or replaces it, or answers with the job still running.
 */
export const syncButtonIntent = (job: Job | null, stale = false): SyncButtonIntent =>
  job && isActiveStatus(job.status) && !stale ? 'show' : 'start';

/** The label of a sync button: "Sync now", or "Show sync progress" while a sync runs. */
export const syncButtonLabel = (job: Job | null, stale = false): string =>
  syncButtonIntent(job, stale) === 'show' ? 'Show sync progress' : 'Sync now';

/** What a live region says when a job ends ("Sync complete. 44,000 messages synced in 4 min."), else `''`. */
export function jobAnnouncement(job: Job | null): string {
  if (!job || isActiveStatus(job.status)) return '';
  return `${jobTitle(job)}. ${jobSubtitle(job)}`;
}

/** True when a job went from active to completed between two observations (fires `onComplete` once). */
export const isCompletion = (previous: JobStatus | null, next: JobStatus | null): boolean =>
  previous !== null && isActiveStatus(previous) && next === 'completed';

export interface LogWindow {
  /** The newest lines, at most `max`. */
  lines: readonly LogEntry[];
  /** How many older lines are held but not rendered. */
  hidden: number;
}

/** The lines a log panel renders: the newest `max`, so ten thousand lines stay fast. */
export function logWindow(logs: readonly LogEntry[], max: number): LogWindow {
  const size = Math.max(0, Math.floor(max));
  if (logs.length <= size) return { lines: logs, hidden: 0 };
  return { lines: logs.slice(logs.length - size), hidden: logs.length - size };
}
