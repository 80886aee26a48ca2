// @vitest-environment node
import { createSyncClient, sseTransport } from '@syncjob/core/client';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { SyncButton } from './SyncButton';
import { SyncProgressModal } from './SyncProgressModal/SyncProgressModal';
import { SyncProvider } from './SyncProvider';
import { SyncStatus } from './SyncStatus';

describe('server rendering', () => {
  it('renders without a window and without any request', () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined');
    const requests: string[] = [];
    const client = createSyncClient({
      transport: sseTransport({
        baseUrl: 'http://app.test/api/sync',
        fetch: async (input) => {
          requests.push(String(input));
          return new Response('{}');
        },
      }),
    });
    const account = { source: 'gmail', accountId: 'alice@example.com' };
    const html = renderToString(
      <SyncProvider client={client}>
        <SyncButton {...account} />
        <SyncStatus {...account} />
        <SyncProgressModal {...account} open={false} onClose={() => {}} />
        <SyncProgressModal {...account} />
      </SyncProvider>,
    );
    expect(html).toContain('Sync now');
    expect(html).toContain('Never synced');
    expect(html).toContain('<dialog');
    expect(requests).toEqual([]);
  });
});
