import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { SyncButton, SyncProgressModal, SyncProvider, SyncStatus, useSyncJob } from '@syncjob/react';
import { useEffect, useState } from 'react';
import { fetchJobs, fetchLatest, fetchSession, fetchSummary, type SessionInfo } from './api.ts';
import { JobHistory } from './JobHistory.tsx';
import { MessagesView } from './MessagesView.tsx';
import { usePolling } from './usePolling.ts';

const number = new Intl.NumberFormat('en-US');

/** One client for the page: one live subscription per job however many components watch it. */
const syncClient = createSyncClient({ transport: sseTransport({ baseUrl: '/api/sync' }) });

/** Loads the session, then shows the sync page for the signed-in account. */
export function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    fetchSession().then(setSession, (caught: unknown) => setError(String(caught)));
  }, []);
  const connectError = new URLSearchParams(window.location.search).get('connect_error');
  return (
    <main>
      <header className="app-header">
        <h1>syncjob · Gmail sync example</h1>
        {session?.accountId && <span className="muted">Signed in as {session.accountId}</span>}
      </header>
      {connectError && <p className="banner-error">Connecting Gmail failed: {connectError}</p>}
      {error && <p className="banner-error">{error}</p>}
      {session && !session.accountId && <ConnectGmail />}
      {session?.accountId && (
        <SyncProvider client={syncClient}>
          <SyncPage session={session} accountId={session.accountId} />
        </SyncProvider>
      )}
    </main>
  );
}

function ConnectGmail() {
  return (
    <section className="panel">
      <h2>Connect a Gmail account</h2>
      <p>The app asks Google for read-only access to your mailbox, then syncs it into its own database.</p>
      <a className="button-link" href="/auth/google">
        Connect Gmail
      </a>
    </section>
  );
}

function SyncPage({ session, accountId }: { session: SessionInfo; accountId: string }) {
  const source = session.source;
  // Only for the page's own tables; the kit opens and closes the progress dialog by itself
  // (a reload or second tab during a sync gets it back, the button shows a running sync).
  const sync = useSyncJob({ source, accountId });
  const running = sync.isRunning;

  // Reload the tables when a job starts or ends, and every few seconds while one runs.
  const refreshKey = `${sync.job?.id ?? ''}:${sync.status ?? ''}`;
  const interval = running ? 3_000 : null;
  const history = usePolling(
    (signal) => fetchJobs(source, accountId, signal),
    refreshKey,
    running ? 2_000 : null,
  );
  const summary = usePolling(fetchSummary, refreshKey, interval);
  const latest = usePolling(fetchLatest, refreshKey, interval);

  return (
    <>
      {session.emulator && (
        <p className="muted">
          Gmail emulator: {number.format(session.emulator.messages)} synthetic messages,{' '}
          {session.emulator.quota} quota at {session.emulator.speed}× speed.
        </p>
      )}
      <section className="panel toolbar" aria-label="Sync">
        <SyncButton source={source} accountId={accountId} />
        <SyncStatus source={source} accountId={accountId} />
      </section>
      <SyncProgressModal source={source} accountId={accountId} />
      <section className="panel">
        <h2>Sync history</h2>
        {history.error && <p className="banner-error">{history.error}</p>}
        <JobHistory jobs={history.data ?? []} />
      </section>
      <section className="panel">
        <h2>Synced messages</h2>
        {summary.error && <p className="banner-error">{summary.error}</p>}
        <MessagesView summary={summary.data} latest={latest.data ?? []} />
      </section>
    </>
  );
}
