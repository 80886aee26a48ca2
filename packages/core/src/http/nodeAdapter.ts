import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { SyncLogger } from '../logger';
import { describeError } from '../logger';
import { errorResponse, HttpError } from './httpError';
import { isJsonContentType } from './requestOrigin';

/** A Node `http` / Express / Connect middleware. `next` is called for paths outside the handler's base path. */
export type NodeHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  next?: (error?: unknown) => void,
) => Promise<void>;

/** The Fetch-API handler shape `toNodeHandler` accepts (a `SyncHandler` fits). */
export interface FetchHandler {
  (request: Request): Promise<Response>;
  /** When set, requests outside this path go to `next` (or get a 404 when there is none). */
  readonly basePath?: string;
}

export interface NodeHandlerOptions {
  /**
   * Origin used to build the request URL (default: `http://` + the `Host` header). Only the path
   * and query are routed on, so this matters to handlers that read `request.url`'s host.
   */
  origin?: string;
  /**
   * Where a failure of the adapter itself (answered 500, or a stream cut mid-way) is reported.
   * The handler's own 5xx answers are reported by the handler's `logger`. Default: `console`.
   */
  logger?: SyncLogger;
}

/** Express (and Connect) keep the mounted prefix here and strip it from `url`. */
type ExpressRequest = IncomingMessage & { originalUrl?: string; body?: unknown };

/**
 * Serves a Fetch-API handler from Node's `http` or Express. Answers are streamed chunk by chunk
 * (SSE is never buffered), and a client that disconnects aborts `request.signal` and cancels the
 * answer's stream, so its SSE subscription stops at once.
 */
export function toNodeHandler(handler: FetchHandler, options: NodeHandlerOptions = {}): NodeHandler {
  return async (req, res, next) => {
    const nodeRequest = req as ExpressRequest;
    const path = nodeRequest.originalUrl ?? req.url ?? '/';
    const basePath = handler.basePath ?? '';
    const pathname = path.split('?')[0] ?? '/';
    if (next && basePath !== '' && pathname !== basePath && !pathname.startsWith(`${basePath}/`)) {
      next();
      return;
    }
    const abort = new AbortController();
    // `close` on the response fires when the answer is done or the client went away; only the
    // latter needs an abort.
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    try {
      const request = toFetchRequest(nodeRequest, path, abort.signal, options);
      const response = request ? await handler(request) : errorResponse(parsedFormBody());
      await writeResponse(response, res, abort.signal);
    } catch (cause) {
      (options.logger ?? console).error(
        `[syncjob/http] ${req.method ?? 'GET'} ${pathname} failed in the Node adapter. Cause: ${describeError(cause, { stack: true })}`,
      );
      if (!res.headersSent) {
        await writeResponse(
          errorResponse(new HttpError(500, 'INTERNAL', 'An unexpected error occurred.')),
          res,
          abort.signal,
        );
      } else {
        res.destroy();
      }
    }
  };
}

const parsedFormBody = () =>
  new HttpError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    'Send the request body as JSON with "Content-Type: application/json" (or send no body).',
  );

/** The Fetch request of a Node request; `null` for a non-JSON body a body parser already consumed. */
function toFetchRequest(
  req: ExpressRequest,
  path: string,
  signal: AbortSignal,
  options: NodeHandlerOptions,
): Request | null {
  const origin = options.origin ?? `http://${req.headers.host ?? 'localhost'}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':')) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal };
  if (method !== 'GET' && method !== 'HEAD') {
    if (req.body !== undefined && req.readableEnded) {
      // A body parser ran first (e.g. `express.json()`): the stream is spent, re-serialise. Only a
      // JSON body: re-encoding what `urlencoded()` parsed as JSON would let a plain cross-site
      // <form> through the handler's content-type check.
      if (!isJsonContentType(req.headers['content-type'])) return null;
      init.body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      headers.delete('content-length');
    } else {
      init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
      init.duplex = 'half';
    }
  }
  return new Request(new URL(path, origin), init);
}

async function writeResponse(response: Response, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  // Send the headers now: an SSE client must see the stream open before the first event.
  res.flushHeaders();
  const reader = response.body.getReader();
  const onAbort = () => {
    void reader.cancel().catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  // Rejects when the body fails, e.g. an SSE stream dropping a client that stopped reading.
  const failed = reader.closed.then(
    () => false,
    () => true,
  );
  let broken = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal.aborted) break;
      if (!res.write(value)) broken = await waitForDrain(res, signal, failed);
      if (broken) break;
    }
  } catch {
    // The client went away or the body failed mid-way: nothing more can be sent.
    broken = true;
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (signal.aborted) await reader.cancel().catch(() => undefined);
    // A body that failed mid-way is cut off (the client sees a broken stream and reconnects): a
    // polite end would wait for a client that does not read, holding the socket and its buffer.
    if (broken && !signal.aborted) res.destroy();
    else if (!res.writableEnded) res.end();
  }
}

/** Resolves when the socket drained or the client went away (false), or when the body failed (true). */
function waitForDrain(res: ServerResponse, signal: AbortSignal, failed: Promise<boolean>): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: boolean) => {
      if (settled) return;
      settled = true;
      res.off('drain', onDrain);
      signal.removeEventListener('abort', onDrain);
      resolve(value);
    };
    const onDrain = () => done(false);
    res.once('drain', onDrain);
    signal.addEventListener('abort', onDrain, { once: true });
    void failed.then((isFailed) => {
      if (isFailed) done(true);
    });
  });
}
