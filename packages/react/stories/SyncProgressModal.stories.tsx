import type { Meta, StoryObj } from '@storybook/react-vite';
import { createSyncClient, type Job, sseTransport } from '@syncjob/core/client';
import { useEffect, useState } from 'react';
import { SyncButton, SyncProgressModal, SyncProvider, SyncStatus } from '../src/index';
import { jobFixture, logLine } from '../test/scriptedTransport';
import { liveApi } from './liveApi';
import { ACCOUNT, BASE, scenarioApi } from './mockApi';

interface DemoProps {
  /** Start a sync when the story opens (the live story). */
  autoStart?: boolean;
  theme?: 'light' | 'dark';
}

/** The page of an app: the button, the status line and the modal, over the HTTP API that msw answers. */
function Demo({ autoStart = false, theme }: DemoProps) {
  const [client] = useState(() =>
    createSyncClient({
      transport: sseTransport({
        baseUrl: BASE,
        fallbackAfterFailures: 1_000,
        reconnect: { initialDelayMs: 2_000 },
      }),
    }),
  );
  const [open, setOpen] = useState(true);
  useEffect(() => {
    if (autoStart) void client.start(ACCOUNT);
  }, [autoStart, client]);
  return (
    <SyncProvider client={client}>
      <div style={{ padding: 24, display: 'flex', gap: 16, alignItems: 'center', fontFamily: 'system-ui' }}>
        <SyncButton {...ACCOUNT} onClick={() => setOpen(true)} />
        <SyncStatus {...ACCOUNT} />
      </div>
      <SyncProgressModal {...ACCOUNT} open={open} onClose={() => setOpen(false)} theme={theme} />
    </SyncProvider>
  );
}

const meta = {
  title: 'SyncProgressModal',
  component: Demo,
} satisfies Meta<typeof Demo>;

export default meta;
type Story = StoryObj<typeof meta>;

const job = (patch: Partial<Job>) =>
  jobFixture({ source: ACCOUNT.source, accountId: ACCOUNT.accountId, ...patch });
const counters = jobFixture().counters;
const finished = { finishedAt: new Date(Date.parse(jobFixture().startedAt!) + 4 * 60_000).toISOString() };
const someLogs = (of: Job, count: number) =>
  Array.from({ length: count }, (_, i) => logLine(of, i + 1, i % 17 === 16 ? 'warn' : 'info'));

const queued = job({
  status: 'queued',
  phase: null,
  percent: null,
  ratePerSec: null,
  etaSeconds: null,
  counters: { ...counters, total: null, listed: 0, fetched: 0, stored: 0 },
});
export const Starting: Story = { parameters: { api: scenarioApi({ job: queued }) } };

const unknownTotal = job({
  phase: 'listing',
  percent: null,
  etaSeconds: null,
  currentItem: 'page 12',
  counters: { ...counters, total: null, listed: 2_400, fetched: 0, stored: 0 },
});
export const UnknownTotal: Story = {
  parameters: { api: scenarioApi({ job: unknownTotal, logs: someLogs(unknownTotal, 12) }) },
};

const running = job({ categoryCounts: { primary: 9_100, promotions: 2_210, social: 1_030 } });
export const RunningWithEta: Story = {
  parameters: { api: scenarioApi({ job: running, logs: someLogs(running, 40) }) },
};

/** Held back by the Cloud project's shared quota: the modal says so and when it resumes; the ETA includes the wait. */
const waitingForQuota = job({
  waiting: { for: 'project-quota', until: new Date(Date.now() + 40 * 60_000).toISOString() },
  etaSeconds: 40 * 60 + 4_320,
});
export const WaitingForQuota: Story = {
  parameters: { api: scenarioApi({ job: waitingForQuota, logs: someLogs(waitingForQuota, 20) }) },
};

/** The project's daily budget is spent: the job resumes on its own when the budget's day turns. */
const nextUtcMidnight = new Date(new Date().setUTCHours(24, 0, 0, 0));
const waitingForDailyQuota = job({
  waiting: { for: 'project-daily-quota', until: nextUtcMidnight.toISOString() },
  etaSeconds: Math.round((nextUtcMidnight.getTime() - Date.now()) / 1000) + 4_320,
});
export const WaitingForDailyQuota: Story = {
  parameters: { api: scenarioApi({ job: waitingForDailyQuota, logs: someLogs(waitingForDailyQuota, 20) }) },
};

export const TenThousandLogLines: Story = {
  parameters: { api: scenarioApi({ job: running, logs: someLogs(running, 10_000) }) },
};

const completed = job({
  status: 'completed',
  phase: null,
  percent: 100,
  etaSeconds: null,
  ...finished,
  counters: { ...counters, fetched: 44_000, stored: 43_800, skipped: 200 },
  categoryCounts: { primary: 30_000, promotions: 10_000, social: 4_000 },
});
export const Completed: Story = { parameters: { api: scenarioApi({ job: completed }) } };

const failed = job({
  status: 'failed',
  phase: null,
  ...finished,
  error: {
    code: 'REAUTH_REQUIRED',
    message: 'Gmail no longer accepts the saved sign-in. Reconnect the account.',
    retryable: false,
  },
});
export const Failed: Story = { parameters: { api: scenarioApi({ job: failed }) } };

const cancelled = job({ status: 'cancelled', phase: null, ...finished });
export const Cancelled: Story = { parameters: { api: scenarioApi({ job: cancelled }) } };

const interrupted = job({
  status: 'interrupted',
  phase: null,
  ...finished,
  error: {
    code: 'LEASE_EXPIRED',
    message: 'The worker running this sync stopped responding.',
    retryable: true,
  },
});
export const Interrupted: Story = { parameters: { api: scenarioApi({ job: interrupted }) } };

export const Reconnecting: Story = {
  parameters: { api: scenarioApi({ job: running, streamDown: true }) },
};

export const Dark: Story = {
  args: { theme: 'dark' },
  parameters: { api: scenarioApi({ job: running, logs: someLogs(running, 40) }) },
};

/** A real engine in the page streams a simulated 6,000-message sync through the real HTTP handler. */
export const Live: Story = {
  args: { autoStart: true },
  parameters: { api: liveApi },
};
