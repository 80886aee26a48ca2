import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SyncButton, SyncProgressModal, SyncProvider, SyncStatus } from '../../src/index';

const client = createSyncClient({
  transport: sseTransport({ baseUrl: '/api/sync', reconnect: { initialDelayMs: 100, maxDelayMs: 500 } }),
});
const account = { source: 'test', accountId: 'alice@example.com' };

/** The README's drop-in: no state, no effect; the kit opens the modal on reattach and on a press. */
function App() {
  return (
    <main>
      <h1>Mailbox</h1>
      <SyncButton {...account} />
      <SyncStatus {...account} />
      <SyncProgressModal {...account} />
    </main>
  );
}

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <SyncProvider client={client}>
        <App />
      </SyncProvider>
    </StrictMode>,
  );
}
