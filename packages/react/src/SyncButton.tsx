import { type RequestedSyncMode, type StartResult, syncButtonLabel } from '@syncjob/core/client';
import type { ButtonHTMLAttributes, MouseEvent, ReactNode } from 'react';
import { useSyncClient } from './SyncProvider';
import { useSyncJob } from './useSyncJob';

export interface SyncButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'children'> {
  /** The source id, e.g. `gmail`. Required. */
  source: string;
  /** The account to sync. Required. */
  accountId: string;
  /** Sync mode to request (default `auto`: incremental when the account has a cursor). */
  mode?: RequestedSyncMode;
  /**
   * Called with the start answer when a press started (or joined) a sync (default: none); `null`
   * when starting failed (see `useSyncJob().error`). Not called when the press only showed the
   * progress of a running sync.
   */
  onStarted?(result: StartResult | null): void;
  /** Label when idle (default "Sync now"); while a sync runs it reads "Show sync progress". */
  children?: ReactNode;
}

/**
 * Starts a sync and opens its progress view. While one runs it reads "Show sync progress" and a
 * press opens that sync's progress instead of starting another (the rule is the core's
 * `ProgressView.startOrShow`). `onClick` runs first; `event.preventDefault()` skips the default.
 */
export function SyncButton({
  source,
  accountId,
  mode,
  onStarted,
  onClick,
  children,
  ...rest
}: SyncButtonProps) {
  const sync = useSyncJob({ source, accountId });
  const view = useSyncClient().progressView({ source, accountId });
  const showing = sync.isRunning && !sync.isStale;
  const handleClick = (event: MouseEvent<HTMLButtonElement>) => {
    if (rest['aria-disabled'] === true || rest['aria-disabled'] === 'true') return;
    onClick?.(event);
    if (event.defaultPrevented) return;
    void view.startOrShow({ mode }).then((press) => {
      if (press.action === 'start') onStarted?.(press.result);
    });
  };
  return (
    <button
      type="button"
      className="sj-button sj-sync-button"
      data-variant={showing ? 'secondary' : 'primary'}
      data-state={sync.status ?? 'none'}
      {...rest}
      onClick={handleClick}
    >
      {showing || children === undefined ? syncButtonLabel(sync.job, sync.isStale) : children}
    </button>
  );
}
