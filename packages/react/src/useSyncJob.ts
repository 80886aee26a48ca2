import type { SyncJobResult } from '@syncjob/core/client';
import { SyncJobObserver } from '@syncjob/core/client';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { useSyncClient } from './SyncProvider';

export interface UseSyncJobOptions {
  /** The source id, e.g. `gmail`. Required. */
  source: string;
  /** The account (mailbox) whose sync to show. Required. */
  accountId: string;
  /** When `false` nothing is fetched or subscribed; turning it on connects (default `true`). */
  enabled?: boolean;
  /** Least time between two renders caused by sync events, in ms (default 100). */
  notifyIntervalMs?: number;
}

export type UseSyncJobResult = SyncJobResult;

/**
 * The account's sync, live: on mount it reattaches to the active job (a refresh, another tab or
 * device), else shows the latest job. Every rule lives in the core's `SyncJobObserver`; this hook
 * only binds it (created once, options synced in an effect).
 */
export function useSyncJob(options: UseSyncJobOptions): UseSyncJobResult {
  const client = useSyncClient();
  const [observer] = useState(() => new SyncJobObserver(client, options));
  const { source, accountId, enabled, notifyIntervalMs } = options;
  useEffect(() => {
    observer.setOptions({ source, accountId, enabled, notifyIntervalMs });
  }, [observer, source, accountId, enabled, notifyIntervalMs]);
  return useSyncExternalStore(observer.subscribe, observer.getSnapshot, observer.getServerSnapshot);
}
