import { type RequestedSyncMode, type StartResult, syncButtonLabel } from '@syncjob/core/client';
import type { ButtonHTMLAttributes, MouseEvent, ReactNode } from 'react';
import { useSyncJob } from './useSyncJob';

export interface SyncButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'children'> {
  /** The source id, e.g. `gmail`. Required. */
  source: string;
  /** The account to sync. Required. */
  accountId: string;
  /** Sync mode to request (default `auto`: incremental when the account has a cursor). */
  mode?: RequestedSyncMode;
  /** Called with the start answer (default: none). `null` when starting failed (see `useSyncJob().error`). */
  onStarted?(result: StartResult | null): void;
  /** Label when idle (default "Sync now"); while running it reads "Sync in progress…". */
  children?: ReactNode;
}

/**
 * Starts a sync. While one runs it is disabled and reads "Sync in progress…"; it uses
 * `aria-disabled` rather than `disabled` so it keeps focus, and a modal closing can give focus back.
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
  const running = sync.isRunning;
  const handleClick = (event: MouseEvent<HTMLButtonElement>) => {
    if (running || rest['aria-disabled'] === true) return;
    onClick?.(event);
    if (event.defaultPrevented) return;
    void sync.start({ mode }).then((result) => onStarted?.(result));
  };
  return (
    <button
      type="button"
      className="sj-button sj-sync-button"
      data-variant="primary"
      data-state={sync.status ?? 'none'}
      {...rest}
      aria-disabled={running || rest['aria-disabled'] || undefined}
      onClick={handleClick}
    >
      {running || children === undefined ? syncButtonLabel(sync.job) : children}
    </button>
  );
}
