import { afterEach, describe, expect, it } from 'vitest';
import {
  GmailEmulator,
  LEGACY_QUOTA,
  QUOTA_2026,
  type RunningGmailEmulator,
  startGmailEmulator,
} from '../src/index.js';
import { QuotaWindow } from '../src/quota/quotaWindow.js';
import { fakeClock } from './fakeClock.js';
import { gmailClient, sendBatch, tokenFor } from './helpers.js';

describe('cost tables', () => {
  it('exports both profiles with Google’s figures', () => {
    expect(LEGACY_QUOTA.unitsPerUserPerMinute).toBe(15_000);
    expect(LEGACY_QUOTA.costs).toEqual({
      'users.getProfile': 1,
      'users.labels.list': 1,
      'users.messages.list': 5,
      'users.messages.get': 5,
      'users.threads.get': 10,
      'users.history.list': 2,
      'users.watch': 100,
      'users.stop': 50,
    });
    expect(QUOTA_2026.unitsPerUserPerMinute).toBe(6_000);
    expect(QUOTA_2026.costs['users.messages.get']).toBe(20);
    expect(QUOTA_2026.costs['users.threads.get']).toBe(40);
  });
});

describe('QuotaWindow', () => {
  it('admits within the moving window and says when units free up', () => {
    const window = new QuotaWindow(100, 1000);
    const tryCharge = (cost: number, now: number) => {
      const waitMs = window.waitFor(cost, now);
      if (waitMs === 0) window.charge(cost, now);
      return waitMs;
    };
    expect(tryCharge(60, 0)).toBe(0);
    expect(tryCharge(40, 500)).toBe(0);
    expect(tryCharge(1, 600)).toBe(400);
    expect(tryCharge(50, 999)).toBe(1);
    expect(tryCharge(50, 1000)).toBe(0);
    expect(window.used(1000)).toBe(90);
    expect(tryCharge(20, 1200)).toBe(300);
  });
});

function getRequest(emulator: GmailEmulator, token: string, path: string) {
  return emulator.handle(
    new Request(`http://emulator.test${path}`, { headers: { authorization: `Bearer ${token}` } }),
  );
}

describe('per-user quota (fake clock)', () => {
  it('refuses past 15,000 units per scaled minute with Retry-After scaled by the speed', async () => {
    const clock = fakeClock();
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 10 }],
      speed: 10,
      clock,
    });
    const token = tokenFor(emulator);
    const id = emulator.mailbox('me@example.com').idOf(0);
    for (let i = 0; i < 3000; i++) {
      const response = await getRequest(emulator, token, '/gmail/v1/users/me/messages?maxResults=1');
      expect(response.status).toBe(200);
    }
    clock.advance(1500);
    const refused = await getRequest(emulator, token, `/gmail/v1/users/me/messages/${id}`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('4.5');
    expect(await refused.json()).toMatchObject({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        errors: [{ reason: 'rateLimitExceeded', domain: 'usageLimits' }],
      },
    });
    // Another user has a budget of their own.
    emulator.addUser({ address: 'you@example.com', messages: 1 });
    const other = await getRequest(
      emulator,
      tokenFor(emulator, 'you@example.com'),
      '/gmail/v1/users/me/profile',
    );
    expect(other.status).toBe(200);
    clock.advance(4500);
    expect((await getRequest(emulator, token, `/gmail/v1/users/me/messages/${id}`)).status).toBe(200);
    const stats = emulator.stats();
    expect(stats.byUser['me@example.com']).toMatchObject({ rateLimited: 1, units: 15_005, requests: 3002 });
  });

  it('answers 403 userRateLimitExceeded when configured, and nothing when quota is off', async () => {
    const clock = fakeClock();
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 10 }],
      quota: '2026',
      overQuotaStatus: 403,
      clock,
    });
    const token = tokenFor(emulator);
    const id = emulator.mailbox('me@example.com').idOf(0);
    let last: Response | undefined;
    for (let i = 0; i < 301; i++)
      last = await getRequest(emulator, token, `/gmail/v1/users/me/messages/${id}`);
    expect(last!.status).toBe(403);
    expect(last!.headers.get('retry-after')).toBe('60');
    expect(await last!.json()).toMatchObject({
      error: { status: 'PERMISSION_DENIED', errors: [{ reason: 'userRateLimitExceeded' }] },
    });
    emulator.setQuota('off');
    for (let i = 0; i < 400; i++) {
      expect((await getRequest(emulator, token, `/gmail/v1/users/me/messages/${id}`)).status).toBe(200);
    }
    expect(emulator.stats().totals.units).toBe(300 * 20 + 400 * 5);
  });
});

describe('quota over HTTP at speed ×20 (window of three seconds)', () => {
  let running: RunningGmailEmulator | undefined;
  afterEach(() => running?.close());

  async function start() {
    running = await startGmailEmulator({
      users: [{ address: 'me@example.com', messages: 3000, seed: 5 }],
      quota: 'legacy',
      speed: 20,
      maxConcurrentPerUser: 10_000,
    });
    // messages.list with one result costs 5 units and almost no CPU, so even a loaded machine can
    // reach the budget; fifty of them make a batch of 250 units.
    const batch = Array.from({ length: 50 }, () => ({ path: '/gmail/v1/users/me/messages?maxResults=1' }));
    return { running, token: tokenFor(running.emulator), batch };
  }

  it('rate-limits a client that ignores the limit, and the stats show it', async () => {
    const { running, token, batch } = await start();
    let limitedParts = 0;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        for (let i = 0; i < 25; i++) {
          const result = await sendBatch(running.url, token, batch);
          limitedParts += result.parts.filter((p) => p.status === 429).length;
        }
      }),
    );
    const error = await gmailClient(running.url, token)
      .users.messages.list({ userId: 'me', maxResults: 1 })
      .catch((e: unknown) => e as { status: number; response: { headers: Headers } });
    const stats = running.emulator.stats();
    expect(limitedParts).toBeGreaterThan(0);
    expect(stats.byUser['me@example.com']!.rateLimited).toBeGreaterThanOrEqual(limitedParts);
    expect(stats.byMethod['users.messages.list']!.rateLimited).toBeGreaterThan(0);
    // Still inside the window that was over budget, so googleapis sees the 429 too.
    if ('status' in (error as object)) {
      expect((error as { status: number }).status).toBe(429);
      const retryAfter = Number(
        (error as { response: { headers: Headers } }).response.headers.get('retry-after'),
      );
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3);
    }
  });

  it('never rate-limits a client pacing itself at 95 % of the budget', async () => {
    const { running, token, batch } = await start();
    const windowMs = 3000;
    const budget = 0.95 * 15_000;
    const cost = 50 * 5;
    const spent: Array<{ at: number; units: number }> = [];
    const end = Date.now() + 4500;
    let limited = 0;
    let sentUnits = 0;
    let waited = 0;
    while (Date.now() < end) {
      const now = Date.now();
      while (spent.length && spent[0]!.at <= now - windowMs) spent.shift();
      const used = spent.reduce((sum, entry) => sum + entry.units, 0);
      if (used + cost > budget) {
        waited++;
        await new Promise((resolve) => setTimeout(resolve, spent[0]!.at + windowMs - now + 1));
        continue;
      }
      const result = await sendBatch(running.url, token, batch);
      // Recorded when the answer arrives, which is never earlier than the server's own charge.
      spent.push({ at: Date.now(), units: cost });
      sentUnits += cost;
      limited += result.parts.filter((p) => p.status !== 200).length;
    }
    expect(limited).toBe(0);
    expect(running.emulator.stats().totals.rateLimited).toBe(0);
    // It did run into its own ceiling and across window boundaries, so the budget was really used.
    expect(waited).toBeGreaterThan(0);
    expect(sentUnits).toBeGreaterThan(budget);
  });
});
