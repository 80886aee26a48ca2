import { jobActions, syncStatusText } from '@syncjob/core/client';
import { useNow } from './useNow';
import { useSyncJob } from './useSyncJob';

export interface SyncStatusProps {
  /** The source id, e.g. `gmail`. Required. */
  source: string;
  /** The account whose last outcome is shown. Required. */
  accountId: string;
  /** How often "5 min ago" is refreshed, in ms (default 30,000). */
  refreshMs?: number;
  /** Extra class (default none). */
  className?: string;
}

/**
 * The account's last outcome in one line: "Syncing… 28%", "Last synced 5 min ago",
 * "Last sync interrupted", or "Sync failed — retry" as a button that retries.
 */
export function SyncStatus({ source, accountId, refreshMs = 30_000, className }: SyncStatusProps) {
  const sync = useSyncJob({ source, accountId });
  const now = useNow(refreshMs);
  const text = syncStatusText(sync.job, now);
  const classes = className ? `sj-status ${className}` : 'sj-status';
  const state = sync.status ?? 'none';
  if (sync.status === 'failed' && jobActions(sync.job).canRetry) {
    return (
      <button
        type="button"
        className={`${classes} sj-status-retry`}
        data-state={state}
        onClick={() => void sync.retry()}
      >
        {text}
      </button>
    );
  }
  return (
    <span className={classes} data-state={state}>
      {text}
    </span>
  );
}
