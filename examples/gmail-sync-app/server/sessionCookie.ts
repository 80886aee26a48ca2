import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/** Who is signed in: a visitor id and the mailbox they may sync (`null` until one is connected). */
export interface Session {
  userId: string;
  accountId: string | null;
  /** Epoch seconds when the session was signed. */
  issuedAt: number;
}

export interface SessionCookieOptions {
  /** HMAC-SHA256 key. */
  secret: string;
  /** Cookie name (default `syncjob_session`). */
  name?: string;
  /** Lifetime in seconds (default 30 days). */
  maxAgeSeconds?: number;
  /** Add `Secure` (default false: the demo runs on plain `http://localhost`). */
  secure?: boolean;
  /** Epoch ms, injected for tests (default `Date.now`). */
  now?: () => number;
}

export interface SessionCookie {
  readonly name: string;
  /** The session in the request's `Cookie` header, or `null` when absent, forged or expired. */
  read(cookieHeader: string | null | undefined): Session | null;
  /** A `Set-Cookie` value holding a newly signed session. */
  issue(session: Omit<Session, 'issuedAt' | 'userId'> & { userId?: string }): {
    session: Session;
    header: string;
  };
  /** A `Set-Cookie` value that removes the cookie. */
  clear(): string;
}

const sign = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest();

function cookieValue(header: string, name: string): string | null {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * A stateless session: the JSON payload and its HMAC in one `HttpOnly`, `SameSite=Lax` cookie, so
 * the server keeps no session table and a forged or edited cookie is simply not a session.
 */
export function createSessionCookie(options: SessionCookieOptions): SessionCookie {
  const name = options.name ?? 'syncjob_session';
  const maxAge = options.maxAgeSeconds ?? 30 * 24 * 3600;
  const now = options.now ?? Date.now;
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
        const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
        if (typeof session.userId !== 'string' || typeof session.issuedAt !== 'number') return null;
        if (session.issuedAt + maxAge < now() / 1000) return null;
        return { userId: session.userId, accountId: session.accountId ?? null, issuedAt: session.issuedAt };
      } catch {
        return null;
      }
    },
    issue(input) {
      const session: Session = {
        userId: input.userId ?? randomUUID(),
        accountId: input.accountId,
        issuedAt: Math.floor(now() / 1000),
      };
      const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
      const signature = sign(options.secret, payload).toString('base64url');
      return { session, header: `${name}=${payload}.${signature}; Max-Age=${maxAge}; ${attributes}` };
    },
    clear: () => `${name}=; Max-Age=0; ${attributes}`,
  };
}
