import { jobStats } from '@syncjob/core/client';
import { useSyncProgressModal } from './SyncProgressModalRoot';

/** Total, fetched, classified, stored, skipped, rate and time left. */
export function SyncProgressStats() {
  const { sync } = useSyncProgressModal();
  return (
    <dl className="sj-stats">
      {jobStats(sync.job).map((stat) => (
        <div key={stat.key} className="sj-stat" data-stat={stat.key}>
          <dt>{stat.label}</dt>
          <dd>{stat.value}</dd>
        </div>
      ))}
    </dl>
  );
}
