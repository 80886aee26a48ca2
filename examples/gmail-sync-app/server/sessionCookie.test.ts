import { describe, expect, it } from 'vitest';
import { createSessionCookie } from './sessionCookie.ts';

const cookieOf = (setCookie: string) => setCookie.split(';')[0]!;

describe('createSessionCookie', () => {
  it('reads back what it issued, among other cookies', () => {
    const sessions = createSessionCookie({ secret: 's3cret' });
    const { session, header } = sessions.issue({ accountId: 'me@example.com' });
    expect(header).toMatch(/HttpOnly; SameSite=Lax/);
    expect(sessions.read(`a=1; ${cookieOf(header)}; b=2`)).toEqual(session);
  });

  it('rejects a forged, edited, foreign or expired cookie', () => {
    let now = 1_700_000_000_000;
    const sessions = createSessionCookie({ secret: 's3cret', maxAgeSeconds: 60, now: () => now });
    const value = cookieOf(sessions.issue({ accountId: 'me@example.com' }).header);
    const [name, token] = value.split('=') as [string, string];
    const [payload, signature] = token.split('.') as [string, string];
    const edited = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), accountId: 'x@y.z' }),
    ).toString('base64url');
    expect(sessions.read(`${name}=${edited}.${signature}`)).toBeNull();
    expect(sessions.read(`${name}=${payload}.`)).toBeNull();
    expect(sessions.read(`${name}=garbage`)).toBeNull();
    expect(sessions.read(null)).toBeNull();
    expect(createSessionCookie({ secret: 'other' }).read(value)).toBeNull();
    now += 61_000;
    expect(sessions.read(value)).toBeNull();
  });
});
