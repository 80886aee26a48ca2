import type { AccountKey, ProgressViewSnapshot } from '@syncjob/core/client';
import { useCallback, useSyncExternalStore } from 'react';
import { useSyncClient } from './SyncProvider';

export interface UseProgressViewOptions extends AccountKey {
  /** When `false` the hook neither follows the account nor opens anything: `open` stays `false` (default `true`). */
  enabled?: boolean;
}

export interface UseProgressViewResult {
  /** The account's progress view (modal) is open. */
  open: boolean;
  /** Opens it on the account's current job. */
  show(): void;
  /** Closes it (the sync continues); it stays closed until `show()` or a new job. */
  hide(): void;
}

const CLOSED: ProgressViewSnapshot = Object.freeze({ open: false });
const noSubscription = () => () => {};
const closed = () => CLOSED;

/**
 * Whether the account's progress view is open, shared by `SyncButton` and every uncontrolled
 * `SyncProgressModal` of the provider's client. The rule (it opens when a page load finds a running
 * job, stays closed once closed) lives in the core's `ProgressView`; this hook only binds it.
 */
export function useProgressView({
  source,
  accountId,
  enabled = true,
}: UseProgressViewOptions): UseProgressViewResult {
  const view = useSyncClient().progressView({ source, accountId });
  const subscribe = useCallback(
    (listener: () => void) => (enabled ? view.subscribe(listener) : noSubscription()),
    [view, enabled],
  );
  const { open } = useSyncExternalStore(
    subscribe,
    enabled ? view.getSnapshot : closed,
    view.getServerSnapshot,
  );
  return { open, show: view.show, hide: view.hide };
}
