import { createMemoryStore, createSyncEngine } from '@syncjob/core';
import { createSyncHandler } from '@syncjob/core/http';
import { createTestSource } from '@syncjob/core/testing';
import { describe, expect, it } from 'vitest';
import { type CheckResult, checkServer, formatCheckTable } from './checkServer';

type Handler = (request: Request) => Promise<Response>;
/** A server broken on purpose: the real handler with one rule bent. */
type Break = (request: Request, next: Handler) => Promise<Response>;

/** The real handler on a memory store and a test source whose job lasts a couple of seconds. */
function realServer(): { handler: Handler; stop(): Promise<void> } {
  const source = createTestSource({ id: 'gmail', messages: 60, pageSize: 20, batchSize: 5 });
  source.control.setDelay(150);
  const engine = createSyncEngine({
    store: createMemoryStore(),
    sources: [source],
    pollIntervalMs: 20,
    progress: { emitIntervalMs: 20, writeIntervalMs: 20 },
    retry: { retries: 0 },
  });
  const handler = createSyncHandler(engine, {
    basePath: '/api/sync',
    authenticate: (request) => (request.headers.get('authorization') === 'Bearer checker' ? 'checker' : null),
    authorizeAccount: () => true,
    keepAliveMs: 150,
    pollIntervalMs: 20,
  });
  return {
    handler,
    async stop() {
      source.control.release();
      await engine.stop({ timeoutMs: 1_000 });
    },
  };
}

async function run(broken?: Break): Promise<CheckResult[]> {
  const { handler, stop } = realServer();
  const serve: Handler = broken ? (request) => broken(request, handler) : handler;
  try {
    return await checkServer({
      baseUrl: 'http://server.test/api/sync',
      headers: { authorization: 'Bearer checker' },
      keepAliveTimeoutMs: 1_000,
      jobTimeoutMs: 20_000,
      fetch: (input, init) => serve(new Request(input, init)),
    });
  } finally {
    await stop();
  }
}

const isEvents = (request: Request) => /\/events$/.test(new URL(request.url).pathname);
const withHeader = (request: Request, name: string, value: string | null) => {
  const headers = new Headers(request.headers);
  if (value === null) headers.delete(name);
  else headers.set(name, value);
  return new Request(request, { headers });
};
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** Rewrites an SSE body block by block (`null` drops the block); `endless` keeps it open after the end. */
function rewriteStream(
  response: Response,
  rewrite: (block: string, index: number) => string | null,
  endless = false,
) {
  if (!response.body || !response.headers.get('content-type')?.includes('text/event-stream')) return response;
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = '';
  let index = 0;
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        if (!endless) controller.close();
        else await new Promise(() => {}); // never ends
        return;
      }
      buffer += decoder.decode(value, { stream: true });
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop() ?? '';
      const out = blocks.map((block) => rewrite(block, index++)).filter((block) => block !== null);
      if (out.length > 0) controller.enqueue(encoder.encode(out.map((block) => `${block}\n\n`).join('')));
    },
    cancel: () => reader.cancel(),
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

const BROKEN: Array<[string, Break, string]> = [
  [
    'no snapshot first',
    async (request, next) => {
      const response = await next(request);
      return isEvents(request)
        ? rewriteStream(response, (block) => (block.includes('event: snapshot') ? null : block))
        : response;
    },
    'sse: a snapshot first',
  ],
  [
    'duplicates on resume (Last-Event-ID ignored)',
    (request, next) => next(isEvents(request) ? withHeader(request, 'last-event-id', null) : request),
    'sse: the resume has no duplicate and no gap',
  ],
  [
    'a gap on resume',
    async (request, next) => {
      const response = await next(request);
      if (!isEvents(request) || !request.headers.has('last-event-id')) return response;
      let dropped = false; // the first line after the resume point is lost
      return rewriteStream(response, (block) => {
        if (dropped || !block.includes('event: log')) return block;
        dropped = true;
        return null;
      });
    },
    'sse: the resume has no duplicate and no gap',
  ],
  [
    'a stream that never ends',
    async (request, next) => {
      const response = await next(request);
      return isEvents(request) ? rewriteStream(response, (block) => block, true) : response;
    },
    'sse: the stream ends after the terminal event',
  ],
  [
    'no keep-alive comments',
    async (request, next) => {
      const response = await next(request);
      return isEvents(request)
        ? rewriteStream(response, (block) => (block.startsWith(':') ? null : block))
        : response;
    },
    'sse: keep-alive comments while open',
  ],
  [
    'a wrong status for an unknown job (410)',
    async (request, next) => {
      const response = await next(request);
      return response.status === 404 ? json(410, await response.json()) : response;
    },
    'bad input: GET /jobs/<unknown id> → 404',
  ],
  [
    'a bare 500 for broken JSON',
    async (request, next) => {
      const text = request.method === 'POST' ? await request.clone().text() : '';
      if (text !== '') {
        try {
          JSON.parse(text);
        } catch {
          return new Response('Internal Server Error', { status: 500 });
        }
      }
      return next(request);
    },
    'bad input: POST /jobs with broken JSON → 400',
  ],
  [
    '`undefined` id answered 404',
    (request, next) =>
      new URL(request.url).pathname.includes('/jobs/undefined')
        ? Promise.resolve(json(404, { error: { code: 'NOT_FOUND', message: 'No job.' } }))
        : next(request),
    'bad input: GET /jobs/undefined → 400',
  ],
  [
    'active not returning the job',
    (request, next) =>
      new URL(request.url).pathname.endsWith('/jobs/active')
        ? Promise.resolve(json(200, { job: null }))
        : next(request),
    'active: GET /jobs/active returns the running job (the reattach call)',
  ],
  [
    'a log page that skips a line',
    async (request, next) => {
      const url = new URL(request.url);
      if (!url.pathname.endsWith('/logs') || !url.searchParams.has('afterSeq')) return next(request);
      url.searchParams.set(
        'afterSeq',
        String(Number(url.searchParams.get('afterSeq')) + (url.searchParams.get('afterSeq') === '0' ? 0 : 1)),
      );
      return next(new Request(url, request));
    },
    'logs: pages follow each other (afterSeq=0&limit=2, then afterSeq=lastSeq)',
  ],
];

describe('checkServer', () => {
  it('passes against the real handler', async () => {
    const results = await run();
    const table = formatCheckTable(results);
    if (process.env.SHOW_TABLE) console.log(table);
    expect(
      results.filter((result) => !result.ok),
      table,
    ).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(35);
    expect(table).toContain(`All ${results.length} checks passed.`);
  });

  it.concurrent.each(BROKEN)('catches a server with %s', async (_name, broken, failing) => {
    const results = await run(broken);
    const check = results.find((result) => result.name === failing);
    expect(check, formatCheckTable(results)).toBeDefined();
    expect(check?.ok, formatCheckTable(results)).toBe(false);
  });

  it('fails every check, without throwing, when nothing answers', async () => {
    const results = await checkServer({
      baseUrl: 'http://server.test/api/sync',
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    expect(results.length).toBeGreaterThan(20);
    expect(results.every((result) => !result.ok)).toBe(true);
  });
});
