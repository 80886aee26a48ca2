import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SyncButton, SyncProgressModal, SyncProvider, useSyncJob } from '../../src/index';

// The unmodified kit against the Python reference backend, proxied at /api/sync on the same origin.
const client = createSyncClient({
  transport: sseTransport({ baseUrl: '/api/sync', reconnect: { initialDelayMs: 100, maxDelayMs: 500 } }),
});
const account = { source: 'gmail', accountId: 'alice@example.com' };

/** What `useSyncJob` holds, as data attributes the test reads (the same in every version of the modal). */
function JobState() {
  const { job, status, percent, logs } = useSyncJob(account);
  return (
    <output
      data-testid="job-state"
      data-job-id={job?.id ?? ''}
      data-status={status ?? ''}
      data-percent={percent ?? ''}
      data-logs={logs.length}
    />
  );
}

function App() {
  const [open, setOpen] = useState(false);
  return (
    <main>
      <h1>Mailbox</h1>
      <SyncButton {...account} onClick={() => setOpen(true)} />
      <JobState />
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
