import { GaxiosError } from 'gaxios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GmailEmulator, type RunningGmailEmulator, startGmailEmulator } from '../src/index.js';
import { fakeClock } from './fakeClock.js';
import { gmailClient, tokenFor } from './helpers.js';

function call(emulator: GmailEmulator, token: string, path = '/gmail/v1/users/me/profile') {
  return emulator.handle(
    new Request(`http://emulator.test${path}`, { headers: { authorization: `Bearer ${token}` } }),
  );
}

async function statuses(seed: number): Promise<number[]> {
  const emulator = new GmailEmulator({
    users: [{ address: 'me@example.com', messages: 5 }],
    quota: 'off',
    seed,
    faults: [{ errorRate: 0.3 }],
    clock: fakeClock(),
  });
  const token = tokenFor(emulator);
  const result: number[] = [];
  for (let i = 0; i < 200; i++) result.push((await call(emulator, token)).status);
  return result;
}

describe('injected faults', () => {
  it('fails a seeded share of calls with backendError, the same way on every run', async () => {
    const first = await statuses(42);
    expect(await statuses(42)).toEqual(first);
    expect(await statuses(43)).not.toEqual(first);
    const failures = first.filter((status) => status === 500).length;
    expect(failures).toBeGreaterThan(35);
    expect(failures).toBeLessThan(85);
  });

  it('answers 503 UNAVAILABLE and counts server errors per method', async () => {
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 5 }],
      clock: fakeClock(),
    });
    emulator.addFault({ errorRate: 1, errorStatus: 503, methods: ['users.labels.list'] });
    const token = tokenFor(emulator);
    const response = await call(emulator, token, '/gmail/v1/users/me/labels');
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      error: { code: 503, status: 'UNAVAILABLE', errors: [{ reason: 'backendError' }] },
    });
    expect((await call(emulator, token)).status).toBe(200);
    expect(emulator.stats().byMethod['users.labels.list']!.serverErrors).toBe(1);
  });

  it('answers a burst of rate limits with Retry-After, then recovers', async () => {
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 5 }],
      speed: 10,
      clock: fakeClock(),
    });
    emulator.addFault({ rateLimitBurst: { count: 2, status: 403, retryAfterSeconds: 5 } });
    const token = tokenFor(emulator);
    const first = await call(emulator, token);
    expect(first.status).toBe(403);
    expect(first.headers.get('retry-after')).toBe('0.5');
    expect(await first.json()).toMatchObject({ error: { errors: [{ reason: 'userRateLimitExceeded' }] } });
    expect((await call(emulator, token)).status).toBe(403);
    expect((await call(emulator, token)).status).toBe(200);
    expect(emulator.stats().totals.rateLimited).toBe(2);
  });

  it('adds fixed plus random latency from the injected clock', async () => {
    const clock = fakeClock();
    const emulator = new GmailEmulator({ users: [{ address: 'me@example.com', messages: 5 }], clock });
    emulator.addFault({ latency: { fixedMs: 100, randomMs: 50 }, methods: ['users.getProfile'] });
    const token = tokenFor(emulator);
    for (let i = 0; i < 20; i++) await call(emulator, token);
    await call(emulator, token, '/gmail/v1/users/me/labels');
    expect(clock.sleeps).toHaveLength(20);
    for (const ms of clock.sleeps) {
      expect(ms).toBeGreaterThanOrEqual(100);
      expect(ms).toBeLessThan(150);
    }
    expect(new Set(clock.sleeps).size).toBeGreaterThan(1);
  });

  it('answers the concurrency 429 past the per-user limit', async () => {
    const emulator = new GmailEmulator({ users: [{ address: 'me@example.com', messages: 5 }] });
    emulator.addFault({ latency: { fixedMs: 50 }, maxConcurrent: 2 });
    const token = tokenFor(emulator);
    const results = await Promise.all(Array.from({ length: 5 }, () => call(emulator, token)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429]);
    const body = await results.find((r) => r.status === 429)!.json();
    expect(body).toMatchObject({ error: { message: 'Too many concurrent requests for user.' } });
    expect(emulator.stats().totals.concurrencyLimited).toBe(3);
  });
});

describe('dropped connections through node:http', () => {
  let running: RunningGmailEmulator;
  beforeAll(async () => {
    running = await startGmailEmulator({ users: [{ address: 'me@example.com', messages: 50 }] });
  });
  afterAll(() => running.close());

  it.each(['headers', 'body'] as const)('cuts the socket after the %s', async (dropAt) => {
    const token = tokenFor(running.emulator);
    const added = await fetch(`${running.url}/_emulator/faults`, {
      method: 'POST',
      body: JSON.stringify({ dropRate: 1, dropAt, methods: ['users.messages.get'] }),
    });
    expect(added.status).toBe(201);
    const id = running.emulator.mailbox('me@example.com').idOf(3);
    const response = await fetch(`${running.url}/gmail/v1/users/me/messages/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();

    const gmail = gmailClient(running.url, token);
    const error = await gmail.users.messages.get({ userId: 'me', id }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toHaveProperty('response.status', 200);
    // Other methods are untouched, and clearing the faults restores messages.get.
    expect((await gmail.users.getProfile({ userId: 'me' })).status).toBe(200);
    await fetch(`${running.url}/_emulator/faults`, { method: 'DELETE' });
    expect((await gmail.users.messages.get({ userId: 'me', id })).data.id).toBe(id);
    expect(running.emulator.stats().byMethod['users.messages.get']!.dropped).toBeGreaterThanOrEqual(2);
  });

  it('parses rate-limit answers into GaxiosError with the reason', async () => {
    running.emulator.addFault({ rateLimitBurst: { count: 1 } });
    const gmail = gmailClient(running.url, tokenFor(running.emulator));
    const error = (await gmail.users.labels.list({ userId: 'me' }).catch((e: unknown) => e)) as GaxiosError;
    expect(error).toBeInstanceOf(GaxiosError);
    expect(error.status).toBe(429);
    expect(error.response?.headers.get('retry-after')).toBe('1');
    expect(error.response?.data.error.errors[0].reason).toBe('rateLimitExceeded');
    running.emulator.clearFaults();
  });
});
