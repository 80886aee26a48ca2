import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSyncClient } from '@syncjob/core/client';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { legacyRoutesTransport } from '../../../examples/custom-backend/legacyRoutesTransport';
import { SyncButton } from '../src/SyncButton';
import { SyncProgressModal } from '../src/SyncProgressModal/SyncProgressModal';
import { SyncProvider } from '../src/SyncProvider';

/**
 * An existing backend with its own routes and field names (README "Bring your own backend"):
 * POST /gmail/sync/start → { jobId }, GET /gmail/sync/status → { jobId, status },
 * GET /gmail/sync/progress/{jobId}, GET /gmail/sync/logs/{jobId}?after_seq=. The test moves its job on.
 */
function legacyServer() {
  const at = () => new Date().toISOString();
  let job: {
    jobId: string;
    status: string;
    total: number;
    processed: number;
    startedAt: string;
    updatedAt: string;
  } | null = null;
  const logs: Array<{ seq: number; ts: string; level: 'info'; text: string }> = [];
  const log = (text: string) => logs.push({ seq: logs.length + 1, ts: at(), level: 'info', text });
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://legacy');
    const send = (status: number, body: unknown) =>
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.method === 'POST' && url.pathname === '/gmail/sync/start') {
      if (!job || ['done', 'error', 'cancelled'].includes(job.status)) {
        job = {
          jobId: crypto.randomUUID(),
          status: 'running',
          total: 100,
          processed: 0,
          startedAt: at(),
          updatedAt: at(),
        };
        log('Sync started: 100 messages.');
      }
      return send(200, { jobId: job.jobId });
    }
    if (url.pathname === '/gmail/sync/status')
      return send(200, { jobId: job?.jobId ?? null, status: job?.status ?? 'idle' });
    const match = /^\/gmail\/sync\/(progress|logs)\/([^/]+)$/.exec(url.pathname);
    if (!match || !job || match[2] !== job.jobId) return send(404, { detail: 'not found' });
    if (match[1] === 'progress') return send(200, job);
    const after = Number(url.searchParams.get('after_seq') ?? 0);
    return send(200, { logs: logs.filter((entry) => entry.seq > after) });
  });
  return {
    server,
    advance(processed: number) {
      if (!job) throw new Error('no job');
      job = { ...job, processed, updatedAt: at(), status: processed >= job.total ? 'done' : 'running' };
      log(
        processed >= job.total
          ? `Sync complete: ${processed} messages.`
          : `Stored ${processed} of 100 messages.`,
      );
    },
  };
}

const ACCOUNT = { source: 'gmail', accountId: 'me@example.com' };

function App() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <SyncButton {...ACCOUNT} onClick={() => setOpen(true)} />
      <SyncProgressModal {...ACCOUNT} open={open} onClose={() => setOpen(false)} />
    </>
  );
}

let close: (() => void) | undefined;
afterEach(() => close?.());

describe('a custom SyncTransport for a backend with its own routes', () => {
  it("drives the unmodified modal: the server's progress, logs and completion", async () => {
    const legacy = legacyServer();
    await new Promise<void>((resolve) => legacy.server.listen(0, '127.0.0.1', resolve));
    close = () => legacy.server.close();
    const { port } = legacy.server.address() as AddressInfo;
    const transport = legacyRoutesTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      accountId: ACCOUNT.accountId,
      intervalMs: 30,
    });
    const client = createSyncClient({ transport });
    const user = userEvent.setup();
    render(
      <SyncProvider client={client}>
        <App />
      </SyncProvider>,
    );
    await user.click(await screen.findByRole('button', { name: 'Sync now' }));
    const dialog = () => screen.getByRole('dialog');
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Syncing…'));

    legacy.advance(30);
    await waitFor(() =>
      expect(within(dialog()).getByRole('progressbar')).toHaveAttribute(
        'aria-valuetext',
        expect.stringContaining('30 of 100'),
      ),
    );
    await waitFor(() => expect(within(dialog()).getByText('Stored 30 of 100 messages.')).toBeInTheDocument());

    legacy.advance(100);
    await waitFor(() => expect(dialog()).toHaveAccessibleName('Sync complete'), { timeout: 5_000 });
    expect(within(dialog()).getByRole('progressbar')).toHaveAttribute(
      'aria-valuetext',
      '100% — 100 of 100 messages',
    );
    expect(within(dialog()).getByText('Sync complete: 100 messages.')).toBeInTheDocument();
    expect(within(dialog()).getByText('Sync started: 100 messages.')).toBeInTheDocument();
  });

  it('is the code the core README shows ("Bring your own backend")', () => {
    const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
    const code = read('../../../examples/custom-backend/legacyRoutesTransport.ts');
    expect(read('../../core/README.md')).toContain(`\`\`\`ts\n${code}\`\`\``);
    expect(code.trimEnd().split('\n').length).toBeLessThanOrEqual(100);
  });
});
