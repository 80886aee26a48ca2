import { describe, expect, it } from 'vitest';
import { ScriptedEngine } from './__tests__/scriptedEngine';
import { createSyncHandler } from './syncHandler';

/** mulberry32: a small seeded RNG, so a failing request can be replayed from its seed. */
function rng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  return { next, pick, chance: (p: number) => next() < p };
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;
const ACTIONS = ['', '/logs', '/events', '/cancel', '/retry', '/x', '/logs/extra', '/'];
const WEIRD = [
  'undefined',
  'null',
  '',
  ' ',
  '%00',
  '%ZZ',
  '..',
  'active',
  '1',
  '-1',
  '💥',
  'a'.repeat(3000),
  "' OR 1=1 --",
];

describe('createSyncHandler fuzz', () => {
  it('answers 1,000 random requests without a 5xx, every error as JSON with a code', async () => {
    const engine = new ScriptedEngine();
    const handler = createSyncHandler(engine, {
      basePath: '/api/sync',
      authenticate: (request) => request.headers.get('authorization')?.replace(/^Bearer /, '') || null,
      authorizeAccount: (user: string, { accountId }) => accountId.startsWith(user),
      onError: () => {},
    });
    const { job } = await engine.start({ source: 'test', accountId: 'alice-1' });
    const finished = (await engine.start({ source: 'test', accountId: 'alice-2' })).job;
    await engine.cancel(finished.id);
    const ids = [job.id, finished.id, job.id.toUpperCase(), crypto.randomUUID(), ...WEIRD];

    const seed = 20_260_501;
    const random = rng(seed);
    const randomString = () => {
      const length = Math.floor(random.next() * 12);
      return Array.from({ length }, () => String.fromCharCode(32 + Math.floor(random.next() * 95))).join('');
    };
    const randomValue = (): unknown =>
      random.pick([
        () => randomString(),
        () => random.next() * 1e6 - 5e5,
        () => null,
        () => random.chance(0.5),
        () => [randomString()],
        () => ({ nested: randomString() }),
        () => 'test',
        () => 'alice-1',
      ])();
    const randomBody = (): string | undefined =>
      random.pick([
        () => undefined,
        () => '',
        () => randomString(),
        () => JSON.stringify({ source: randomValue(), accountId: randomValue(), mode: randomValue() }),
        () => JSON.stringify({ source: 'test', accountId: `alice-${Math.floor(random.next() * 5)}` }),
        () => JSON.stringify([randomValue()]),
        () => JSON.stringify(randomValue()),
        () => `{"source":"test","accountId":"alice-1","pad":"${'x'.repeat(17_000)}"}`,
      ])();
    const randomQuery = () => {
      const params = new URLSearchParams();
      for (const name of ['source', 'accountId', 'limit', 'afterSeq', 'other']) {
        if (random.chance(0.5)) params.append(name, String(randomValue()));
        if (random.chance(0.1)) params.append(name, String(randomValue()));
      }
      return params.size > 0 ? `?${params}` : '';
    };
    const randomPath = () =>
      random.pick([
        () => `/api/sync/jobs${randomQuery()}`,
        () => `/api/sync/jobs/active${randomQuery()}`,
        () => `/api/sync/jobs/${random.pick(ids)}${random.pick(ACTIONS)}${randomQuery()}`,
        () => `/api/sync/${randomString()}`,
        () => `/${randomString()}/jobs`,
        () => `/api/sync/jobs/${encodeURIComponent(randomString())}${random.pick(ACTIONS)}`,
      ])();

    let count = 0;
    for (let i = 0; count < 1000; i++) {
      const method = random.pick(METHODS);
      const headers: Record<string, string> = {};
      if (random.chance(0.85))
        headers.authorization = random.pick(['Bearer alice', 'Bearer bob', 'Bearer ', 'x']);
      if (random.chance(0.2)) headers['last-event-id'] = String(randomValue()).replace(/[\r\n]/g, '');
      if (random.chance(0.3)) headers['content-type'] = random.pick(['application/json', 'text/plain', '']);
      const body = method === 'GET' || method === 'HEAD' ? undefined : randomBody();
      const path = randomPath();
      let request: Request;
      try {
        request = new Request(new URL(path, 'http://app.test'), { method, headers, body });
      } catch {
        continue;
      }
      const response = await handler(request);
      count++;
      const context = `#${i} ${method} ${path.slice(0, 120)} (seed ${seed})`;
      expect(response.status, context).toBeLessThan(500);
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
        await response.body?.cancel();
        continue;
      }
      const answer = (await response.json()) as { error?: { code?: string; message?: unknown } };
      if (response.status >= 400) {
        expect(answer.error?.code, context).toMatch(/^[A-Z_]+$/);
        expect(typeof answer.error?.message, context).toBe('string');
      }
    }
    expect(count).toBe(1000);
  });
});
