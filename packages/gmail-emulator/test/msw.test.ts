import { gmail as createGmail } from '@googleapis/gmail';
import { GaxiosError } from 'gaxios';
import { OAuth2Client } from 'google-auth-library';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_OAUTH_CLIENT, defaultRefreshToken, GmailEmulator } from '../src/index.js';
import { createGmailHandlers } from '../src/msw.js';
import { buildBatch, parseBatch } from './helpers.js';

const emulator = new GmailEmulator({ users: [{ address: 'me@example.com', messages: 200, seed: 4 }] });
const server = setupServer(...createGmailHandlers(emulator));

beforeAll(() => server.listen({ onUnhandledFrame: 'error' }));
afterAll(() => server.close());
beforeEach(() => emulator.reset());

function gmailWithDefaults() {
  // No rootUrl and no token URL: the client talks to Google's real hosts, which msw intercepts.
  const auth = new OAuth2Client({
    clientId: DEFAULT_OAUTH_CLIENT.clientId,
    clientSecret: DEFAULT_OAUTH_CLIENT.clientSecret,
  });
  auth.setCredentials({ refresh_token: defaultRefreshToken('me@example.com') });
  return createGmail({ version: 'v1', auth, retry: false });
}

describe('msw handlers', () => {
  it('serve the same Gmail through setupServer, OAuth refresh included', async () => {
    const gmail = gmailWithDefaults();
    const profile = await gmail.users.getProfile({ userId: 'me' });
    expect(profile.data).toMatchObject({ emailAddress: 'me@example.com', messagesTotal: 200 });
    const list = await gmail.users.messages.list({ userId: 'me', maxResults: 2 });
    expect(list.data.messages).toHaveLength(2);
    const message = await gmail.users.messages.get({
      userId: 'me',
      id: list.data.messages![0]!.id!,
      format: 'raw',
    });
    expect(Buffer.from(message.data.raw!, 'base64url').toString()).toContain('MIME-Version: 1.0');
    const missing = (await gmail.users.threads
      .get({ userId: 'me', id: '0000000000000000' })
      .catch((e: unknown) => e)) as GaxiosError;
    expect(missing).toBeInstanceOf(GaxiosError);
    expect(missing.status).toBe(404);
    expect(emulator.stats().tokens.requests).toBe(1);
  });

  it('serve the batch endpoint', async () => {
    const token = emulator.issueAccessToken('me@example.com').accessToken;
    const ids = [0, 1, 2].map((i) => emulator.mailbox('me@example.com').idOf(i));
    const { body, contentType } = buildBatch(
      ids.map((id, i) => ({
        contentId: `item${i}`,
        path: `/gmail/v1/users/me/messages/${id}?format=minimal`,
      })),
    );
    const response = await fetch('https://gmail.googleapis.com/batch/gmail/v1', {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
      body,
    });
    const parts = parseBatch(response.headers.get('content-type')!, await response.text());
    expect(parts.map((p) => [p.contentId, p.status, (p.body as { id: string }).id])).toEqual(
      ids.map((id, i) => [`response-item${i}`, 200, id]),
    );
  });

  it('turn a dropped connection into a network error', async () => {
    emulator.addFault({ dropRate: 1, methods: ['users.labels.list'] });
    const gmail = gmailWithDefaults();
    const error = await gmail.users.labels.list({ userId: 'me' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as GaxiosError).status).toBeUndefined();
  });

  it('apply quota and revoked refresh tokens the same way', async () => {
    emulator.setQuota(
      { name: 'tiny', unitsPerUserPerMinute: 3, costs: { ...emulator.quota.profile.costs } },
      1,
    );
    const gmail = gmailWithDefaults();
    await gmail.users.labels.list({ userId: 'me' });
    await gmail.users.labels.list({ userId: 'me' });
    await gmail.users.labels.list({ userId: 'me' });
    const limited = (await gmail.users.labels.list({ userId: 'me' }).catch((e: unknown) => e)) as GaxiosError;
    expect(limited.status).toBe(429);
    emulator.setQuota('legacy', 1);
    emulator.revokeRefreshTokens('me@example.com');
    const revoked = (await gmailWithDefaults()
      .users.getProfile({ userId: 'me' })
      .catch((e: unknown) => e)) as GaxiosError;
    expect(revoked.status).toBe(400);
    expect(revoked.response?.data).toMatchObject({ error: 'invalid_grant' });
  });
});
