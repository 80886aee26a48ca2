import { afterEach, describe, expect, it } from 'vitest';
import { GmailEmulator, LEGACY_QUOTA, type RunningGmailEmulator, startGmailEmulator } from '../src/index.js';
import { fakeClock } from './fakeClock.js';
import { gmailClient, tokenFor } from './helpers.js';

function getRequest(emulator: GmailEmulator, token: string, path: string) {
  return emulator.handle(
    new Request(`http://emulator.test${path}`, { headers: { authorization: `Bearer ${token}` } }),
  );
}

const LIST = '/gmail/v1/users/me/messages?maxResults=1'; // 5 units

describe('project quota per minute (fake clock)', () => {
  it('is shared by every user, answers 429 "Queries per minute" with Retry-After, and charges nothing refused', async () => {
    const clock = fakeClock();
    const emulator = new GmailEmulator({
      users: [
        { address: 'a@example.com', messages: 5 },
        { address: 'b@example.com', messages: 5 },
      ],
      projectUnitsPerMinute: 100,
      speed: 10, // a 6 s minute
      clock,
    });
    const a = tokenFor(emulator, 'a@example.com');
    const b = tokenFor(emulator, 'b@example.com');
    for (let i = 0; i < 10; i++) {
      expect((await getRequest(emulator, a, LIST)).status).toBe(200);
      clock.advance(100);
      expect((await getRequest(emulator, b, LIST)).status).toBe(200);
    }
    // 100 units spent by two users together: neither user is near their own 15,000.
    const refused = await getRequest(emulator, a, LIST);
    expect(refused.status).toBe(429);
    // The first charge (at 0) leaves the 6 s window at 6000; it is now 1000 ms later.
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toMatchObject({
      error: {
        code: 429,
        status: 'RESOURCE_EXHAUSTED',
        message: expect.stringContaining("limit 'Queries per minute'"),
        errors: [{ reason: 'rateLimitExceeded', domain: 'usageLimits' }],
      },
    });
    const stats = emulator.stats();
    expect(stats.byUser['a@example.com']).toMatchObject({ units: 50, rateLimited: 1 });
    expect(stats.project).toMatchObject({
      unitsPerMinute: 100,
      dailyUnits: null,
      windowMs: 6000,
      windowUnits: 100,
      dayUnits: 100,
      refused: { perMinute: 1, daily: 0 },
    });
    clock.advance(4999);
    expect((await getRequest(emulator, b, LIST)).status).toBe(429);
    clock.advance(1);
    expect((await getRequest(emulator, b, LIST)).status).toBe(200);
    const later = emulator.stats().project;
    expect(later.windowUnits).toBe(100);
    expect(later.dayUnits).toBe(105);
    // Fixed windows of 6 s aligned to the epoch: 100 units in the first, 5 in the second.
    expect(later.recentWindows.map((w) => w.units)).toEqual([100, 5]);
  });

  it('applies on top of the per-user quota, and even with the per-user quota off', async () => {
    const clock = fakeClock();
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 5 }],
      quota: 'off',
      projectUnitsPerMinute: 20,
      clock,
    });
    const token = tokenFor(emulator);
    for (let i = 0; i < 4; i++) expect((await getRequest(emulator, token, LIST)).status).toBe(200);
    const refused = await getRequest(emulator, token, LIST);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
  });

  it('a call the user’s own quota refuses is not charged to the project', async () => {
    const clock = fakeClock();
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 5 }],
      quota: { name: 'tiny', unitsPerUserPerMinute: 10, costs: LEGACY_QUOTA.costs },
      projectUnitsPerMinute: 1000,
      clock,
    });
    const token = tokenFor(emulator);
    for (let i = 0; i < 3; i++) await getRequest(emulator, token, LIST);
    const project = emulator.stats().project;
    expect(project.windowUnits).toBe(10);
    expect(project.refused.perMinute).toBe(0);
  });
});

describe('project daily quota (fake clock)', () => {
  it('answers 403 dailyLimitExceeded until the (scaled) day ends at 00:00 UTC, then admits again', async () => {
    const clock = fakeClock(Date.UTC(2026, 0, 15));
    const emulator = new GmailEmulator({
      users: [{ address: 'me@example.com', messages: 5 }],
      projectDailyUnits: 50,
      speed: 1000, // an 86.4 s day
      clock,
    });
    const token = tokenFor(emulator);
    clock.advance(10_000);
    for (let i = 0; i < 10; i++) expect((await getRequest(emulator, token, LIST)).status).toBe(200);
    const refused = await getRequest(emulator, token, LIST);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('retry-after')).toBe('76.4');
    expect(await refused.json()).toMatchObject({
      error: {
        code: 403,
        message: expect.stringContaining("limit 'Queries per day'"),
        errors: [{ reason: 'dailyLimitExceeded', domain: 'usageLimits' }],
      },
    });
    expect(emulator.stats().project).toMatchObject({
      dailyUnits: 50,
      dayUnits: 50,
      dayMs: 86_400,
      dayStartedAt: '2026-01-15T00:00:00.000Z',
      dayEndsAt: '2026-01-15T00:01:26.400Z',
      refused: { perMinute: 0, daily: 1 },
    });
    clock.advance(76_399);
    expect((await getRequest(emulator, token, LIST)).status).toBe(403);
    clock.advance(1);
    expect((await getRequest(emulator, token, LIST)).status).toBe(200);
    expect(emulator.stats().project).toMatchObject({ dayUnits: 5, refused: { daily: 2 } });
  });

  it('rejects a budget that is not a positive number', () => {
    expect(() => new GmailEmulator({ projectDailyUnits: 0 })).toThrow(/projectDailyUnits/);
    expect(() => new GmailEmulator({ projectUnitsPerMinute: -5 })).toThrow(/projectUnitsPerMinute/);
  });
});

describe('project quota over HTTP through googleapis', () => {
  let running: RunningGmailEmulator | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('the Google client sees the 429 with Retry-After, and /_emulator/stats reports the project', async () => {
    running = await startGmailEmulator({
      users: [
        { address: 'a@example.com', messages: 5 },
        { address: 'b@example.com', messages: 5 },
      ],
      projectUnitsPerMinute: 10,
      speed: 0.001, // a minute far longer than the test, so nothing leaves the window
    });
    const a = gmailClient(running.url, tokenFor(running.emulator, 'a@example.com'));
    const b = gmailClient(running.url, tokenFor(running.emulator, 'b@example.com'));
    await a.users.messages.list({ userId: 'me', maxResults: 1 });
    await b.users.messages.list({ userId: 'me', maxResults: 1 });
    const error = await b.users.messages.list({ userId: 'me', maxResults: 1 }).then(
      () => undefined,
      (e: { status?: number; response?: { headers: Headers; data: unknown } }) => e,
    );
    expect(error?.status).toBe(429);
    expect(Number(error?.response?.headers.get('retry-after'))).toBeGreaterThan(59_000);
    expect(error?.response?.data).toMatchObject({ error: { errors: [{ reason: 'rateLimitExceeded' }] } });
    const stats = (await (await fetch(`${running.url}/_emulator/stats`)).json()) as {
      project: { windowUnits: number; refused: { perMinute: number } };
    };
    expect(stats.project).toMatchObject({ windowUnits: 10, refused: { perMinute: 1 } });
    const config = (await (await fetch(`${running.url}/_emulator/config`)).json()) as { project: unknown };
    expect(config.project).toEqual({ unitsPerMinute: 10, dailyUnits: null });
  });
});
