import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SyncButton, SyncProgressModal, SyncProvider, SyncStatus } from '../../src/index';

const client = createSyncClient({
  transport: sseTransport({ baseUrl: '/api/sync', reconnect: { initialDelayMs: 100, maxDelayMs: 500 } }),
});
const account = { source: 'test', accountId: 'alice@example.com' };

function App() {
  const [open, setOpen] = useState(false);
  return (
    <main>
      <h1>Mailbox</h1>
      <SyncButton {...account} onClick={() => setOpen(true)} />
      <p>
        <SyncStatus {...account} />
      </p>
      <SyncProgressModal {...account} open={open} onClose={() => setOpen(false)} />
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
