import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MailDataReader } from '@syncjob/core';
import type { SyncHandler } from '@syncjob/core/http';
import { OAuth2Client } from 'google-auth-library';
import { afterAll, describe, expect, it } from 'vitest';
import { type AppHandlerOptions, createAppHandler } from './appHandler.ts';
import { codeChallengeOf } from './googleOAuth.ts';
import { createSessionCookie } from './sessionCookie.ts';
import { createMemorySessionEpochs } from './sessionEpochs.ts';
import { createStaticFiles } from './staticFiles.ts';
import type { TokenVault } from './tokenVault.ts';

const SECRET = 'app-handler-test-secret-0123456789abcdef';
const webDir = mkdtempSync(join(tmpdir(), 'syncjob-web-'));
writeFileSync(join(webDir, 'index.html'), '<!doctype html><title>t</title>');
afterAll(() => rmSync(webDir, { recursive: true, force: true }));

const cookieOf = (setCookie: string) => setCookie.split(';')[0]!;

function app(overrides: Partial<AppHandlerOptions> & { secure?: boolean } = {}) {
  const errors: unknown[] = [];
  const sessions = createSessionCookie({
    secret: SECRET,
    secure: overrides.secure ?? false,
    epochs: createMemorySessionEpochs(),
  });
  const vault: TokenVault = { get: async () => null, set: async () => {} };
  const handler = createAppHandler({
    sessions,
    syncHandler: (async () => new Response(null, { status: 204 })) as unknown as SyncHandler,
    data: {} as MailDataReader,
    staticFiles: createStaticFiles(webDir),
    google: {
      client: new OAuth2Client({
        clientId: 'id.apps.googleusercontent.com',
        clientSecret: 'secret',
        redirectUri: 'https://sync.example.com/auth/google/callback',
      }),
      vault,
    },
    secureCookies: overrides.secure ?? false,
    onError: (error) => errors.push(error),
    ...overrides,
  });
  const call = (path: string, init: RequestInit = {}) => handler(new Request(`http://app.test${path}`, init));
  return { handler, call, sessions, errors };
}

describe('the Google consent flow', () => {
  it('keeps the state and a PKCE verifier in an HttpOnly cookie, Secure over https, and sends the S256 challenge', async () => {
    for (const secure of [false, true]) {
      const { call } = app({ secure });
      const response = await call('/auth/google');
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get('location')!);
      const stateCookie = response.headers.getSetCookie().find((c) => c.includes('oauth_state'))!;
      const [name, value] = cookieOf(stateCookie).split('=') as [string, string];
      const [state, verifier] = value.split('.') as [string, string];
      expect(location.searchParams.get('state')).toBe(state);
      expect(location.searchParams.get('code_challenge')).toBe(codeChallengeOf(verifier));
      expect(location.searchParams.get('code_challenge_method')).toBe('S256');
      expect(stateCookie).toMatch(/HttpOnly; SameSite=Lax/);
      if (secure) {
        expect(name).toBe('__Secure-syncjob_oauth_state');
        expect(stateCookie).toMatch(/; Secure$/);
      } else {
        expect(name).toBe('syncjob_oauth_state');
        expect(stateCookie).not.toMatch(/Secure/);
      }
    }
  });

  it('sends the page a fixed error code, never Google’s text or an exception message, and logs the detail', async () => {
    const { call, errors } = app();
    const callback = async (query: string, cookie = 'syncjob_oauth_state=s1.v1') => {
      const response = await call(`/auth/google/callback?${query}`, { headers: { cookie } });
      expect(response.status).toBe(302);
      return response.headers.get('location');
    };
    expect(await callback('error=access_denied&state=s1')).toBe('/?connect_error=access_denied');
    expect(await callback('error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state=s1')).toBe(
      '/?connect_error=oauth_failed',
    );
    expect(await callback('error=Your+account+was+hacked%2C+call+555-0100')).toBe(
      '/?connect_error=oauth_failed',
    );
    expect(await callback('code=c&state=other')).toBe('/?connect_error=state_mismatch');
    expect(await callback('code=c&state=s1', '')).toBe('/?connect_error=state_mismatch');
    // Google refuses the code (here: nothing answers the token request the way Google would).
    const { call: callFailing, errors: failingErrors } = app({
      google: {
        client: Object.assign(new OAuth2Client({ clientId: 'id', clientSecret: 's' }), {
          getToken: async () => {
            throw new Error('invalid_grant: <b>Bad Request</b> token=abc');
          },
        }) as unknown as OAuth2Client,
        vault: { get: async () => null, set: async () => {} },
      },
    });
    const failed = await callFailing('/auth/google/callback?code=c&state=s1', {
      headers: { cookie: 'syncjob_oauth_state=s1.v1' },
    });
    expect(failed.headers.get('location')).toBe('/?connect_error=oauth_failed');
    expect(String(failingErrors[0])).toContain('invalid_grant');
    expect(errors.map(String).join('\n')).toContain('<script>alert(1)</script>');
  });
});

describe('POST /auth/signout', () => {
  it('clears the cookie and revokes every session of that mailbox', async () => {
    const { call, sessions } = app();
    const laptop = cookieOf(sessions.issue({ accountId: 'me@example.com' }).header);
    const phone = cookieOf(sessions.issue({ accountId: 'me@example.com' }).header);
    expect((await call('/api/session', { headers: { cookie: phone } })).status).toBe(200);

    const response = await call('/auth/signout', { method: 'POST', headers: { cookie: laptop } });
    expect(response.status).toBe(204);
    expect(response.headers.get('set-cookie')).toMatch(/^syncjob_session=; Max-Age=0; Path=\//);
    // The old cookies, replayed from this browser or another device, are no session any more.
    expect((await call('/api/session', { headers: { cookie: laptop } })).status).toBe(401);
    expect((await call('/api/session', { headers: { cookie: phone } })).status).toBe(401);
    expect(sessions.read(phone)).toBeNull();

    // Idempotent without a session; GET is not a sign-out (a link or image cannot sign you out).
    expect((await call('/auth/signout', { method: 'POST' })).status).toBe(204);
    expect((await call('/auth/signout')).status).toBe(405);
  });

  it('refuses a sign-out sent by a page of another site or port, and keeps the session', async () => {
    const { call, sessions } = app();
    const cookie = cookieOf(sessions.issue({ accountId: 'me@example.com' }).header);
    const attempts: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site', origin: 'http://evil.test' },
      { 'sec-fetch-site': 'same-site', origin: 'http://app.test:8080' },
      { origin: 'http://evil.test' },
    ];
    for (const headers of attempts) {
      const response = await call('/auth/signout', { method: 'POST', headers: { cookie, ...headers } });
      expect(response.status).toBe(403);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    expect((await call('/api/session', { headers: { cookie } })).status).toBe(200);
    const own = { cookie, 'sec-fetch-site': 'same-origin', origin: 'http://app.test' };
    expect((await call('/auth/signout', { method: 'POST', headers: own })).status).toBe(204);
  });
});

describe('pages', () => {
  it('carry a CSP without inline script, no framing, no referrer and nosniff', async () => {
    const { call } = app();
    for (const path of ['/', '/some/route']) {
      const response = await call(path);
      expect(response.status).toBe(200);
      const csp = response.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('answer 400, not 500, to a malformed percent-escape', async () => {
    const { call, errors } = app();
    for (const path of ['/%E0%A4%A', '/%zz', '/assets/%']) {
      expect((await call(path)).status).toBe(400);
    }
    expect(errors).toEqual([]);
    expect((await createStaticFiles(webDir)('/%E0%A4%A')).status).toBe(400);
  });
});
