import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SyncEngine } from '../../engine/engineTypes';
import { toNodeHandler } from '../../http/nodeAdapter';
import { createSyncHandler } from '../../http/syncHandler';

export interface ServedEngine {
  baseUrl: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves an engine's HTTP API on a loopback port, through the Node adapter. */
export async function serveEngine(
  engine: SyncEngine,
  options: { keepAliveMs?: number; pollIntervalMs?: number; maxStreamMs?: number } = {},
): Promise<ServedEngine> {
  const handler = createSyncHandler(engine, {
    basePath: '/api/sync',
    authenticate: (request) => request.headers.get('authorization') ?? 'anonymous',
    authorizeAccount: () => true,
    ...options,
  });
  const server = createServer(toNodeHandler(handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/sync`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A `fetch` that records every request, so a test can assert when the network goes quiet. */
export function countingFetch(inner: typeof fetch = fetch) {
  const requests: string[] = [];
  const wrapped: typeof fetch = (input, init) => {
    requests.push(`${init?.method ?? 'GET'} ${String(input)}`);
    return inner(input, init);
  };
  return { fetch: wrapped, requests };
}

/**
 * A `fetch` whose event streams are cut after `afterChunks` chunks, for the first `kills`
 * connections: the connection drops like a flaky network or a proxy timeout would.
 */
export function flakyStreamFetch(kills: number, afterChunks: number, inner: typeof fetch = fetch) {
  let remaining = kills;
  let killed = 0;
  const wrapped: typeof fetch = async (input, init) => {
    const response = await inner(input, init);
    if (!String(input).endsWith('/events') || remaining <= 0 || !response.body) return response;
    remaining--;
    const source = response.body.getReader();
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (chunks++ >= afterChunks) {
          killed++;
          await source.cancel();
          controller.error(new TypeError('terminated'));
          return;
        }
        const { done, value } = await source.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: () => source.cancel(),
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return {
    fetch: wrapped,
    get killed() {
      return killed;
    },
  };
}

export const waitFor = async (predicate: () => boolean, timeoutMs = 10_000) => {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error('Timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
