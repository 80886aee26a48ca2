import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OAuth2Client } from 'google-auth-library';
import { describe, expect, it } from 'vitest';
import {
  buildGoogleAuthUrl,
  codeChallengeOf,
  createCodeVerifier,
  createGoogleOAuthClient,
  exchangeGoogleCode,
  GMAIL_READONLY_SCOPE,
} from './googleOAuth.ts';

describe('buildGoogleAuthUrl', () => {
  it('asks for offline, read-only Gmail access and carries the state, redirect URI and S256 challenge', () => {
    const client = createGoogleOAuthClient({
      clientId: 'id-123.apps.googleusercontent.com',
      clientSecret: 'secret',
      redirectUri: 'http://localhost:3000/auth/google/callback',
    });
    const verifier = createCodeVerifier();
    const url = new URL(buildGoogleAuthUrl(client, 'state-xyz', verifier));
    expect(url.origin + url.pathname).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    const params = url.searchParams;
    expect(params.get('client_id')).toBe('id-123.apps.googleusercontent.com');
    expect(params.get('redirect_uri')).toBe('http://localhost:3000/auth/google/callback');
    expect(params.get('response_type')).toBe('code');
    expect(params.get('access_type')).toBe('offline');
    expect(params.get('prompt')).toBe('consent');
    expect(params.get('scope')).toBe(GMAIL_READONLY_SCOPE);
    expect(params.get('state')).toBe('state-xyz');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('code_challenge')).toBe(codeChallengeOf(verifier));
    expect(url.href).not.toContain(verifier);
    expect(params.has('client_secret')).toBe(false);
  });

  it('makes RFC 7636 verifiers and challenges', () => {
    const verifier = createCodeVerifier();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(createCodeVerifier()).not.toBe(verifier);
    // The RFC's appendix B example.
    expect(codeChallengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });
});

describe('exchangeGoogleCode', () => {
  it('sends the code verifier with the code to the token endpoint', async () => {
    const forms: URLSearchParams[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        forms.push(new URLSearchParams(body));
        response.setHeader('content-type', 'application/json');
        // No refresh token: the exchange stops there, before reading the Gmail profile.
        response.end(JSON.stringify({ access_token: 'at', expires_in: 3600, token_type: 'Bearer' }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const client = new OAuth2Client({
        clientId: 'id',
        clientSecret: 'secret',
        redirectUri: 'http://localhost:3000/auth/google/callback',
        endpoints: { oauth2TokenUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` },
      });
      await expect(exchangeGoogleCode(client, 'the-code', 'the-verifier')).rejects.toMatchObject({
        code: 'no_refresh_token',
      });
      expect(forms[0]?.get('code')).toBe('the-code');
      expect(forms[0]?.get('code_verifier')).toBe('the-verifier');
      expect(forms[0]?.get('grant_type')).toBe('authorization_code');
    } finally {
      server.close();
    }
  });
});
