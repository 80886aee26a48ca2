import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SyncError } from '../errors';
import type { Job } from '../job/job';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import { createSyncHandler, type SyncHandler } from './syncHandler';

const BASE = 'http://app.test/api/sync';

/** `Bearer alice` is alice; she owns the accounts whose id starts with `alice`. */
function makeHandler(engine: ScriptedEngine, onError: (error: unknown) => void): SyncHandler {
  return createSyncHandler(engine, {
    basePath: '/api/sync/',
    authenticate: async (request) => request.headers.get('authorization')?.replace(/^Bearer /, '') || null,
    authorizeAccount: (user: string, { accountId }) => accountId.startsWith(user),
    onError,
    // 5xx causes are reported here (see syncHandler.logger.test.ts); kept out of the test output.
    logger: { error: () => {}, warn: () => {} },
  });
}

interface CallOptions {
  method?: string;
  body?: unknown;
  rawBody?: string;
  user?: string | null;
  headers?: Record<string, string>;
}

async function call(handler: SyncHandler, path: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  const user = options.user === undefined ? 'alice' : options.user;
  if (user) headers.authorization = `Bearer ${user}`;
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const response = await handler(
    new Request(`${BASE}${path}`, { method: options.method ?? 'GET', headers, body }),
  );
  const text = response.headers.get('content-type')?.includes('json') ? await response.text() : '';
  return { response, status: response.status, json: text ? JSON.parse(text) : undefined };
}

describe('createSyncHandler', () => {
  let engine: ScriptedEngine;
  let handler: SyncHandler;
  let onError: ReturnType<typeof vi.fn<(error: unknown) => void>>;

  beforeEach(() => {
    engine = new ScriptedEngine();
    onError = vi.fn<(error: unknown) => void>();
    handler = makeHandler(engine, onError);
  });

  const startJob = async (accountId = 'alice-1'): Promise<Job> => {
    const { json } = await call(handler, '/jobs', { method: 'POST', body: { source: 'test', accountId } });
    return json.job;
  };

  describe('POST /jobs', () => {
    it('starts a job: 202 { job, started: true }', async () => {
      const { status, json } = await call(handler, '/jobs', {
        method: 'POST',
        body: { source: 'test', accountId: 'alice-1', mode: 'full' },
      });
      expect(status).toBe(202);
      expect(json.started).toBe(true);
      expect(json.job).toMatchObject({
        source: 'test',
        accountId: 'alice-1',
        status: 'queued',
        mode: 'full',
      });
    });

    it('answers the running job with started: false and the reason', async () => {
      const first = await startJob();
      const { status, json } = await call(handler, '/jobs', {
        method: 'POST',
        body: { source: 'test', accountId: 'alice-1' },
      });
      expect(status).toBe(202);
      expect(json).toMatchObject({ started: false, reason: 'alreadyRunning', job: { id: first.id } });
    });

    it.each([
      ['not JSON', '{source:'],
      ['an array', '[1]'],
      ['a number', '42'],
      ['empty', ''],
      ['null', 'null'],
      ['a missing accountId', JSON.stringify({ source: 'test' })],
      ['a numeric accountId', JSON.stringify({ source: 'test', accountId: 7 })],
      ['an empty accountId', JSON.stringify({ source: 'test', accountId: '  ' })],
      ['accountId "undefined"', JSON.stringify({ source: 'test', accountId: 'undefined' })],
      ['a bad mode', JSON.stringify({ source: 'test', accountId: 'alice-1', mode: 'fast' })],
      ['a long accountId', JSON.stringify({ source: 'test', accountId: `alice${'x'.repeat(300)}` })],
    ])('400 INVALID_INPUT for a body that is %s', async (_, rawBody) => {
      const { status, json } = await call(handler, '/jobs', { method: 'POST', rawBody });
      expect(status).toBe(400);
      expect(json.error.code).toBe('INVALID_INPUT');
      expect(json.error.message).toEqual(expect.any(String));
    });

    it('400 UNKNOWN_SOURCE for a source the engine does not run', async () => {
      const { status, json } = await call(handler, '/jobs', {
        method: 'POST',
        body: { source: 'imap', accountId: 'alice-1' },
      });
      expect(status).toBe(400);
      expect(json.error).toEqual({ code: 'UNKNOWN_SOURCE', message: expect.stringContaining('test') });
    });

    it('400 for a body over 16 kB, declared or not', async () => {
      const big = JSON.stringify({ source: 'test', accountId: 'alice-1', pad: 'x'.repeat(20_000) });
      expect((await call(handler, '/jobs', { method: 'POST', rawBody: big })).status).toBe(400);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1000)));
          controller.close();
        },
      });
      const response = await handler(
        new Request(`${BASE}/jobs`, {
          method: 'POST',
          headers: { authorization: 'Bearer alice' },
          body: stream,
          duplex: 'half',
        } as RequestInit),
      );
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
        /16384 bytes/,
      );
    });

    it('403 for an account the principal may not use', async () => {
      const { status, json } = await call(handler, '/jobs', {
        method: 'POST',
        body: { source: 'test', accountId: 'bob-1' },
      });
      expect(status).toBe(403);
      expect(json.error.code).toBe('FORBIDDEN');
    });
  });

  describe('GET /jobs/active', () => {
    it('answers { job: null } when none is active, then the active job', async () => {
      const none = await call(handler, '/jobs/active?source=test&accountId=alice-1');
      expect(none).toMatchObject({ status: 200, json: { job: null } });
      const job = await startJob();
      const active = await call(handler, '/jobs/active?source=test&accountId=alice-1');
      expect(active.json.job.id).toBe(job.id);
    });

    it.each([
      '/jobs/active',
      '/jobs/active?source=test',
      '/jobs/active?accountId=alice-1',
      '/jobs/active?source=test&accountId=',
      '/jobs/active?source=test&accountId=undefined',
      '/jobs/active?source=test&accountId=alice-1&accountId=alice-2',
    ])('400 for %s', async (path) => {
      const { status, json } = await call(handler, path);
      expect(status).toBe(400);
      expect(json.error.code).toBe('INVALID_INPUT');
    });

    it('403 for an account of someone else', async () => {
      expect((await call(handler, '/jobs/active?source=test&accountId=bob-1')).status).toBe(403);
    });
  });

  describe('GET /jobs', () => {
    it('lists the account jobs newest first, limited', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const job = await startJob();
        ids.push(job.id);
        await engine.cancel(job.id);
      }
      await startJob('alice-2');
      const { status, json } = await call(handler, '/jobs?accountId=alice-1&source=test&limit=2');
      expect(status).toBe(200);
      expect(json.jobs.map((job: Job) => job.id)).toEqual([ids[2], ids[1]]);
      const all = await call(handler, '/jobs?accountId=alice-1');
      expect(all.json.jobs).toHaveLength(3);
    });

    it.each([
      '/jobs',
      '/jobs?accountId=alice-1&limit=0',
      '/jobs?accountId=alice-1&limit=-1',
      '/jobs?accountId=alice-1&limit=abc',
      '/jobs?accountId=alice-1&limit=1.5',
      '/jobs?accountId=alice-1&limit=501',
      '/jobs?accountId=alice-1&limit=1e3',
    ])('400 for %s', async (path) => {
      const { status, json } = await call(handler, path);
      expect(status).toBe(400);
      expect(json.error.code).toBe('INVALID_INPUT');
    });

    it('never lists the jobs of another principal', async () => {
      await startJob();
      const { json } = await call(handler, '/jobs?accountId=alice-1', { user: 'mallory' });
      expect(json.jobs).toEqual([]);
      expect((await call(handler, '/jobs?accountId=alice-1&source=test', { user: 'mallory' })).status).toBe(
        403,
      );
    });
  });

  describe('GET /jobs/:id', () => {
    it('answers { job }', async () => {
      const job = await startJob();
      const { status, json } = await call(handler, `/jobs/${job.id}`);
      expect(status).toBe(200);
      expect(json.job).toMatchObject({ id: job.id, status: 'queued' });
    });

    it.each(['undefined', 'null', 'abc', '123', '%E0%A4%A', 'not-a-uuid-0000-0000-000000000000'])(
      '400 for the malformed id %s',
      async (id) => {
        const { status, json } = await call(handler, `/jobs/${id}`);
        expect(status).toBe(400);
        expect(json.error.code).toBe('INVALID_INPUT');
      },
    );

    it('400 for an empty id', async () => {
      expect((await call(handler, '/jobs//logs')).status).toBe(400);
    });

    it('404 with the same body for a missing job and a job of someone else', async () => {
      const job = await startJob();
      const missing = await call(handler, `/jobs/${crypto.randomUUID()}`);
      const foreign = await call(handler, `/jobs/${job.id}`, { user: 'bob' });
      expect(missing.status).toBe(404);
      expect(foreign.status).toBe(404);
      expect(foreign.json).toEqual(missing.json);
      expect(missing.json.error.code).toBe('NOT_FOUND');
      for (const action of ['/logs', '/events', '/cancel', '/retry']) {
        const method = action === '/cancel' || action === '/retry' ? 'POST' : 'GET';
        const answer = await call(handler, `/jobs/${job.id}${action}`, { method, user: 'bob' });
        expect(answer.status).toBe(404);
        expect(answer.json).toEqual(missing.json);
      }
    });
  });

  describe('GET /jobs/:id/logs', () => {
    it('pages the logs after a seq: { logs, lastSeq }', async () => {
      const job = await startJob();
      const lease = await engine.claim();
      await engine.log(lease, 'a', 'b', 'c', 'd');
      const first = await call(handler, `/jobs/${job.id}/logs?afterSeq=0&limit=2`);
      expect(first.status).toBe(200);
      expect(first.json.logs.map((entry: { seq: number }) => entry.seq)).toEqual([1, 2]);
      expect(first.json.lastSeq).toBe(2);
      const rest = await call(handler, `/jobs/${job.id}/logs?afterSeq=${first.json.lastSeq}`);
      expect(rest.json.logs.map((entry: { message: string }) => entry.message)).toEqual(['b', 'c', 'd']);
      expect(rest.json.lastSeq).toBe(5);
      const none = await call(handler, `/jobs/${job.id}/logs?afterSeq=5`);
      expect(none.json).toMatchObject({ logs: [], lastSeq: 5 });
    });

    it.each(['afterSeq=-1', 'afterSeq=x', 'limit=0', 'limit=5001', 'afterSeq=1&afterSeq=2'])(
      '400 for %s',
      async (query) => {
        const job = await startJob();
        const { status, json } = await call(handler, `/jobs/${job.id}/logs?${query}`);
        expect(status).toBe(400);
        expect(json.error.code).toBe('INVALID_INPUT');
      },
    );
  });

  describe('POST /jobs/:id/cancel and /retry', () => {
    it('cancels a queued job: 202 { job }', async () => {
      const job = await startJob();
      const { status, json } = await call(handler, `/jobs/${job.id}/cancel`, { method: 'POST' });
      expect(status).toBe(202);
      expect(json.job).toMatchObject({ id: job.id, status: 'cancelled' });
    });

    it('409 for cancelling a finished job', async () => {
      const job = await startJob();
      await engine.cancel(job.id);
      const { status, json } = await call(handler, `/jobs/${job.id}/cancel`, { method: 'POST' });
      expect(status).toBe(409);
      expect(json.error.code).toBe('CONFLICT');
    });

    it('retries a cancelled job: 202 { job, started }', async () => {
      const job = await startJob();
      await engine.cancel(job.id);
      const { status, json } = await call(handler, `/jobs/${job.id}/retry`, { method: 'POST' });
      expect(status).toBe(202);
      expect(json.started).toBe(true);
      expect(json.job).toMatchObject({ status: 'queued', trigger: 'resume' });
      expect(json.job.id).not.toBe(job.id);
    });

    it('409 for retrying a running job', async () => {
      const job = await startJob();
      await engine.claim();
      const { status, json } = await call(handler, `/jobs/${job.id}/retry`, { method: 'POST' });
      expect(status).toBe(409);
      expect(json.error.code).toBe('CONFLICT');
    });

    it('409 when the engine refuses (retry of a completed job)', async () => {
      const job = await startJob();
      await engine.finish(await engine.claim());
      const { status, json } = await call(handler, `/jobs/${job.id}/retry`, { method: 'POST' });
      expect(status).toBe(409);
      expect(json.error.code).toBe('CONFLICT');
    });
  });

  describe('routing and authentication', () => {
    it('401 when authenticate returns nothing', async () => {
      const { status, json } = await call(handler, '/jobs/active?source=test&accountId=alice-1', {
        user: null,
      });
      expect(status).toBe(401);
      expect(json.error.code).toBe('UNAUTHENTICATED');
    });

    it.each([false, '', 0, Number.NaN, null, undefined])(
      '401 when authenticate returns the falsy %s, and the account is never authorised',
      async (principal) => {
        const authorizeAccount = vi.fn(() => true);
        const falsy = createSyncHandler(new ScriptedEngine(), {
          basePath: '/api/sync',
          authenticate: () => principal as unknown as string,
          authorizeAccount,
          logger: { error: () => {}, warn: () => {} },
        });
        const { status, json } = await call(falsy, '/jobs/active?source=test&accountId=alice-1');
        expect(status).toBe(401);
        expect(json.error.code).toBe('UNAUTHENTICATED');
        expect(authorizeAccount).not.toHaveBeenCalled();
      },
    );

    it.each(['/', '/job', '/jobs/active/x', `/jobs/${crypto.randomUUID()}/explode`, '/other'])(
      '404 JSON for the unknown route %s',
      async (path) => {
        const { status, json } = await call(handler, path);
        expect(status).toBe(404);
        expect(json.error.code).toBe('ROUTE_NOT_FOUND');
      },
    );

    it('404 outside the base path', async () => {
      const response = await handler(new Request('http://app.test/elsewhere/jobs'));
      expect(response.status).toBe(404);
    });

    it.each([
      ['DELETE', '/jobs'],
      ['PUT', '/jobs/active'],
      ['POST', `/jobs/${crypto.randomUUID()}`],
      ['GET', `/jobs/${crypto.randomUUID()}/cancel`],
      ['PATCH', `/jobs/${crypto.randomUUID()}/events`],
    ])('405 with Allow for %s %s', async (method, path) => {
      const { status, json, response } = await call(handler, path, { method });
      expect(status).toBe(405);
      expect(json.error.code).toBe('METHOD_NOT_ALLOWED');
      expect(response.headers.get('allow')).toBeTruthy();
    });
  });

  describe('failures', () => {
    it('503 with Retry-After when the store is unavailable', async () => {
      vi.spyOn(engine, 'getActiveJob').mockRejectedValue(new SyncError('STORE_UNAVAILABLE', 'db down'));
      const { status, json, response } = await call(handler, '/jobs/active?source=test&accountId=alice-1');
      expect(status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(json.error.code).toBe('STORE_UNAVAILABLE');
      expect(json.error.message).toMatch(/cannot be reached/);
    });

    it('500 for a raw driver error: the HTTP layer knows no database, each store maps its own to STORE_UNAVAILABLE', async () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
        code: 'ECONNREFUSED',
      });
      vi.spyOn(engine, 'getJob').mockRejectedValue(new Error('query failed', { cause: refused }));
      const { status, json } = await call(handler, `/jobs/${crypto.randomUUID()}`);
      expect(status).toBe(500);
      expect(JSON.stringify(json)).not.toMatch(/ECONNREFUSED|5432/);
    });

    it('500 INTERNAL without details for a bug, and tells onError', async () => {
      vi.spyOn(engine, 'listJobs').mockRejectedValue(
        new TypeError('x is not a function at /srv/secret.js:12'),
      );
      const { status, json } = await call(handler, '/jobs?accountId=alice-1');
      expect(status).toBe(500);
      expect(json.error.code).toBe('INTERNAL');
      expect(JSON.stringify(json)).not.toMatch(/secret|not a function/);
      expect(onError).toHaveBeenCalledOnce();
    });
  });
});
