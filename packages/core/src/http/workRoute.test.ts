import { describe, expect, it, vi } from 'vitest';
import { createSyncEngine } from '../engine/syncEngine';
import { SyncError } from '../errors';
import { createMemoryStore } from '../store/memoryStore';
import { createTestSource } from '../testing/testSource';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import type { SyncHandlerOptions } from './syncHandler';
import { createSyncHandler } from './syncHandler';

const SECRET = 'work-secret-0123456789abcdef';
const URL_BASE = 'http://app.test/api/sync';

function handlerFor(
  engine: Parameters<typeof createSyncHandler>[0],
  extra: Partial<SyncHandlerOptions<string>> = {},
) {
  const authenticate = vi.fn(async () => 'alice');
  const handler = createSyncHandler(engine, {
    basePath: '/api/sync',
    authenticate,
    authorizeAccount: () => true,
    workSecret: SECRET,
    logger: { error: () => {}, warn: () => {} },
    ...extra,
  });
  return { handler, authenticate };
}

function post(path: string, options: { secret?: string | null; body?: string; method?: string } = {}) {
  const headers: Record<string, string> = {};
  const secret = options.secret === undefined ? SECRET : options.secret;
  if (secret !== null) headers.authorization = `Bearer ${secret}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return new Request(`${URL_BASE}${path}`, { method: options.method ?? 'POST', headers, body: options.body });
}

describe('POST {base}/work', () => {
  it('runs a slice with the secret and answers { ran, jobs, moreWork }; no user session is asked for', async () => {
    const engine = new ScriptedEngine();
    engine.workResult = {
      ran: 1,
      jobs: [
        {
          id: 'j1',
          source: 'test',
          accountId: 'a',
          status: 'queued',
          handedBack: true,
          processed: 10,
          percent: 10,
          etaSeconds: 90,
        },
      ],
      moreWork: true,
    };
    const { handler, authenticate } = handlerFor(engine);
    const response = await handler(post('/work', { body: JSON.stringify({ maxMs: 5_000 }) }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(engine.workResult);
    expect(engine.workCalls).toEqual([expect.objectContaining({ maxMs: 5_000 })]);
    expect(engine.workCalls[0]?.signal).toBeInstanceOf(AbortSignal);
    expect(authenticate).not.toHaveBeenCalled();
  });

  it('uses maxWorkMs when the body is empty, and never more than maxWorkMs', async () => {
    const engine = new ScriptedEngine();
    const { handler } = handlerFor(engine, { maxWorkMs: 10_000 });
    expect((await handler(post('/work'))).status).toBe(200);
    expect((await handler(post('/work/', { body: '{}' }))).status).toBe(200);
    expect((await handler(post('/work', { body: JSON.stringify({ maxMs: 60_000 }) }))).status).toBe(200);
    expect(engine.workCalls.map((c) => c.maxMs)).toEqual([10_000, 10_000, 10_000]);
    const { handler: byDefault } = handlerFor(engine);
    await byDefault(post('/work'));
    expect(engine.workCalls.at(-1)?.maxMs).toBe(25_000);
  });

  it('answers 400 for a malformed body or budget', async () => {
    const engine = new ScriptedEngine();
    const { handler } = handlerFor(engine);
    for (const body of ['[1]', '"x"', '{"maxMs":"5000"}', '{"maxMs":10}', '{"maxMs":null}', '{nope']) {
      const response = await handler(post('/work', { body }));
      expect(response.status, body).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('INVALID_INPUT');
    }
    expect(engine.workCalls).toHaveLength(0);
  });

  it('answers 401 without the right secret, whatever the session, and runs nothing', async () => {
    const engine = new ScriptedEngine();
    const { handler } = handlerFor(engine);
    for (const secret of [null, '', 'wrong', `${SECRET}x`, SECRET.slice(0, -1), SECRET.toUpperCase()]) {
      const response = await handler(post('/work', { secret }));
      expect(response.status, String(secret)).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    }
    const basic = new Request(`${URL_BASE}/work`, {
      method: 'POST',
      headers: { authorization: `Basic ${SECRET}` },
    });
    expect((await handler(basic)).status).toBe(401);
    expect(engine.workCalls).toHaveLength(0);
  });

  it('answers 405 to other methods (a cron calling GET needs a route of its own, see the README)', async () => {
    const { handler } = handlerFor(new ScriptedEngine());
    const response = await handler(post('/work', { method: 'GET' }));
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('does not exist without workSecret: 404 ROUTE_NOT_FOUND', async () => {
    const engine = new ScriptedEngine();
    const handler = createSyncHandler(engine, {
      basePath: '/api/sync',
      authenticate: () => 'alice',
      authorizeAccount: () => true,
    });
    const response = await handler(post('/work'));
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('ROUTE_NOT_FOUND');
    expect(engine.workCalls).toHaveLength(0);
  });

  it('refuses a short secret or budget when the handler is created', () => {
    const engine = new ScriptedEngine();
    const base = { authenticate: () => 'alice', authorizeAccount: () => true };
    expect(() => createSyncHandler(engine, { ...base, workSecret: 'short' })).toThrow(SyncError);
    expect(() => createSyncHandler(engine, { ...base, workSecret: SECRET, maxWorkMs: 10 })).toThrow(
      SyncError,
    );
  });

  it('answers 503 when the store is unreachable', async () => {
    const engine = new ScriptedEngine();
    engine.work = async () => {
      throw new SyncError('STORE_UNAVAILABLE', 'The database is down.');
    };
    const { handler } = handlerFor(engine);
    const response = await handler(post('/work'));
    expect(response.status).toBe(503);
  });

  it('runs a real job to its end over several calls while moreWork is true', async () => {
    const store = createMemoryStore();
    const source = createTestSource({ messages: 60, pageSize: 60, batchSize: 10 });
    const engine = createSyncEngine({ store, sources: [source], worker: false });
    const account = { source: 'test', accountId: 'alice@example.test' };
    const { job } = await engine.start(account);
    const { handler } = handlerFor(engine);
    let calls = 0;
    let body: { ran: number; jobs: Array<{ status: string }>; moreWork: boolean };
    do {
      calls += 1;
      const response = await handler(post('/work', { body: JSON.stringify({ maxMs: 1_000 }) }));
      body = (await response.json()) as typeof body;
      expect(response.status).toBe(200);
    } while (body.moreWork && calls < 50);
    expect(body.jobs.at(-1)?.status).toBe('completed');
    expect(await store.getJob(job.id)).toMatchObject({ status: 'completed' });
    expect(await store.data.countMessages(account)).toBe(60);
  });
});
