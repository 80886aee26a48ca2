import { gmail as createGmail } from '@googleapis/gmail';
import { GaxiosError } from 'gaxios';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_OAUTH_CLIENT,
  defaultRefreshToken,
  type RunningGmailEmulator,
  startGmailEmulator,
} from '../src/index.js';
import { gmailClient } from './helpers.js';

let running: RunningGmailEmulator;

beforeAll(async () => {
  running = await startGmailEmulator({
    users: [{ address: 'me@example.com', messages: 20 }],
    tokenLifetimeSeconds: 1800,
  });
});

afterAll(() => running.close());

function oauthClient(options: { forceRefreshOnFailure?: boolean } = {}) {
  const auth = new OAuth2Client({
    clientId: DEFAULT_OAUTH_CLIENT.clientId,
    clientSecret: DEFAULT_OAUTH_CLIENT.clientSecret,
    endpoints: { oauth2TokenUrl: `${running.url}/token` },
    ...options,
  });
  auth.setCredentials({ refresh_token: defaultRefreshToken('me@example.com') });
  return auth;
}

describe('OAuth token endpoint', () => {
  it('refreshes through google-auth-library and serves Gmail with the new token', async () => {
    const auth = oauthClient();
    const gmail = createGmail({ version: 'v1', auth, rootUrl: `${running.url}/`, retry: false });
    const { data } = await gmail.users.getProfile({ userId: 'me' });
    expect(data.emailAddress).toBe('me@example.com');
    expect(auth.credentials.access_token).toMatch(/^ya29\./);
    const expiresIn = (auth.credentials.expiry_date! - Date.now()) / 1000;
    expect(expiresIn).toBeGreaterThan(1700);
    expect(expiresIn).toBeLessThanOrEqual(1800);
  });

  it('answers 401 with Google body once the access token expires', async () => {
    const auth = oauthClient();
    const gmail = createGmail({ version: 'v1', auth, rootUrl: `${running.url}/`, retry: false });
    await gmail.users.getProfile({ userId: 'me' });
    running.emulator.expireAccessTokens('me@example.com');
    const error = await gmail.users.getProfile({ userId: 'me' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GaxiosError);
    const gaxios = error as GaxiosError;
    expect(gaxios.status).toBe(401);
    expect(gaxios.response?.data.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
    expect(gaxios.response?.data.error.errors[0].reason).toBe('authError');
    expect(gaxios.response?.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('expires tokens after their lifetime', async () => {
    const token = running.emulator.issueAccessToken('me@example.com', 0.05).accessToken;
    const gmail = gmailClient(running.url, token);
    await gmail.users.getProfile({ userId: 'me' });
    await new Promise((resolve) => setTimeout(resolve, 80));
    const error = (await gmail.users.getProfile({ userId: 'me' }).catch((e: unknown) => e)) as GaxiosError;
    expect(error.status).toBe(401);
  });

  it('refreshes once on 401 when asked to, then works', async () => {
    const auth = oauthClient({ forceRefreshOnFailure: true });
    const gmail = createGmail({ version: 'v1', auth, rootUrl: `${running.url}/`, retry: false });
    await gmail.users.getProfile({ userId: 'me' });
    const first = auth.credentials.access_token;
    running.emulator.expireAccessTokens('me@example.com');
    await gmail.users.getProfile({ userId: 'me' });
    expect(auth.credentials.access_token).not.toBe(first);
  });

  it('answers 401 without credentials, with reason required', async () => {
    const response = await fetch(`${running.url}/gmail/v1/users/me/profile`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: { status: 'UNAUTHENTICATED', errors: [{ reason: 'required' }] },
    });
  });

  it('refuses a wrong client and, after revocation, the refresh token with invalid_grant', async () => {
    const wrong = new OAuth2Client({
      clientId: 'someone-else',
      clientSecret: 'x',
      endpoints: { oauth2TokenUrl: `${running.url}/token` },
    });
    wrong.setCredentials({ refresh_token: defaultRefreshToken('me@example.com') });
    const clientError = (await wrong.getAccessToken().catch((e: unknown) => e)) as GaxiosError;
    expect(clientError.status).toBe(401);
    expect(clientError.response?.data).toMatchObject({ error: 'invalid_client' });

    const revoke = await fetch(`${running.url}/_emulator/users/me@example.com/tokens/revoke`, {
      method: 'POST',
    });
    expect(await revoke.json()).toEqual({ revoked: 1 });
    const auth = oauthClient();
    const error = (await auth.getAccessToken().catch((e: unknown) => e)) as GaxiosError;
    expect(error).toBeInstanceOf(GaxiosError);
    expect(error.status).toBe(400);
    expect(error.response?.data).toEqual({
      error: 'invalid_grant',
      error_description: 'Token has been expired or revoked.',
    });
  });
});
