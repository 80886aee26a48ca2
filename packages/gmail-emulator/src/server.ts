import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GmailEmulator, type GmailEmulatorOptions } from './gmailEmulator.js';
import { bytesBeforeDrop, dropStageOf } from './http/droppedConnection.js';

export interface StartGmailEmulatorOptions extends GmailEmulatorOptions {
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Serve this emulator instead of creating one from the other options. */
  emulator?: GmailEmulator;
}

export interface RunningGmailEmulator {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8085`; Google's Gmail client wants `url + '/'` as `rootUrl`. */
  url: string;
  port: number;
  /** The state and admin methods, in-process. */
  emulator: GmailEmulator;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

async function toRequest(incoming: IncomingMessage, origin: string): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const method = incoming.method ?? 'GET';
  let body: Buffer | undefined;
  if (method !== 'GET' && method !== 'HEAD') {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    body = Buffer.concat(chunks);
  }
  return new Request(new URL(incoming.url ?? '/', origin), { method, headers, body: body ?? null });
}

async function send(response: Response, outgoing: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const stage = dropStageOf(response);
  if (stage) {
    // The response promises the full length, sends less, then the socket dies: what a client
    // sees when a connection to Google breaks mid-answer.
    const partial = await bytesBeforeDrop(response);
    outgoing.writeHead(response.status, headers);
    outgoing.flushHeaders();
    const destroy = () => outgoing.socket?.destroy();
    if (partial.length > 0) outgoing.write(partial, () => setImmediate(destroy));
    else setImmediate(destroy);
    return;
  }
  const body = Buffer.from(await response.arrayBuffer());
  headers['content-length'] = String(body.length);
  outgoing.writeHead(response.status, headers);
  outgoing.end(body);
}

/** Serves the emulator's Fetch handler from `node:http`. */
export async function startGmailEmulator(
  options: StartGmailEmulatorOptions = {},
): Promise<RunningGmailEmulator> {
  const emulator = options.emulator ?? new GmailEmulator(options);
  const host = options.host ?? '127.0.0.1';
  let origin = `http://${host}`;
  const server = createServer((incoming, outgoing) => {
    toRequest(incoming, origin)
      .then((request) => emulator.handle(request))
      .then((response) => send(response, outgoing))
      .catch(() => outgoing.socket?.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  origin = `http://${urlHost}:${port}`;
  return {
    url: origin,
    port,
    emulator,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
