import { formatDuration, type Job } from '@syncjob/core/client';

const number = new Intl.NumberFormat('en-US');

/** How long a job ran (until now while it runs): "3 min 12 s", "48 s"; "—" while it has not started. */
export function jobDuration(job: Job, now: number): string {
  if (!job.startedAt) return '—';
  const end = job.finishedAt ? Date.parse(job.finishedAt) : now;
  return formatDuration(Math.max(0, end - Date.parse(job.startedAt)));
}

export interface JobHistoryProps {
  jobs: Job[];
}

/** The account's jobs, newest first: what ran, how far it got, how long it took, why it failed. */
export function JobHistory({ jobs }: JobHistoryProps) {
  const now = Date.now();
  if (jobs.length === 0) return <p className="muted">No sync yet. Press “Sync now”.</p>;
  return (
    <table className="history" data-testid="job-history">
      <thead>
        <tr>
          <th scope="col">Started</th>
          <th scope="col">Status</th>
          <th scope="col">Mode</th>
          <th scope="col">Stored / total</th>
          <th scope="col">Fetched</th>
          <th scope="col">Failed</th>
          <th scope="col">Duration</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr key={job.id} data-status={job.status}>
            <td>{new Date(job.createdAt).toLocaleString()}</td>
            <td>
              <span className="status" data-status={job.status}>
                {job.status}
              </span>
            </td>
            <td>
              {job.mode}
              {job.trigger !== 'manual' ? ` (${job.trigger})` : ''}
            </td>
            <td className="num">
              {number.format(job.counters.stored)} /{' '}
              {job.counters.total === null ? '?' : number.format(job.counters.total)}
            </td>
            <td className="num">{number.format(job.counters.fetched)}</td>
            <td className="num">{number.format(job.counters.failed)}</td>
            <td className="num">{jobDuration(job, now)}</td>
            <td className="error">{job.error ? `${job.error.code}: ${job.error.message}` : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
