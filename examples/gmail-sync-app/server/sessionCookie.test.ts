import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSessionCookie } from './sessionCookie.ts';
import { createMemorySessionEpochs, openFileSessionEpochs } from './sessionEpochs.ts';

const cookieOf = (setCookie: string) => setCookie.split(';')[0]!;
const SECRET = 's3cret-s3cret-s3cret-s3cret-s3cret';

describe('createSessionCookie', () => {
  it('reads back what it issued, among other cookies', () => {
    const sessions = createSessionCookie({ secret: SECRET });
    const { session, header } = sessions.issue({ accountId: 'me@example.com' });
    expect(header).toMatch(/HttpOnly; SameSite=Lax/);
    expect(sessions.read(`a=1; ${cookieOf(header)}; b=2`)).toEqual(session);
  });

  it('rejects a forged, edited, foreign or expired cookie', () => {
    let now = 1_700_000_000_000;
    const sessions = createSessionCookie({ secret: SECRET, maxAgeSeconds: 60, now: () => now });
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
    expect(createSessionCookie({ secret: `${SECRET}-other` }).read(value)).toBeNull();
    now += 61_000;
    expect(sessions.read(value)).toBeNull();
  });

  it('lasts 7 days by default', () => {
    let now = 1_700_000_000_000;
    const sessions = createSessionCookie({ secret: SECRET, now: () => now });
    const { header } = sessions.issue({ accountId: null });
    expect(header).toContain(`Max-Age=${7 * 24 * 3600};`);
    now += 7 * 24 * 3600 * 1000 - 1000;
    expect(sessions.read(cookieOf(header))).not.toBeNull();
    now += 2000;
    expect(sessions.read(cookieOf(header))).toBeNull();
  });

  it('refuses a secret shorter than 32 characters', () => {
    expect(() => createSessionCookie({ secret: 'x'.repeat(31) })).toThrow(/at least 32 characters/);
    expect(() => createSessionCookie({ secret: '' })).toThrow(RangeError);
  });

  it('uses the __Host- prefix with Secure, Path=/ and no Domain over https', () => {
    const sessions = createSessionCookie({ secret: SECRET, secure: true });
    const { header, session } = sessions.issue({ accountId: 'me@example.com' });
    expect(sessions.name).toBe('__Host-syncjob_session');
    expect(header).toMatch(
      /^__Host-syncjob_session=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
    );
    expect(header).not.toMatch(/domain/i);
    expect(sessions.read(cookieOf(header))).toEqual(session);
    expect(sessions.clear()).toMatch(/^__Host-syncjob_session=; Max-Age=0; Path=\/; .*Secure$/);
    // Plain http (the local demo) keeps the plain name: browsers drop __Host- cookies without Secure.
    expect(createSessionCookie({ secret: SECRET }).issue({ accountId: null }).header).toMatch(
      /^syncjob_session=.*SameSite=Lax$/,
    );
  });

  it('sign-out revokes every cookie of that mailbox, on every device, and none of the others', async () => {
    const epochs = createMemorySessionEpochs();
    const sessions = createSessionCookie({ secret: SECRET, epochs });
    const laptop = sessions.issue({ accountId: 'me@example.com' });
    const phone = sessions.issue({ accountId: 'me@example.com' });
    const other = sessions.issue({ accountId: 'you@example.com' });
    const anonymous = sessions.issue({ accountId: null });
    await sessions.revoke(laptop.session);
    expect(sessions.read(cookieOf(laptop.header))).toBeNull();
    expect(sessions.read(cookieOf(phone.header))).toBeNull();
    expect(sessions.read(cookieOf(other.header))).toEqual(other.session);
    expect(sessions.read(cookieOf(anonymous.header))).toEqual(anonymous.session);
    // Signing in again afterwards works.
    const again = sessions.issue({ accountId: 'me@example.com' });
    expect(sessions.read(cookieOf(again.header))).toEqual(again.session);
    // Before a mailbox is connected, the visitor id is the principal.
    await sessions.revoke(anonymous.session);
    expect(sessions.read(cookieOf(anonymous.header))).toBeNull();
  });

  it('keeps revocations across a restart (epochs in a file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncjob-epochs-'));
    try {
      const path = join(dir, 'data', 'session-epochs.json');
      const before = createSessionCookie({ secret: SECRET, epochs: await openFileSessionEpochs(path) });
      const issued = before.issue({ accountId: 'me@example.com' });
      await before.revoke(issued.session);
      const after = createSessionCookie({ secret: SECRET, epochs: await openFileSessionEpochs(path) });
      expect(after.read(cookieOf(issued.header))).toBeNull();
      const fresh = after.issue({ accountId: 'me@example.com' });
      expect(after.read(cookieOf(fresh.header))).toEqual(fresh.session);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
