import { SyncError } from '@syncjob/core';
import { createSyncClient, engineTransport } from '@syncjob/core/client';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Profiler, StrictMode, useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { jobFixture, logLine, scriptedTransport } from '../../test/scriptedTransport';
import { ACCOUNT, createSyncFixture, type SyncFixture } from '../../test/syncFixture';
import { SyncButton } from '../SyncButton';
import { SyncProvider } from '../SyncProvider';
import { SyncStatus } from '../SyncStatus';
import { SyncProgressModal } from './SyncProgressModal';

let fixture: SyncFixture | undefined;

afterEach(async () => {
  vi.useRealTimers();
  fixture?.source.control.release();
  await fixture?.stop();
  fixture = undefined;
});

/** The three moves of the README: no state, no effect; the kit opens and closes the modal. */
function App({ onComplete }: { onComplete?: () => void }) {
  return (
    <>
      <SyncButton {...ACCOUNT} />
      <SyncStatus {...ACCOUNT} />
      <SyncProgressModal {...ACCOUNT} onComplete={onComplete} />
    </>
  );
}

/** An app that manages the dialog itself (controlled mode). */
function ControlledApp({ onClose }: { onClose?: () => void }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <SyncButton {...ACCOUNT} onClick={() => setOpen(true)} />
      <SyncProgressModal
        {...ACCOUNT}
        open={open}
        onClose={() => {
          onClose?.();
          setOpen(false);
        }}
      />
    </>
  );
}

const dialog = () => screen.getByRole('dialog', { hidden: false });

describe('<SyncProgressModal>', () => {
  it('starts from the button, shows the sync running, then announces completion once', async () => {
    fixture = createSyncFixture({ delayMs: 5 });
    fixture.source.control.hang();
    const onComplete = vi.fn();
    const user = userEvent.setup();
    render(<App onComplete={onComplete} />, { wrapper: fixture.wrapper });
    const button = await screen.findByRole('button', { name: 'Sync now' });
    await user.click(button);

    expect(dialog()).toHaveAccessibleName('Syncing…');
    expect(dialog()).toContainElement(document.activeElement as HTMLElement);
    await waitFor(() => expect(button).toHaveTextContent('Show sync progress'));
    expect(button).not.toHaveAttribute('aria-disabled');
    expect(document.querySelector('.sj-status')).toHaveTextContent(/^(Starting sync…|Syncing…)/);
    expect(within(dialog()).getAllByRole('button', { name: 'Close (sync continues)' })).toHaveLength(2);

    fixture.source.control.release();
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Sync complete'), { timeout: 5_000 });
    const bar = within(dialog()).getByRole('progressbar');
    expect(bar).toHaveAttribute('aria-valuenow', '100');
    expect(bar).toHaveAttribute('aria-valuetext', '100% — 40 of 40 messages');
    expect(within(dialog()).getByRole('status')).toHaveTextContent(/^Sync complete\. 40 messages synced/);
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(screen.getByText(/^Last synced just now$/)).toBeInTheDocument();
    expect(button).toHaveTextContent('Sync now');
  });

  it('closes on Escape while the sync continues, and gives focus back to the button', async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    const user = userEvent.setup();
    render(<App />, { wrapper: fixture.wrapper });
    const button = await screen.findByRole('button', { name: 'Sync now' });
    await user.click(button);
    expect(dialog()).toHaveAttribute('open');
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(button).toHaveFocus();
    const active = await fixture.engine.getActiveJob(ACCOUNT);
    expect(active?.status).toBe('running');
  });

  it('opens by itself when the page loads (or reloads) during a sync, and a second tab joins it', async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    const { job } = await fixture.engine.start(ACCOUNT);
    await fixture.source.control.whenHanging();
    render(
      <StrictMode>
        <App />
      </StrictMode>,
      { wrapper: fixture.wrapper },
    );
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Syncing…'));
    expect(screen.getByRole('button', { name: 'Show sync progress' })).not.toHaveAttribute('aria-disabled');

    // Another tab: its own client, the same server.
    const secondTab = createSyncClient({
      transport: engineTransport(fixture.engine, { pollIntervalMs: 20 }),
    });
    render(
      <SyncProvider client={secondTab}>
        <App />
      </SyncProvider>,
    );
    await waitFor(() => expect(screen.getAllByRole('dialog')).toHaveLength(2));
    expect(await secondTab.getActive(ACCOUNT)).toMatchObject({ id: job.id });
    expect(await fixture.engine.listJobs({ accountId: ACCOUNT.accountId })).toHaveLength(1);
  });

  it('stays closed after a close while the sync goes on, until the button is pressed', async () => {
    fixture = createSyncFixture({ messages: 400, delayMs: 10 });
    const user = userEvent.setup();
    render(<App />, { wrapper: fixture.wrapper });
    await user.click(await screen.findByRole('button', { name: 'Sync now' }));
    expect(dialog()).toHaveAttribute('open');
    const status = document.querySelector('.sj-status') as HTMLElement;
    await waitFor(() => expect(status).toHaveTextContent(/^Syncing… \d+%$/));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    const before = status.textContent;
    await waitFor(() => expect(status.textContent).not.toBe(before), { timeout: 5_000 });
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(screen.queryByRole('dialog')).toBeNull();
    }
    await user.click(screen.getByRole('button', { name: 'Show sync progress' }));
    expect(dialog()).toHaveAccessibleName('Syncing…');
  });

  it('a click while a sync runs opens its progress and starts no second job', async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    const { job } = await fixture.engine.start(ACCOUNT);
    await fixture.source.control.whenHanging();
    const start = vi.spyOn(fixture.engine, 'start');
    const onStarted = vi.fn();
    const user = userEvent.setup();
    render(
      <>
        <SyncButton {...ACCOUNT} onStarted={onStarted} />
        <SyncProgressModal {...ACCOUNT} />
      </>,
      { wrapper: fixture.wrapper },
    );
    await waitFor(() => expect(dialog()).toHaveAttribute('open'));
    await user.keyboard('{Escape}');
    expect(screen.queryByRole('dialog')).toBeNull();
    const button = screen.getByRole('button', { name: 'Show sync progress' });
    await user.click(button);
    expect(dialog()).toHaveAccessibleName('Syncing…');
    expect(start).not.toHaveBeenCalled();
    expect(onStarted).not.toHaveBeenCalled();
    expect(await fixture.engine.listJobs({ accountId: ACCOUNT.accountId })).toHaveLength(1);
    expect((await fixture.engine.getActiveJob(ACCOUNT))?.id).toBe(job.id);
    await user.keyboard('{Escape}');
    expect(button).toHaveFocus();
  });

  it("stays in the app's hands when `open` is passed (controlled)", async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    await fixture.engine.start(ACCOUNT);
    await fixture.source.control.whenHanging();
    const onClose = vi.fn();
    const user = userEvent.setup();
    render(<ControlledApp onClose={onClose} />, { wrapper: fixture.wrapper });
    const button = await screen.findByRole('button', { name: 'Show sync progress' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.queryByRole('dialog')).toBeNull();
    await user.click(button);
    expect(dialog()).toHaveAccessibleName('Syncing…');
    await user.keyboard('{Escape}');
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('lets an app skip the default with preventDefault', async () => {
    fixture = createSyncFixture();
    const start = vi.spyOn(fixture.engine, 'start');
    const user = userEvent.setup();
    render(
      <>
        <SyncButton {...ACCOUNT} onClick={(event) => event.preventDefault()} />
        <SyncProgressModal {...ACCOUNT} />
      </>,
      { wrapper: fixture.wrapper },
    );
    await user.click(await screen.findByRole('button', { name: 'Sync now' }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(start).not.toHaveBeenCalled();
    expect(screen.queryByRole('dialog')).toBeNull();
  });

  it('cancels only after a confirmation', async () => {
    fixture = createSyncFixture();
    fixture.source.control.hang();
    const user = userEvent.setup();
    render(<App />, { wrapper: fixture.wrapper });
    await user.click(await screen.findByRole('button', { name: 'Sync now' }));
    await fixture.source.control.whenHanging();
    await user.click(await within(dialog()).findByRole('button', { name: 'Cancel sync' }));
    expect(within(dialog()).getByRole('button', { name: 'Keep syncing' })).toHaveFocus();
    await user.click(within(dialog()).getByRole('button', { name: 'Keep syncing' }));
    expect((await fixture.engine.getActiveJob(ACCOUNT))?.cancelRequested).toBe(false);

    await user.click(within(dialog()).getByRole('button', { name: 'Cancel sync' }));
    await user.click(within(dialog()).getByRole('button', { name: 'Stop sync' }));
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Sync cancelled'));
    expect(within(dialog()).queryByRole('button', { name: 'Retry' })).toBeNull();
  });

  it('shows the error of a failed sync and retries it to completion', async () => {
    fixture = createSyncFixture();
    fixture.source.control.failNext(
      new SyncError('REAUTH_REQUIRED', 'Gmail refused the token.', { retryable: false }),
    );
    const user = userEvent.setup();
    render(<App />, { wrapper: fixture.wrapper });
    await user.click(await screen.findByRole('button', { name: 'Sync now' }));
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Sync failed'));
    expect(within(dialog()).getByText('Gmail refused the token.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Sync failed — retry' })).toBeInTheDocument();
    await user.click(within(dialog()).getByRole('button', { name: 'Retry' }));
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Sync complete'), { timeout: 5_000 });
  });

  it('says what a job held back by quota waits for, with an ETA that includes the wait, until work resumes', async () => {
    const waitingJob = jobFixture({
      // 40 minutes minus a little: the text rounds, and the test takes some milliseconds.
      waiting: { for: 'project-quota', until: new Date(Date.now() + 40 * 60_000 - 5_000).toISOString() },
      etaSeconds: 40 * 60 + 4_320,
    });
    const script = scriptedTransport(waitingJob);
    const client = createSyncClient({ transport: script.transport });
    render(
      <SyncProvider client={client}>
        <SyncProgressModal {...ACCOUNT} open onClose={() => {}} />
      </SyncProvider>,
    );
    expect(
      await within(dialog()).findByText('Waiting for Gmail quota — resumes in about 40 min'),
    ).toBeInTheDocument();
    expect(within(dialog()).getByText('1 h 52 min')).toBeInTheDocument();
    // The next batch clears the wait: the modal says what the job does again.
    const resumed = { ...waitingJob, waiting: null, etaSeconds: 4_300, updatedAt: new Date().toISOString() };
    act(() => script.emit({ type: 'progress', jobId: resumed.id, progress: resumed }));
    expect(await within(dialog()).findByText('Fetching messages')).toBeInTheDocument();
    expect(within(dialog()).queryByText(/Waiting for Gmail quota/)).not.toBeInTheDocument();
  });

  it('shows an indeterminate bar without aria-valuenow while the total is unknown', async () => {
    const job = jobFixture({
      percent: null,
      counters: { ...jobFixture().counters, total: null },
      etaSeconds: null,
    });
    const client = createSyncClient({ transport: scriptedTransport(job).transport });
    render(
      <SyncProvider client={client}>
        <SyncProgressModal {...ACCOUNT} open onClose={() => {}} />
      </SyncProvider>,
    );
    const bar = await within(dialog()).findByRole('progressbar');
    await waitFor(() =>
      expect(bar).toHaveAttribute('aria-valuetext', '12,340 messages, total not known yet'),
    );
    expect(bar).not.toHaveAttribute('aria-valuenow');
    expect(within(dialog()).getByText('Calculating…')).toBeInTheDocument();
    expect(within(dialog()).getByText('Counting…')).toBeInTheDocument();
  });

  it('renders a capped window of 10,000 log lines, and pauses auto-scroll when scrolled up', async () => {
    const job = jobFixture({ categoryCounts: { work: 10, news: 3 } });
    const logs = Array.from({ length: 10_000 }, (_, i) =>
      logLine(job, i + 1, i % 97 === 0 ? 'warn' : 'info'),
    );
    const client = createSyncClient({ transport: scriptedTransport(job, logs).transport });
    const user = userEvent.setup();
    render(
      <SyncProvider client={client}>
        <SyncProgressModal {...ACCOUNT} open onClose={() => {}} />
      </SyncProvider>,
    );
    const log = await within(dialog()).findByRole('log');
    await waitFor(() => expect(within(log).getByText('9,500 earlier lines not shown')).toBeInTheDocument());
    expect(log.querySelectorAll('li[data-level]')).toHaveLength(500);
    expect(within(dialog()).getByText('10,000 lines')).toBeInTheDocument();
    expect(within(dialog()).getByRole('list', { name: 'Categories' })).toHaveTextContent('work 10news 3');

    const follow = within(dialog()).getByRole('button', { name: 'Auto-scroll' });
    expect(follow).toHaveAttribute('aria-pressed', 'true');
    // jsdom has no layout: give the panel a geometry, then scroll up.
    Object.defineProperty(log, 'scrollHeight', { configurable: true, value: 5_000 });
    Object.defineProperty(log, 'clientHeight', { configurable: true, value: 200 });
    log.scrollTop = 1_000;
    log.dispatchEvent(new Event('scroll'));
    await waitFor(() => expect(follow).toHaveAttribute('aria-pressed', 'false'));
    await user.click(follow);
    expect(follow).toHaveAttribute('aria-pressed', 'true');
    expect(log.scrollTop).toBe(5_000);
  });

  it('commits at most ten times a second under 1,000 events a second for 5 s', async () => {
    vi.useFakeTimers();
    const job = jobFixture({ counters: { ...jobFixture().counters, total: 10_000, stored: 0, fetched: 0 } });
    const scripted = scriptedTransport(job);
    const client = createSyncClient({ transport: scripted.transport });
    const commits: number[] = [];
    render(
      <SyncProvider client={client}>
        <Profiler id="modal" onRender={() => commits.push(Date.now())}>
          <SyncProgressModal {...ACCOUNT} open onClose={() => {}} />
        </Profiler>
      </SyncProvider>,
    );
    await act(() => vi.advanceTimersByTimeAsync(50));
    const start = Date.now();
    commits.length = 0;
    // Ten events every 10 ms: 1,000 a second, with timers (the throttle's) running in between.
    for (let ms = 1; ms <= 5_000; ms++) {
      const updatedAt = new Date(Date.parse(job.updatedAt) + ms * 1_000).toISOString();
      scripted.emit(
        ms % 2 === 0
          ? { type: 'log', jobId: job.id, entry: { ...logLine(job, ms / 2), at: updatedAt } }
          : {
              type: 'progress',
              jobId: job.id,
              progress: {
                ...job,
                counters: { ...job.counters, stored: ms, fetched: ms },
                percent: ms / 100,
                updatedAt,
              },
            },
      );
      if (ms % 10 === 0) await act(() => vi.advanceTimersByTimeAsync(10));
    }
    await act(() => vi.advanceTimersByTimeAsync(200));
    for (let second = 0; second < 5; second++) {
      const inSecond = commits.filter(
        (at) => at >= start + second * 1_000 && at < start + (second + 1) * 1_000,
      );
      expect(inSecond.length).toBeLessThanOrEqual(10);
      expect(inSecond.length).toBeGreaterThan(0);
    }
    expect(within(dialog()).getByRole('progressbar')).toHaveAttribute(
      'aria-valuetext',
      '49% — 4,999 of 10,000 messages',
    );
    expect(within(dialog()).getByText('2,500 lines')).toBeInTheDocument();
  });
});
