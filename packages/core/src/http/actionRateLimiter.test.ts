import { describe, expect, it, vi } from 'vitest';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import { createActionRateLimiter } from './actionRateLimiter';
import { createSyncHandler } from './syncHandler';

const account = { source: 'test', accountId: 'a' };

describe('createActionRateLimiter', () => {
  it('is a token bucket per principal: burst, then perMinute', () => {
    let now = 0;
    const limit = createActionRateLimiter<string>({ perMinute: 6, burst: 3, clock: { now: () => now } });
    expect([1, 2, 3].map(() => limit('alice', 'start', account))).toEqual([true, true, true]);
    expect(limit('alice', 'cancel', account)).toEqual({ retryAfterSeconds: 10 });
    expect(limit('bob', 'start', account)).toBe(true);
    now += 10_000;
    expect(limit('alice', 'start', account)).toBe(true);
    expect(limit('alice', 'start', account)).toEqual({ retryAfterSeconds: 10 });
  });
});

describe('the rateLimit option', () => {
  const post = (path: string, user = 'alice') =>
    new Request(`http://x${path}`, {
      method: 'POST',
      headers: { authorization: user, 'content-type': 'application/json' },
      body: JSON.stringify(account),
    });

  it('refuses a start/cancel loop with 429 RATE_LIMITED and Retry-After; the engine is not called', async () => {
    const engine = new ScriptedEngine();
    const rateLimit = vi.fn(createActionRateLimiter<string>({ perMinute: 4 }));
    const handler = createSyncHandler(engine, {
      authenticate: (request) => request.headers.get('authorization'),
      authorizeAccount: (user) => user !== 'mallory',
      rateLimit,
    });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 5; i++) {
      last = await handler(post('/jobs'));
      statuses.push(last.status);
      if (last.status !== 202) break;
      const { job } = (await last.json()) as { job: { id: string } };
      last = await handler(post(`/jobs/${job.id}/cancel`));
      statuses.push(last.status);
      if (last.status !== 202) break;
    }
    expect(statuses).toEqual([202, 202, 202, 202, 429]);
    expect(last!.headers.get('retry-after')).toBe('15');
    expect(((await last!.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    expect((await engine.listJobs({ accountId: 'a' })).length).toBe(2);
    expect(rateLimit).toHaveBeenCalledWith('alice', 'cancel', account);
    // Asked only after authorization: an unauthorized caller spends nobody's budget.
    rateLimit.mockClear();
    expect((await handler(post('/jobs', 'mallory'))).status).toBe(403);
    expect(rateLimit).not.toHaveBeenCalled();
  });

  it('answers Retry-After 60 for a plain false', async () => {
    const handler = createSyncHandler(new ScriptedEngine(), {
      authenticate: () => 'alice',
      authorizeAccount: () => true,
      rateLimit: async () => false,
    });
    const response = await handler(post('/jobs'));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('60');
  });
});
