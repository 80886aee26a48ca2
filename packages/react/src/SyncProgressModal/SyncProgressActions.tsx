import { jobActions } from '@syncjob/core/client';
import { useEffect, useRef, useState } from 'react';
import { useSyncProgressModal } from './SyncProgressModalRoot';

/** Close (the sync continues), Cancel sync (after a confirmation), Retry when failed or interrupted. */
export function SyncProgressActions() {
  const { sync, requestClose } = useSyncProgressModal();
  const actions = jobActions(sync.job);
  const [confirming, setConfirming] = useState(false);
  const keepRef = useRef<HTMLButtonElement>(null);
  const asking = confirming && actions.canCancel;

  useEffect(() => {
    if (asking) keepRef.current?.focus();
  }, [asking]);

  if (asking) {
    return (
      <fieldset className="sj-actions sj-confirm">
        <legend className="sj-confirm-text">Stop this sync? Messages already synced are kept.</legend>
        <button ref={keepRef} type="button" className="sj-button" onClick={() => setConfirming(false)}>
          Keep syncing
        </button>
        <button
          type="button"
          className="sj-button"
          data-variant="danger"
          onClick={() => {
            setConfirming(false);
            void sync.cancel();
          }}
        >
          Stop sync
        </button>
      </fieldset>
    );
  }

  return (
    <div className="sj-actions">
      {actions.canCancel ? (
        <button type="button" className="sj-button" data-variant="danger" onClick={() => setConfirming(true)}>
          Cancel sync
        </button>
      ) : null}
      {actions.canRetry ? (
        <button type="button" className="sj-button" data-variant="primary" onClick={() => void sync.retry()}>
          Retry
        </button>
      ) : null}
      <button type="button" className="sj-button" data-variant="secondary" onClick={requestClose}>
        {sync.isRunning ? 'Close (sync continues)' : 'Close'}
      </button>
    </div>
  );
}
