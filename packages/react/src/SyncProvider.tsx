import type { SyncClient } from '@syncjob/core/client';
import { createContext, type ReactNode, useContext } from 'react';

const SyncClientContext = createContext<SyncClient | null>(null);

export interface SyncProviderProps {
  /**
   * The client every hook and component below uses (`createSyncClient({ transport })`). Required.
   * Create it once (module scope or `useState`): a new client is a new set of connections.
   */
  client: SyncClient;
  children?: ReactNode;
}

/** Makes a `SyncClient` available to `useSyncJob` and the components below it. */
export function SyncProvider({ client, children }: SyncProviderProps) {
  return <SyncClientContext.Provider value={client}>{children}</SyncClientContext.Provider>;
}

/** The provider's client; throws a clear error when there is no `<SyncProvider>` above. */
export function useSyncClient(): SyncClient {
  const client = useContext(SyncClientContext);
  if (!client) {
    throw new Error('useSyncClient: no SyncClient found. Wrap your app in <SyncProvider client={…}>.');
  }
  return client;
}
