import type { AccountState, Job } from '@syncjob/core';
import { fromIso } from '@syncjob/core';
import { formatCount, formatDuration, formatRelativeTime } from '@syncjob/core/client';

/** Left-aligned columns separated by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

const durationOf = (job: Job): string =>
  job.startedAt && job.finishedAt ? formatDuration(fromIso(job.finishedAt) - fromIso(job.startedAt)) : '—';

const progressOf = (job: Job): string => {
  const c = job.counters;
  const done = formatCount(c.stored + c.skipped + c.deleted + c.failed);
  return c.total === null ? done : `${done}/${formatCount(c.total)}`;
};

export function historyTable(jobs: Job[]): string {
  return table(
    ['CREATED', 'JOB', 'ACCOUNT', 'MODE', 'TRIGGER', 'STATUS', 'DONE', 'DURATION', 'ERROR'],
    jobs.map((job) => [
      job.createdAt.replace('T', ' ').slice(0, 19),
      job.id,
      job.accountId,
      job.mode,
      job.trigger,
      job.status,
      progressOf(job),
      durationOf(job),
      job.error?.code ?? '',
    ]),
  );
}

export function statusTable(rows: Array<{ state: AccountState; latest: Job | null }>, now: number): string {
  return table(
    ['ACCOUNT', 'SOURCE', 'LAST SYNCED', 'CURSOR', 'LATEST JOB', 'STATUS', 'DONE', 'ERROR'],
    rows.map(({ state, latest }) => [
      state.accountId,
      state.source,
      state.lastSyncedAt ? formatRelativeTime(state.lastSyncedAt, now) : 'never',
      state.cursor ? 'yes' : state.checkpoint ? 'checkpoint' : 'no',
      latest?.id ?? '—',
      latest
        ? latest.percent !== null && latest.status === 'running'
          ? `running ${Math.floor(latest.percent)}%`
          : latest.status
        : '—',
      latest ? progressOf(latest) : '—',
      latest?.error?.code ?? '',
    ]),
  );
}
