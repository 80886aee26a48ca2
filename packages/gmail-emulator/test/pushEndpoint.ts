import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PushBody } from '../src/index.js';

/** One push as the endpoint received it. */
export interface ReceivedPush {
  authorization: string | undefined;
  body: PushBody;
  /** The decoded `message.data`. */
  data: { emailAddress: string; historyId: number | string };
}

/**
 * A real HTTP push endpoint for the tests: records every POST and answers with the next status of
 * `statuses` (204 once they run out), so a test can make Pub/Sub redeliver.
 */
export async function startPushEndpoint(statuses: number[] = []) {
  const received: ReceivedPush[] = [];
  const queue = [...statuses];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as PushBody;
      received.push({
        authorization: request.headers.authorization,
        body,
        data: JSON.parse(Buffer.from(body.message.data, 'base64').toString()),
      });
      response.writeHead(queue.shift() ?? 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
