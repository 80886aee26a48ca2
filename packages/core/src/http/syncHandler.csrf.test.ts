import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import { toNodeHandler } from './nodeAdapter';
import { createSyncHandler, type SyncHandlerOptions } from './syncHandler';

const BASE = 'http://app.test/api/sync';
const START = JSON.stringify({ source: 'test', accountId: 'alice-1' });

/** Cookie-authenticated, like a browser app: the cookie alone makes alice. */
function makeHandler(engine: ScriptedEngine, extra: Partial<SyncHandlerOptions<string>> = {}) {
  return createSyncHandler(engine, {
    basePath: '/api/sync',
    authenticate: (request) => (request.headers.get('cookie')?.includes('session=alice') ? 'alice' : null),
    authorizeAccount: (user: string, { accountId }) => accountId.startsWith(user),
    logger: { error: () => {}, warn: () => {} },
    ...extra,
  });
}

const codeOf = async (response: Response) =>
  ((await response.json()) as { error: { code: string } }).error.code;

const post = (path: string, headers: Record<string, string>, body: string | undefined = START) =>
  new Request(`${BASE}${path}`, { method: 'POST', headers: { cookie: 'session=alice', ...headers }, body });

describe('CSRF defaults', () => {
  let engine: ScriptedEngine;
  beforeEach(() => {
    engine = new ScriptedEngine();
  });

  it('refuses a POST body that is not application/json with 415, and starts nothing', async () => {
    const handler = makeHandler(engine);
    for (const contentType of [
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
      'text/plain;charset=UTF-8',
    ]) {
      const response = await handler(post('/jobs', { 'content-type': contentType }));
      expect(response.status).toBe(415);
      expect(await codeOf(response)).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    // A body without any Content-Type (a no-cors fetch of a typeless Blob).
    const typeless = await handler(
      new Request(`${BASE}/jobs`, {
        method: 'POST',
        headers: { cookie: 'session=alice' },
        body: new Blob([START]),
      }),
    );
    expect(typeless.status).toBe(415);
    expect(await engine.listJobs({ accountId: 'alice-1' })).toHaveLength(0);
    const ok = await handler(post('/jobs', { 'content-type': 'application/json; charset=utf-8' }));
    expect(ok.status).toBe(202);
  });

  it('refuses an empty form POST on cancel and retry (415) but takes one without a body', async () => {
    const handler = makeHandler(engine);
    const started = (await (await handler(post('/jobs', { 'content-type': 'application/json' }))).json()) as {
      job: { id: string };
    };
    const form = await handler(
      post(`/jobs/${started.job.id}/cancel`, { 'content-type': 'application/x-www-form-urlencoded' }, ''),
    );
    expect(form.status).toBe(415);
    expect((await engine.getJob(started.job.id))?.status).not.toBe('cancelled');
    const bare = await handler(
      new Request(`${BASE}/jobs/${started.job.id}/cancel`, {
        method: 'POST',
        headers: { cookie: 'session=alice' },
      }),
    );
    expect(bare.status).toBe(202);
  });

  it.each([
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site', origin: 'http://evil.localhost:1234' }],
    [
      'Sec-Fetch-Site: same-site (another port)',
      { 'sec-fetch-site': 'same-site', origin: 'http://app.test:8080' },
    ],
    [
      'Sec-Fetch-Site: same-site (a sibling subdomain)',
      { 'sec-fetch-site': 'same-site', origin: 'http://blog.app.test' },
    ],
    ['no Sec-Fetch-Site, a foreign Origin', { origin: 'http://evil.localhost:1234' }],
    ['no Sec-Fetch-Site, another port', { origin: 'http://app.test:8080' }],
    ['no Sec-Fetch-Site, Origin: null', { origin: 'null' }],
    ['an unknown Sec-Fetch-Site', { 'sec-fetch-site': 'bogus' }],
  ])(
    'refuses a cross-site POST (%s) with 403 CROSS_SITE_REQUEST, before authentication',
    async (_, headers) => {
      const handler = makeHandler(engine);
      for (const path of [
        '/jobs',
        `/jobs/${crypto.randomUUID()}/cancel`,
        `/jobs/${crypto.randomUUID()}/retry`,
      ]) {
        const response = await handler(post(path, { ...headers, 'content-type': 'application/json' }));
        expect(response.status).toBe(403);
        expect(await codeOf(response)).toBe('CROSS_SITE_REQUEST');
      }
      expect(await engine.listJobs({ accountId: 'alice-1' })).toHaveLength(0);
    },
  );

  it.each([
    ['same-origin', { 'sec-fetch-site': 'same-origin', origin: 'http://app.test' }],
    ['none (address bar)', { 'sec-fetch-site': 'none' }],
    ['old browser, own Origin', { origin: 'http://app.test' }],
    ['no Origin and no Sec-Fetch-Site (a server, the CLI)', {}],
  ])('accepts %s', async (_, headers) => {
    const response = await makeHandler(engine)(
      post('/jobs', { ...headers, 'content-type': 'application/json' }),
    );
    expect(response.status).toBe(202);
  });

  it('accepts an origin listed in allowedOrigins (a list, normalised, or a predicate)', async () => {
    const listed = makeHandler(engine, { allowedOrigins: ['HTTP://App.test:8080/'] });
    const sameSite = {
      'sec-fetch-site': 'same-site',
      origin: 'http://app.test:8080',
      'content-type': 'application/json',
    };
    expect((await listed(post('/jobs', sameSite))).status).toBe(202);
    expect((await listed(post('/jobs', { ...sameSite, origin: 'http://app.test:9090' }))).status).toBe(403);
    const predicate = makeHandler(engine, { allowedOrigins: (origin) => origin.endsWith('.app.test') });
    expect((await predicate(post('/jobs', { ...sameSite, origin: 'http://blog.app.test' }))).status).toBe(
      202,
    );
    expect(() => makeHandler(engine, { allowedOrigins: ['not a url'] })).toThrow(/allowedOrigins/);
  });

  it('uses X-Forwarded-Host/Proto for its own origin only when trustProxyHeaders is set', async () => {
    const behindProxy = {
      origin: 'https://sync.example.com',
      'x-forwarded-host': 'sync.example.com',
      'x-forwarded-proto': 'https',
      'content-type': 'application/json',
    };
    expect((await makeHandler(engine)(post('/jobs', behindProxy))).status).toBe(403);
    expect((await makeHandler(engine, { trustProxyHeaders: true })(post('/jobs', behindProxy))).status).toBe(
      202,
    );
  });

  it('never checks GETs and event streams (read-only), which still need authentication', async () => {
    const handler = makeHandler(engine);
    const cross = { 'sec-fetch-site': 'cross-site', origin: 'http://evil.localhost:1234' };
    const list = await handler(
      new Request(`${BASE}/jobs?accountId=alice-1`, { headers: { ...cross, cookie: 'session=alice' } }),
    );
    expect(list.status).toBe(200);
    expect((await handler(new Request(`${BASE}/jobs?accountId=alice-1`, { headers: cross }))).status).toBe(
      401,
    );
  });
});

describe('toNodeHandler with a body parser before it', () => {
  let server: Server;
  let url: string;
  let engine: ScriptedEngine;
  beforeEach(async () => {
    engine = new ScriptedEngine();
    const node = toNodeHandler(makeHandler(engine), { logger: { error: () => {}, warn: () => {} } });
    server = createServer((req, res) => {
      // What express.urlencoded() / express.json() leave behind: the stream read, `req.body` set.
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString();
      });
      req.on('end', () => {
        const type = req.headers['content-type'] ?? '';
        const parsed = type.includes('json') ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw));
        Object.assign(req, { body: parsed });
        void node(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sync/jobs`;
  });
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('refuses a form body the parser already read (415) instead of re-encoding it as JSON', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { cookie: 'session=alice', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ source: 'test', accountId: 'alice-1' }),
    });
    expect(response.status).toBe(415);
    expect(await codeOf(response)).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await engine.listJobs({ accountId: 'alice-1' })).toHaveLength(0);
  });

  it('still takes a JSON body the parser already read', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { cookie: 'session=alice', 'content-type': 'application/json' },
      body: START,
    });
    expect(response.status).toBe(202);
  });
});
