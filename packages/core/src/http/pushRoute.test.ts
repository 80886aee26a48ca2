import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Clock, TimerHandle } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import { createSyncEngine } from '../engine/syncEngine';
import { SyncError } from '../errors';
import type { Job } from '../job/job';
import { createMemoryStore } from '../store/memoryStore';
import type { TestSource } from '../testing/testSource';
import { createTestSource } from '../testing/testSource';
import type { PushRouteOptions } from './pushRoute';
import { createSyncHandler } from './syncHandler';

const AUDIENCE = 'https://app.test/api/sync/push/test';
const SERVICE_ACCOUNT = 'push-invoker@project.iam.gserviceaccount.com';
const MAILBOX = 'alice@example.test';
const ACCOUNT = 'alice';
const DEBOUNCE_MS = 1_500;
const RECHECK_MS = 700;
const FOLLOW_POLL_MS = 1_000; // the route's own, for telling its timers from the planned starts

// ── Google's side, for real: an RSA key pair and a JWKS server ────────────────────────────────

const googleKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwkOf = (key: KeyObject, kid: string) => ({
  ...key.export({ format: 'jwk' }),
  kid,
  alg: 'RS256',
  use: 'sig',
});

let jwks: { keys: unknown[] } = { keys: [jwkOf(googleKey.publicKey, 'k1')] };
let certsFetches = 0;
let certsServer: Server;
let certsUrl: string;

beforeAll(async () => {
  certsServer = createServer((_request, response) => {
    certsFetches += 1;
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' });
    response.end(JSON.stringify(jwks));
  });
  await new Promise<void>((resolve) => certsServer.listen(0, '127.0.0.1', resolve));
  certsUrl = `http://127.0.0.1:${(certsServer.address() as AddressInfo).port}/oauth2/v3/certs`;
});
afterAll(() => new Promise<void>((resolve) => certsServer.close(() => resolve())));

const b64url = (text: string) => Buffer.from(text).toString('base64url');

function token(
  claims: Record<string, unknown> = {},
  options: { key?: KeyObject; kid?: string; alg?: string } = {},
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(
    JSON.stringify({ alg: options.alg ?? 'RS256', kid: options.kid ?? 'k1', typ: 'JWT' }),
  );
  const payload = b64url(
    JSON.stringify({
      iss: 'https://accounts.google.com',
      aud: AUDIENCE,
      email: SERVICE_ACCOUNT,
      email_verified: true,
      sub: '1234567890',
      iat: now,
      exp: now + 3600,
      ...claims,
    }),
  );
  if (options.alg === 'none') return `${header}.${payload}.`;
  const signature = createSign('RSA-SHA256')
    .update(`${header}.${payload}`)
    .sign(options.key ?? googleKey.privateKey)
    .toString('base64url');
  return `${header}.${payload}.${signature}`;
}

let messageCount = 0;
function push(
  options: { bearer?: string | null; historyId?: number | string; email?: string; body?: unknown } = {},
) {
  messageCount += 1;
  const data = Buffer.from(
    JSON.stringify({ emailAddress: options.email ?? MAILBOX, historyId: options.historyId ?? 2 }),
  ).toString('base64');
  const body = options.body ?? {
    message: { data, messageId: String(messageCount), publishTime: new Date().toISOString() },
    subscription: 'projects/p/subscriptions/gmail-push',
  };
  const bearer = options.bearer === undefined ? token() : options.bearer;
  return new Request('https://app.test/api/sync/push/test', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
    },
    body: JSON.stringify(body),
  });
}

// ── The app's side: a real engine on the memory store, the handler with a clock the test moves ──

/**
 * Time stands still until the test moves it, and timers fire only then: "nothing more happens" is
 * asserted, not waited for, and a slow machine cannot stretch a one-second storm.
 */
function manualClock() {
  const start = Date.now();
  let offset = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; delay: number; callback: () => void }>();
  const clock: Clock = {
    now: () => start + offset,
    setTimeout: (callback, ms) => {
      const id = nextId++;
      timers.set(id, { at: clock.now() + ms, delay: ms, callback });
      return id;
    },
    clearTimeout: (handle: TimerHandle) => {
      timers.delete(handle as number);
    },
  };
  return {
    clock,
    /** The delays of the timers not fired, besides the route's polls of followed jobs. */
    planned: () => [...timers.values()].filter((t) => t.delay !== FOLLOW_POLL_MS).map((t) => t.delay),
    /** Jobs the route follows (each has a poll timer while it runs). */
    following: () => [...timers.values()].filter((t) => t.delay === FOLLOW_POLL_MS).length,
    /** Moves time on by `ms`, fires the timers due by then and waits for what they started. */
    async advance(ms: number) {
      offset += ms;
      const started: unknown[] = [];
      for (const [id, timer] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (timer.at > clock.now()) continue;
        timers.delete(id);
        started.push((timer.callback as () => unknown)());
      }
      await Promise.all(started);
    },
  };
}

interface Setup {
  engine: SyncEngine;
  source: TestSource;
  handler: (request: Request) => Promise<Response>;
  time: ReturnType<typeof manualClock>;
  warnings: string[];
  pushJobs(): Promise<Job[]>;
  /** Resolves once the account has no queued or running job and the route planned what it plans. */
  idle(): Promise<void>;
}

const engines: SyncEngine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.stop({ timeoutMs: 5_000 });
  jwks = { keys: [jwkOf(googleKey.publicKey, 'k1')] };
});

async function setup(
  options: { incrementalChanges?: number; push?: Partial<PushRouteOptions> } = {},
): Promise<Setup> {
  const source = createTestSource({ messages: 20, incrementalChanges: options.incrementalChanges ?? 3 });
  const engine = createSyncEngine({ store: createMemoryStore(), sources: [source], pollIntervalMs: 20 });
  engines.push(engine);
  // A full sync first: the account has a cursor, as it does once it was synced and watched.
  await engine.start({ source: 'test', accountId: ACCOUNT });
  await vi.waitFor(async () =>
    expect((await engine.getAccountState({ source: 'test', accountId: ACCOUNT }))?.cursor).toBe('1'),
  );
  const time = manualClock();
  const warnings: string[] = [];
  const handler = createSyncHandler(engine, {
    basePath: '/api/sync',
    authenticate: () => null,
    authorizeAccount: () => false,
    clock: time.clock,
    logger: { error: (line) => warnings.push(line), warn: (line) => warnings.push(line) },
    push: {
      source: 'test',
      audience: AUDIENCE,
      serviceAccountEmail: SERVICE_ACCOUNT,
      certsUrl,
      accountForEmail: (email) => (email === MAILBOX ? ACCOUNT : null),
      debounceMs: DEBOUNCE_MS,
      recheckDelayMs: RECHECK_MS,
      ...options.push,
    },
  });
  const pushJobs = async () =>
    (await engine.listJobs({ accountId: ACCOUNT, limit: 100 }))
      .filter((job) => job.trigger === 'push')
      .reverse();
  const idle = async () => {
    await vi.waitFor(async () => {
      expect(await engine.getActiveJob({ source: 'test', accountId: ACCOUNT })).toBeNull();
      // The route stopped following its last job (the poll timer is cleared when the job ends).
      expect(time.following()).toBe(0);
    });
    // The end of a followed job is handled in the turn after its event.
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { engine, source, handler, time, warnings, pushJobs, idle };
}

describe('POST {base}/push/{source}: authentication', () => {
  it('a push signed by Google for this audience and service account starts one incremental sync (204)', async () => {
    const { handler, pushJobs, idle } = await setup();
    const response = await handler(push({ historyId: 2 }));
    expect(response.status).toBe(204);
    await idle();
    const jobs = await pushJobs();
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ mode: 'incremental', trigger: 'push', status: 'completed' });
  });

  const refusals: Array<[string, () => string | null]> = [
    ['no Authorization header', () => null],
    ["a token signed by another key under Google's key id", () => token({}, { key: otherKey.privateKey })],
    ['an unsigned token (alg "none")', () => token({}, { alg: 'none' })],
    ['a token signed by an unknown key id', () => token({}, { key: otherKey.privateKey, kid: 'attacker' })],
    [
      'an expired token',
      () => token({ iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 }),
    ],
    ['a token for another audience', () => token({ aud: 'https://other.test/push' })],
    ['a token of another service account', () => token({ email: 'someone@evil.test' })],
    ['a token whose email is not verified', () => token({ email_verified: false })],
    ['a token issued by someone else', () => token({ iss: 'https://evil.test' })],
    ['a token that is not a JWT', () => 'not-a-jwt'],
  ];
  it.each(refusals)('refuses %s with 401 UNAUTHENTICATED and starts nothing', async (_name, bearer) => {
    const { handler, pushJobs, engine, warnings } = await setup();
    const response = await handler(push({ bearer: bearer() }));
    expect(response.status).toBe(401);
    expect(warnings).toEqual([expect.stringContaining('The push was refused')]);
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    expect(await pushJobs()).toEqual([]);
    expect(await engine.getActiveJob({ source: 'test', accountId: ACCOUNT })).toBeNull();
  });

  it('logs refused pushes at most once a minute, counting the ones in between', async () => {
    const { handler, warnings, time } = await setup();
    for (let i = 0; i < 5; i++) expect((await handler(push({ bearer: 'forged' }))).status).toBe(401);
    expect(warnings).toHaveLength(1);
    await time.advance(60_000);
    expect((await handler(push({ bearer: null }))).status).toBe(401);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain('4 more refused since the last line');
  });

  it('fetches the keys again once their Cache-Control max-age (3600 s here) has passed', async () => {
    const { handler, time, idle } = await setup();
    const before = certsFetches;
    expect((await handler(push({ historyId: 2 }))).status).toBe(204);
    await idle();
    await time.advance(3_599_000);
    expect((await handler(push({ historyId: 2 }))).status).toBe(204);
    expect(certsFetches - before).toBe(1);
    await time.advance(2_000);
    // The token is minted on the real clock; the route's clock is an hour on: a fresh token for it.
    const now = Math.floor(time.clock.now() / 1000);
    expect((await handler(push({ bearer: token({ iat: now, exp: now + 3600 }), historyId: 2 }))).status).toBe(
      204,
    );
    expect(certsFetches - before).toBe(2);
  });

  it('fetches the keys once while they are fresh, and again for an unknown key id at most every 30 s', async () => {
    const { handler, time } = await setup();
    const before = certsFetches;
    expect((await handler(push({ historyId: 2 }))).status).toBe(204);
    expect((await handler(push({ historyId: 2 }))).status).toBe(204);
    expect(certsFetches - before).toBe(1);
    // Google rotates: a new key signs and the JWKS lists both.
    jwks = { keys: [jwkOf(googleKey.publicKey, 'k1'), jwkOf(otherKey.publicKey, 'k2')] };
    const rotated = () => token({}, { key: otherKey.privateKey, kid: 'k2' });
    // Just fetched: an unknown key id is not a reason to ask Google again yet.
    expect((await handler(push({ bearer: rotated(), historyId: 2 }))).status).toBe(401);
    expect(certsFetches - before).toBe(1);
    await time.advance(30_000);
    expect((await handler(push({ bearer: rotated(), historyId: 2 }))).status).toBe(204);
    expect(certsFetches - before).toBe(2);
  });
});

describe('POST {base}/push/{source}: answers that Pub/Sub should not redeliver', () => {
  it('acknowledges an address with no account (204) and starts nothing', async () => {
    const { handler, pushJobs } = await setup();
    expect((await handler(push({ email: 'stranger@example.test' }))).status).toBe(204);
    expect(await pushJobs()).toEqual([]);
  });

  it('acknowledges a signed push that is not a Gmail notification (200 with the reason), logs it, starts nothing', async () => {
    const { handler, pushJobs, warnings } = await setup();
    const response = await handler(push({ body: { message: { data: 'not base64!' } } }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ignored: { code: 'INVALID_INPUT', message: 'The message data is not base64.' },
    });
    const noHistory = Buffer.from(JSON.stringify({ emailAddress: MAILBOX })).toString('base64');
    expect((await handler(push({ body: { message: { data: noHistory } } }))).status).toBe(200);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('acknowledged and ignored');
    expect(await pushJobs()).toEqual([]);
  });

  it('answers 503 with Retry-After when the account lookup says its store is down, so Pub/Sub redelivers', async () => {
    const { handler, pushJobs } = await setup({
      push: {
        accountForEmail: () => {
          throw new SyncError('STORE_UNAVAILABLE', 'The accounts database is down.');
        },
      },
    });
    const response = await handler(push());
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).not.toBeNull();
    expect(await pushJobs()).toEqual([]);
  });

  it("answers 502 NETWORK when Google's keys cannot be fetched, so Pub/Sub redelivers, and starts nothing", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { handler, pushJobs, warnings } = await setup({
      push: { certsUrl: `http://127.0.0.1:${port}/oauth2/v3/certs` },
    });
    const response = await handler(push());
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NETWORK');
    expect(warnings.join('\n')).toContain('signing keys could not be fetched');
    expect(await pushJobs()).toEqual([]);
  });

  it('refuses other methods with 405', async () => {
    const { handler } = await setup();
    const response = await handler(new Request('https://app.test/api/sync/push/test', { method: 'GET' }));
    expect(response.status).toBe(405);
  });
});

describe('POST {base}/push/{source}: syncs per account', () => {
  it('a storm of 100 pushes in one second for one account causes at most 2 syncs, the last one after the last push', async () => {
    const { handler, pushJobs, time, idle } = await setup();
    let lastPushAt = 0;
    for (let i = 0; i < 100; i++) {
      // History ids past what any sync here reaches: every push asks for one more look.
      const response = await handler(push({ historyId: 1_000 + i }));
      expect(response.status).toBe(204);
      lastPushAt = Date.now();
      await time.advance(10);
    }
    await idle();
    await time.advance(DEBOUNCE_MS); // the follow-up's debounce
    await idle();
    await time.advance(DEBOUNCE_MS);
    await idle();
    expect(time.planned()).toEqual([]);
    const jobs = await pushJobs();
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    expect(jobs.length).toBeLessThanOrEqual(2);
    // No notification lost: a sync started after the last push.
    expect(Date.parse(jobs.at(-1)!.createdAt)).toBeGreaterThanOrEqual(lastPushAt);
  });

  it('pushes already covered by the cursor after the sync cost no second sync', async () => {
    const { handler, pushJobs, time, idle } = await setup();
    for (let i = 0; i < 20; i++) {
      expect((await handler(push({ historyId: 2 }))).status).toBe(204);
      await time.advance(10);
    }
    await idle();
    await time.advance(DEBOUNCE_MS);
    await idle();
    expect(await pushJobs()).toHaveLength(1);
    expect(time.planned()).toEqual([]);
  });

  it('joins a sync already running, and makes one more follow it when the push is newer than what it covered', async () => {
    const { engine, source, handler, pushJobs, time, idle } = await setup();
    source.control.hang();
    const manual = await engine.start({ source: 'test', accountId: ACCOUNT, mode: 'incremental' });
    await source.control.whenHanging();
    expect((await handler(push({ historyId: 50 }))).status).toBe(204);
    expect(await pushJobs()).toEqual([]); // joined, not a second active job
    source.control.release();
    await idle();
    expect((await engine.getJob(manual.job.id))?.status).toBe('completed');
    // The manual sync reached cursor 2, the push said 50: one more sync, after the debounce.
    expect(time.planned()).toHaveLength(1);
    await time.advance(DEBOUNCE_MS);
    await idle();
    const jobs = await pushJobs();
    expect(jobs).toHaveLength(1);
    expect(Date.parse(jobs[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(manual.job.createdAt));
  });

  it('checks once more, shortly after, when a push-started sync found nothing (the notification came first)', async () => {
    const { handler, pushJobs, time, idle } = await setup({ incrementalChanges: 0 });
    expect((await handler(push({ historyId: 1 }))).status).toBe(204);
    await idle();
    expect(await pushJobs()).toHaveLength(1);
    // After `recheckDelayMs`, and not before the debounce since the first sync has passed.
    const [delay] = time.planned();
    expect(time.planned()).toHaveLength(1);
    expect(delay).toBeGreaterThanOrEqual(RECHECK_MS);
    await time.advance(delay!);
    await idle();
    const jobs = await pushJobs();
    expect(jobs).toHaveLength(2);
    expect(jobs.map((job) => job.counters.stored)).toEqual([0, 0]);
    // Once: the re-check itself found nothing either, and nothing more is planned.
    expect(time.planned()).toEqual([]);
  });

  it('does not re-check a push-started sync that found the change', async () => {
    const { handler, pushJobs, time, idle } = await setup({ incrementalChanges: 3 });
    expect((await handler(push({ historyId: 2 }))).status).toBe(204);
    await idle();
    expect(time.planned()).toEqual([]);
    expect((await pushJobs()).map((job) => job.counters.stored)).toEqual([3]);
  });
});
