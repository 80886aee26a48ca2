import { jobErrorText, jobSubtitle, jobTitle } from '@syncjob/core/client';
import { useNow } from '../useNow';
import { useSyncProgressModal } from './SyncProgressModalRoot';

export interface SyncProgressHeaderProps {
  /** Show the × close button in the corner (default `true`). */
  showCloseButton?: boolean;
}

/** Status icon, title, subtitle, the error of a failed job, and a close button. */
export function SyncProgressHeader({ showCloseButton = true }: SyncProgressHeaderProps) {
  const { sync, titleId, subtitleId, requestClose } = useSyncProgressModal();
  const error = jobErrorText(sync.job);
  // The clock ticks only while the job waits for quota: "resumes in about 40 min" counts down.
  const now = useNow(sync.job?.waiting ? 1000 : null);
  return (
    <header className="sj-header" data-state={sync.status ?? 'none'} data-connection={sync.connection}>
      <span className="sj-icon" aria-hidden="true" />
      <div className="sj-heading">
        <h2 id={titleId} className="sj-title">
          {jobTitle(sync.job)}
        </h2>
        <p id={subtitleId} className="sj-subtitle">
          {jobSubtitle(sync.job, sync.connection, now)}
        </p>
        {error ? <p className="sj-error">{error}</p> : null}
      </div>
      {showCloseButton ? (
        <button type="button" className="sj-close" aria-label="Close (sync continues)" onClick={requestClose}>
          <span aria-hidden="true">×</span>
        </button>
      ) : null}
    </header>
  );
}
