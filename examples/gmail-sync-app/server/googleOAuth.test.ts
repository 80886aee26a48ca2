import { describe, expect, it } from 'vitest';
import { buildGoogleAuthUrl, createGoogleOAuthClient, GMAIL_READONLY_SCOPE } from './googleOAuth.ts';

describe('buildGoogleAuthUrl', () => {
  it('asks for offline, read-only Gmail access and carries the state and redirect URI', () => {
    const client = createGoogleOAuthClient({
      clientId: 'id-123.apps.googleusercontent.com',
      clientSecret: 'secret',
      redirectUri: 'http://localhost:3000/auth/google/callback',
    });
    const url = new URL(buildGoogleAuthUrl(client, 'state-xyz'));
    expect(url.origin + url.pathname).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    const params = url.searchParams;
    expect(params.get('client_id')).toBe('id-123.apps.googleusercontent.com');
    expect(params.get('redirect_uri')).toBe('http://localhost:3000/auth/google/callback');
    expect(params.get('response_type')).toBe('code');
    expect(params.get('access_type')).toBe('offline');
    expect(params.get('prompt')).toBe('consent');
    expect(params.get('scope')).toBe(GMAIL_READONLY_SCOPE);
    expect(params.get('state')).toBe('state-xyz');
    expect(params.has('client_secret')).toBe(false);
  });
});
