import { formatPercent, jobProgressBar } from '@syncjob/core/client';
import type { CSSProperties } from 'react';
import { useSyncProgressModal } from './SyncProgressModalRoot';

/** Determinate bar with "12,340 / 44,000 messages" when the total is known, indeterminate otherwise. */
export function SyncProgressBar() {
  const { sync } = useSyncProgressModal();
  const bar = jobProgressBar(sync.job);
  const style = bar.percent === null ? undefined : ({ '--sj-progress': `${bar.percent}%` } as CSSProperties);
  return (
    <div className="sj-progress" data-determinate={bar.determinate} data-state={sync.status ?? 'none'}>
      <div
        className="sj-progress-track"
        role="progressbar"
        aria-label="Sync progress"
        aria-valuemin={bar.determinate ? 0 : undefined}
        aria-valuemax={bar.determinate ? 100 : undefined}
        aria-valuenow={bar.percent ?? undefined}
        aria-valuetext={bar.valueText}
        style={style}
      >
        <div className="sj-progress-fill" />
      </div>
      <p className="sj-progress-label">
        <span>{bar.label}</span>
        {bar.percent === null ? null : <span>{formatPercent(bar.percent)}</span>}
      </p>
    </div>
  );
}
