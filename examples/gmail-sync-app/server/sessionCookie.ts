import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { SessionEpochs } from './sessionEpochs.ts';

/** Who is signed in: a visitor id and the mailbox they may sync (`null` until one is connected). */
export interface Session {
  userId: string;
  accountId: string | null;
  /** Epoch seconds when the session was signed. */
  issuedAt: number;
  /** The revocation epoch of its principal when it was issued (see `SessionEpochs`). */
  epoch: number;
}

/** Shortest `secret` accepted: an HMAC key must not be guessable offline from one cookie. */
export const MIN_SESSION_SECRET_LENGTH = 32;

export interface SessionCookieOptions {
  /** HMAC-SHA256 key, at least 32 characters. */
  secret: string;
  /** Cookie name (default `syncjob_session`; `__Host-syncjob_session` when `secure`). */
  name?: string;
  /** Lifetime in seconds (default 7 days). */
  maxAgeSeconds?: number;
  /**
   * Add `Secure` and the `__Host-` name prefix, which the browser only accepts from https with
   * `Path=/` and no `Domain` (default false: the demo runs on plain `http://localhost`).
   */
  secure?: boolean;
  /** Where sign-out is recorded; a cookie of an older epoch is refused (default: nothing is revoked). */
  epochs?: SessionEpochs;
  /** Epoch ms, injected for tests (default `Date.now`). */
  now?: () => number;
}

export interface SessionCookie {
  readonly name: string;
  /** The session in the request's `Cookie` header, or `null` when absent, forged, expired or revoked. */
  read(cookieHeader: string | null | undefined): Session | null;
  /** A `Set-Cookie` value holding a newly signed session. */
  issue(session: { userId?: string | undefined; accountId: string | null }): {
    session: Session;
    header: string;
  };
  /** A `Set-Cookie` value that removes the cookie. */
  clear(): string;
  /** Ends every session of this session's principal (its mailbox, or its visitor id before one). */
  revoke(session: Session): Promise<void>;
}

/** Whose sessions a sign-out ends: every device on the same mailbox, or this visitor before one is connected. */
export const principalOf = (session: Pick<Session, 'userId' | 'accountId'>): string =>
  session.accountId ? `account:${session.accountId}` : `user:${session.userId}`;

const sign = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest();

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * A signed session: the JSON payload and its HMAC in one `HttpOnly`, `SameSite=Lax` cookie, so a
 * forged or edited cookie is simply not a session. The only server state is one epoch per
 * principal, bumped by sign-out, which revokes the cookies issued before it.
 */
export function createSessionCookie(options: SessionCookieOptions): SessionCookie {
  if (typeof options.secret !== 'string' || options.secret.length < MIN_SESSION_SECRET_LENGTH) {
    throw new RangeError(
      `The session secret must be at least ${MIN_SESSION_SECRET_LENGTH} characters (generate one with \`openssl rand -base64 32\`).`,
    );
  }
  const name = options.name ?? (options.secure ? '__Host-syncjob_session' : 'syncjob_session');
  const maxAge = options.maxAgeSeconds ?? 7 * 24 * 3600;
  const now = options.now ?? Date.now;
  const epochs = options.epochs;
  // No Domain attribute: the cookie stays on this host (and `__Host-` requires it).
  const attributes = `Path=/; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;

  return {
    name,
    read(cookieHeader) {
      const value = cookieHeader ? cookieValue(cookieHeader, name) : null;
      const dot = value?.lastIndexOf('.') ?? -1;
      if (!value || dot <= 0) return null;
      const payload = value.slice(0, dot);
      const given = Buffer.from(value.slice(dot + 1), 'base64url');
      const expected = sign(options.secret, payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      try {
        const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Partial<Session>;
        if (typeof parsed.userId !== 'string' || typeof parsed.issuedAt !== 'number') return null;
        if (parsed.issuedAt + maxAge < now() / 1000) return null;
        const session: Session = {
          userId: parsed.userId,
          accountId: parsed.accountId ?? null,
          issuedAt: parsed.issuedAt,
          epoch: typeof parsed.epoch === 'number' ? parsed.epoch : 0,
        };
        if (epochs && session.epoch !== epochs.current(principalOf(session))) return null;
        return session;
      } catch {
        return null;
      }
    },
    issue(input) {
      const userId = input.userId ?? randomUUID();
      const session: Session = {
        userId,
        accountId: input.accountId,
        issuedAt: Math.floor(now() / 1000),
        epoch: epochs?.current(principalOf({ userId, accountId: input.accountId })) ?? 0,
      };
      const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
      const signature = sign(options.secret, payload).toString('base64url');
      return { session, header: `${name}=${payload}.${signature}; Max-Age=${maxAge}; ${attributes}` };
    },
    clear: () => `${name}=; Max-Age=0; ${attributes}`,
    async revoke(session) {
      if (!epochs) throw new Error('Sessions cannot be revoked without `epochs`.');
      await epochs.revoke(principalOf(session));
    },
  };
}
