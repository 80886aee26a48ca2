import { describe, expect, it } from 'vitest';
import type { Job } from '../job/job';
import { emptyCounters } from '../job/job';
import { formatDuration } from '../job/jobTexts';
import {
  categoryBadges,
  formatEta,
  formatRate,
  formatRelativeTime,
  isCompletion,
  isJobStale,
  jobActions,
  jobAnnouncement,
  jobErrorText,
  jobProgressBar,
  jobStats,
  jobSubtitle,
  jobTitle,
  jobWaitText,
  logWindow,
  syncButtonIntent,
  syncButtonLabel,
  syncStatusText,
} from './jobPresentation';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');

const job = (patch: Partial<Job> = {}): Job => ({
  id: '0b9e8a4e-8a5d-4a7b-9c1d-2f3e4a5b6c7d',
  source: 'gmail',
  accountId: 'a',
  status: 'running',
  phase: 'fetching',
  mode: 'full',
  trigger: 'manual',
  counters: { ...emptyCounters(), total: 44_000, fetched: 12_340, stored: 12_340 },
  categoryCounts: {},
  percent: 28,
  ratePerSec: 120.4,
  etaSeconds: 4_320,
  currentItem: null,
  waiting: null,
  createdAt: '2026-03-01T11:00:00.000Z',
  startedAt: '2026-03-01T11:00:00.000Z',
  updatedAt: '2026-03-01T11:59:59.000Z',
  heartbeatAt: '2026-03-01T11:59:59.000Z',
  leaseExpiresAt: '2026-03-01T12:00:59.000Z',
  finishedAt: null,
  attempt: 1,
  cancelRequested: false,
  error: null,
  lastLogSeq: 0,
  ...patch,
});

describe('job presentation', () => {
  it('formats durations in hours and minutes for long syncs', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration((12 * 60 + 10) * 1000)).toBe('12 min 10 s');
    expect(formatDuration(12 * 60_000)).toBe('12 min');
    expect(formatDuration(4_320_000)).toBe('1 h 12 min');
    expect(formatDuration(7_200_000)).toBe('2 h');
  });

  it('shows "Calculating…" until an active job has an ETA, and nothing once it ended', () => {
    expect(formatEta(job({ etaSeconds: null }))).toBe('Calculating…');
    expect(formatEta(job())).toBe('1 h 12 min');
    expect(formatEta(job({ etaSeconds: 3_599 }))).toBe('1 h');
    expect(formatEta(job({ etaSeconds: 12 * 60 + 10 }))).toBe('12 min');
    expect(formatEta(job({ etaSeconds: 42.4 }))).toBe('42 s');
    expect(formatEta(job({ status: 'completed' }))).toBe('—');
    expect(formatRate(null)).toBe('—');
    expect(formatRate(8.46)).toBe('8.5 msg/s');
    expect(formatRate(1204.2)).toBe('1,204 msg/s');
  });

  it('says how long ago in words', () => {
    expect(formatRelativeTime('2026-03-01T11:59:30.000Z', NOW)).toBe('just now');
    expect(formatRelativeTime('2026-03-01T11:55:00.000Z', NOW)).toBe('5 min ago');
    expect(formatRelativeTime('2026-03-01T09:00:00.000Z', NOW)).toBe('3 h ago');
    expect(formatRelativeTime('2026-02-28T12:00:00.000Z', NOW)).toBe('yesterday');
    expect(formatRelativeTime('2026-02-25T12:00:00.000Z', NOW)).toBe('4 days ago');
  });

  it('titles every status', () => {
    expect(jobTitle(job())).toBe('Syncing…');
    expect(jobTitle(job({ status: 'completed' }))).toBe('Sync complete');
    expect(jobTitle(job({ status: 'failed' }))).toBe('Sync failed');
    expect(jobTitle(job({ status: 'cancelled' }))).toBe('Sync cancelled');
    expect(jobTitle(job({ status: 'interrupted' }))).toBe('Last sync interrupted');
    expect(jobTitle(null)).toBe('No sync yet');
  });

  it('says what happens now, and "Reconnecting…" only while an active job lost its stream', () => {
    expect(jobSubtitle(job({ currentItem: 'batch 12' }))).toBe('Fetching messages · batch 12');
    expect(jobSubtitle(job(), 'reconnecting')).toMatch(/Reconnecting…/);
    expect(jobSubtitle(job({ status: 'cancelled' }), 'reconnecting')).toMatch(/^Cancelled after 12,340/);
    expect(jobSubtitle(job({ cancelRequested: true }))).toBe('Cancelling…');
    expect(jobSubtitle(job({ status: 'completed', finishedAt: '2026-03-01T11:04:00.000Z' }))).toBe(
      '12,340 messages synced in 4 min.',
    );
  });

  it('says what a job held back by a quota waits for and when it resumes, in UTC for the daily budget', () => {
    const waiting = (reason: NonNullable<Job['waiting']>['for'], inMs: number) =>
      job({ waiting: { for: reason, until: new Date(NOW + inMs).toISOString() } });
    const minutes40 = waiting('project-quota', 40 * 60_000 - 20_000);
    expect(jobWaitText(minutes40, NOW)).toBe('Waiting for Gmail quota — resumes in about 40 min');
    expect(jobSubtitle(minutes40, 'open', NOW)).toBe('Waiting for Gmail quota — resumes in about 40 min');
    expect(syncStatusText(minutes40, NOW)).toBe('Syncing… 28% (waiting for Gmail quota)');
    // Without the time the subtitle cannot say when: it says what the job does.
    expect(jobSubtitle(minutes40, 'open')).toBe('Fetching messages');
    // NOW is 12:00 UTC: the day's budget comes back at midnight UTC, twelve hours on.
    expect(jobWaitText(waiting('project-daily-quota', 12 * 3_600_000), NOW)).toBe(
      'Daily Gmail quota used up — resumes at 00:00 UTC (in about 12 h)',
    );
    expect(jobWaitText(waiting('user-quota', 30_000), NOW)).toBe(
      "Waiting for this mailbox's Gmail quota — resumes in about 30 s",
    );
    // Over, cancelling, or not running: nothing to say about a wait.
    expect(jobWaitText(waiting('project-quota', 0), NOW)).toBeNull();
    expect(jobWaitText({ ...minutes40, cancelRequested: true }, NOW)).toBeNull();
    expect(jobWaitText({ ...minutes40, status: 'completed' }, NOW)).toBeNull();
    expect(jobWaitText(job(), NOW)).toBeNull();
  });

  it('shows the error of a failed job only', () => {
    const error = { code: 'NETWORK' as const, message: 'Gmail answered 500.', retryable: true };
    expect(jobErrorText(job({ status: 'failed', error }))).toBe('Gmail answered 500.');
    expect(jobErrorText(job({ error }))).toBeNull();
  });

  it('makes a determinate bar only when the total is known', () => {
    expect(jobProgressBar(job())).toEqual({
      determinate: true,
      percent: 28,
      label: '12,340 / 44,000 messages',
      valueText: '28% — 12,340 of 44,000 messages',
    });
    const unknown = jobProgressBar(job({ percent: null, counters: { ...emptyCounters(), stored: 5 } }));
    expect(unknown).toMatchObject({ determinate: false, percent: null, label: '5 messages' });
    expect(jobProgressBar(job({ status: 'completed', percent: 100 })).percent).toBe(100);
  });

  it('lists stats with "Counting…" while the total is unknown', () => {
    const stats = jobStats(job({ counters: { ...emptyCounters(), total: null }, etaSeconds: null }));
    expect(Object.fromEntries(stats.map((stat) => [stat.key, stat.value]))).toEqual({
      total: 'Counting…',
      fetched: '0',
      stored: '0',
      skipped: '0',
      rate: '120 msg/s',
      eta: 'Calculating…',
    });
  });

  it('never says "Counting…" for a job that ended without a total', () => {
    const unknown = { counters: { ...emptyCounters(), total: null, stored: 7, fetched: 7 }, percent: null };
    const total = (patch: Partial<Job>) => jobStats(job({ ...unknown, ...patch }))[0]!;
    expect(total({ status: 'failed' })).toEqual({ key: 'total', label: 'Total', value: '—' });
    expect(total({ status: 'interrupted' }).value).toBe('—');
    expect(total({ status: 'cancelled' }).value).toBe('—');
    expect(total({ status: 'completed' }).value).toBe('7');
    const failedEarly = job({
      status: 'failed',
      percent: null,
      counters: { ...emptyCounters(), total: null },
    });
    expect(jobProgressBar(failedEarly)).toMatchObject({
      label: '0 messages',
      valueText: '0 messages, total not known',
    });
    expect(jobProgressBar({ ...failedEarly, status: 'running' }).label).toBe('Counting messages…');
  });

  it('shows the Classified stat only when a classifier left a trace', () => {
    const keys = (patch: Partial<Job>) => jobStats(job(patch)).map((stat) => stat.key);
    expect(keys({})).not.toContain('classified');
    expect(keys({ categoryCounts: { work: 0 } })).toContain('classified');
    const classified = jobStats(job({ counters: { ...emptyCounters(), total: 10, classified: 4 } }));
    expect(classified.find((stat) => stat.key === 'classified')?.value).toBe('4');
    expect(jobStats(null).map((stat) => stat.key)).toEqual([
      'total',
      'fetched',
      'stored',
      'skipped',
      'rate',
      'eta',
    ]);
  });

  it('orders category badges largest first', () => {
    const badges = categoryBadges(job({ categoryCounts: { promo: 3, work: 10, news: 3, none: 0 } }));
    expect(badges.map((badge) => badge.category)).toEqual(['work', 'news', 'promo']);
  });

  it('allows cancel while active, retry when failed or interrupted', () => {
    expect(jobActions(job())).toEqual({ canStart: false, canCancel: true, canRetry: false });
    expect(jobActions(job({ cancelRequested: true })).canCancel).toBe(false);
    expect(jobActions(job({ status: 'failed' }))).toEqual({
      canStart: true,
      canCancel: false,
      canRetry: true,
    });
    expect(jobActions(job({ status: 'interrupted' })).canRetry).toBe(true);
    expect(jobActions(job({ status: 'cancelled' })).canRetry).toBe(false);
    expect(jobActions(null)).toEqual({ canStart: true, canCancel: false, canRetry: false });
  });

  it('calls an active job stale once its lease ran out', () => {
    expect(isJobStale(job(), NOW)).toBe(false);
    expect(isJobStale(job(), NOW + 60_000)).toBe(true);
    expect(isJobStale(job({ status: 'completed' }), NOW + 60_000)).toBe(false);
  });

  it('sums up the last outcome in one line', () => {
    const finished = { finishedAt: '2026-03-01T11:55:00.000Z' };
    expect(syncStatusText(job({ status: 'completed', ...finished }), NOW)).toBe('Last synced 5 min ago');
    expect(syncStatusText(job({ status: 'interrupted' }), NOW)).toBe('Last sync interrupted');
    expect(syncStatusText(job({ status: 'failed' }), NOW)).toBe('Sync failed — retry');
    expect(syncStatusText(null, NOW)).toBe('Never synced');
  });

  it("says how far a running sync got, in words other than the button's", () => {
    expect(syncStatusText(job(), NOW)).toBe('Syncing… 28%');
    expect(syncStatusText(job({ status: 'queued' }), NOW)).toBe('Starting sync…');
    const unknown = { percent: null, counters: { ...emptyCounters(), total: null, stored: 1_234 } };
    expect(syncStatusText(job(unknown), NOW)).toBe('Syncing… 1,234 messages');
    expect(syncStatusText(job({ ...unknown, counters: { ...emptyCounters(), total: null } }), NOW)).toBe(
      'Syncing…',
    );
    expect(syncStatusText(job({ cancelRequested: true }), NOW)).toBe('Cancelling sync…');
    expect(syncStatusText(job(), NOW)).not.toBe(syncButtonLabel(job()));
  });

  it('makes the button show a running sync instead of starting another, and start otherwise', () => {
    expect(syncButtonIntent(job())).toBe('show');
    expect(syncButtonIntent(job({ status: 'queued' }))).toBe('show');
    expect(syncButtonLabel(job())).toBe('Show sync progress');
    expect(syncButtonIntent(job(), true)).toBe('start');
    expect(syncButtonLabel(job(), true)).toBe('Sync now');
    expect(syncButtonIntent(job({ status: 'failed' }))).toBe('start');
    expect(syncButtonLabel(job({ status: 'completed' }))).toBe('Sync now');
    expect(syncButtonIntent(null)).toBe('start');
  });

  it('announces endings only, and spots a completion once', () => {
    expect(jobAnnouncement(job())).toBe('');
    expect(jobAnnouncement(job({ status: 'completed' }))).toMatch(/^Sync complete\. 12,340 messages synced/);
    expect(isCompletion('running', 'completed')).toBe(true);
    expect(isCompletion('completed', 'completed')).toBe(false);
    expect(isCompletion(null, 'completed')).toBe(false);
  });

  it('renders only the newest log lines', () => {
    const logs = Array.from({ length: 10 }, (_, i) => ({
      jobId: 'j',
      seq: i + 1,
      at: '2026-03-01T11:00:00.000Z',
      level: 'info' as const,
      message: `line ${i + 1}`,
    }));
    const window = logWindow(logs, 3);
    expect(window.hidden).toBe(7);
    expect(window.lines.map((line) => line.seq)).toEqual([8, 9, 10]);
    expect(logWindow(logs, 20).lines).toBe(logs);
  });
});
