import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningGmailEmulator, startGmailEmulator } from '../src/index.js';
import { sendBatch, tokenFor } from './helpers.js';

let running: RunningGmailEmulator;
let token: string;
let ids: string[];

beforeAll(async () => {
  running = await startGmailEmulator({ users: [{ address: 'me@example.com', messages: 300, seed: 2 }] });
  token = tokenFor(running.emulator);
  const mailbox = running.emulator.mailbox('me@example.com');
  ids = Array.from({ length: 120 }, (_, i) => mailbox.idOf(i));
});

afterAll(() => running.close());

describe('POST /batch/gmail/v1', () => {
  it('answers each part as a full HTTP response with Content-ID response-<id>', async () => {
    const result = await sendBatch(running.url, token, [
      {
        contentId: 'a',
        path: `/gmail/v1/users/me/messages/${ids[0]}?format=metadata&metadataHeaders=Subject`,
      },
      { contentId: 'b', path: `/gmail/v1/users/me/messages/${ids[1]}?format=minimal` },
      { contentId: 'c', path: '/gmail/v1/users/me/messages/ffffffffffffffff' },
      { contentId: 'd', path: '/gmail/v1/users/me/labels' },
    ]);
    expect(result.status).toBe(200);
    expect(result.parts.map((p) => [p.contentId, p.status])).toEqual([
      ['response-a', 200],
      ['response-b', 200],
      ['response-c', 404],
      ['response-d', 200],
    ]);
    expect(result.parts[0]!.headers['content-type']).toContain('application/json');
    expect(result.parts[0]!.body).toMatchObject({ id: ids[0], payload: { headers: [{ name: 'Subject' }] } });
    expect(result.parts[2]!.body).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
  });

  it('charges every part and counts each fetch', async () => {
    running.emulator.resetStats();
    await sendBatch(
      running.url,
      token,
      ids
        .slice(0, 40)
        .map((id, i) => ({ contentId: String(i), path: `/gmail/v1/users/me/messages/${id}?format=minimal` })),
    );
    await sendBatch(running.url, token, [{ path: `/gmail/v1/users/me/messages/${ids[0]}?format=minimal` }]);
    const stats = running.emulator.stats();
    expect(stats.byMethod['users.messages.get']).toMatchObject({ requests: 41, units: 205 });
    expect(stats.batches).toEqual({ requests: 2, parts: 41 });
    expect(stats.byUser['me@example.com']!.fetches).toMatchObject({
      distinctMessages: 40,
      maxFetchesPerMessage: 2,
      refetchedMessages: 1,
      refetched: { [ids[0]!]: 2 },
    });
  });

  it('rejects more than 100 parts with 400, as Google does', async () => {
    const result = await sendBatch(
      running.url,
      token,
      ids.slice(0, 101).map((id) => ({ path: `/gmail/v1/users/me/messages/${id}` })),
    );
    expect(result.status).toBe(400);
  });

  it('answers the concurrency 429 to parts past the per-user limit', async () => {
    const result = await sendBatch(
      running.url,
      token,
      ids
        .slice(0, 100)
        .map((id, i) => ({ contentId: String(i), path: `/gmail/v1/users/me/messages/${id}?format=minimal` })),
    );
    const limited = result.parts.filter((p) => p.status === 429);
    expect(limited).toHaveLength(50);
    expect(limited[0]!.body).toMatchObject({
      error: { message: 'Too many concurrent requests for user.', status: 'RESOURCE_EXHAUSTED' },
    });
    expect(result.parts.slice(0, 50).every((p) => p.status === 200)).toBe(true);
  });

  it('answers 401 parts when the token is missing', async () => {
    const result = await sendBatch(running.url, 'not-a-token', [
      { path: `/gmail/v1/users/me/messages/${ids[0]}` },
    ]);
    expect(result.parts[0]!.status).toBe(401);
  });
});
