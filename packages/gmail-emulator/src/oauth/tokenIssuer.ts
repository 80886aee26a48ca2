import type { Clock } from '../clock.js';
import { hash32, hashString } from '../mailbox/prng.js';

/** The OAuth client the token endpoint accepts. */
export interface OAuthClientCredentials {
  clientId: string;
  clientSecret: string;
}

export const DEFAULT_OAUTH_CLIENT: OAuthClientCredentials = {
  clientId: 'emulator-client-id.apps.googleusercontent.com',
  clientSecret: 'emulator-client-secret',
};

/** The refresh token a user gets when none is configured: stable, so a demo can hard-code it. */
export function defaultRefreshToken(address: string): string {
  return `1//emulator-refresh-${address.toLowerCase()}`;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  expiresAt: number;
}

export type TokenCheck =
  | { ok: true; user: string }
  | { ok: false; reason: 'missing' | 'invalid' | 'expired' };

/**
 * Issues and checks tokens. Access tokens are opaque strings bound to one user with an expiry read
 * from the injected clock; refresh tokens stay valid until revoked.
 */
export class TokenIssuer {
  private readonly refreshTokens = new Map<string, { user: string; revoked: boolean }>();
  private readonly accessTokens = new Map<string, { user: string; expiresAt: number }>();
  private issued = 0;

  constructor(
    private readonly clock: Clock,
    readonly client: OAuthClientCredentials,
    /** Default access-token lifetime in seconds. */
    public lifetimeSeconds: number,
  ) {}

  addRefreshToken(user: string, refreshToken: string): void {
    this.refreshTokens.set(refreshToken, { user, revoked: false });
  }

  refreshTokensOf(user: string): string[] {
    return [...this.refreshTokens].filter(([, entry]) => entry.user === user).map(([token]) => token);
  }

  /** Revokes one refresh token, or every refresh token of the user; their access tokens die too. */
  revoke(user: string, refreshToken?: string): number {
    let revoked = 0;
    for (const [token, entry] of this.refreshTokens) {
      if (entry.user === user && (refreshToken === undefined || token === refreshToken) && !entry.revoked) {
        entry.revoked = true;
        revoked++;
      }
    }
    if (refreshToken === undefined) this.expireAccessTokens(user);
    return revoked;
  }

  /** The user of a live refresh token, or undefined when unknown or revoked. */
  userOfRefreshToken(refreshToken: string): string | undefined {
    const entry = this.refreshTokens.get(refreshToken);
    return entry && !entry.revoked ? entry.user : undefined;
  }

  issue(user: string, lifetimeSeconds = this.lifetimeSeconds): IssuedToken {
    this.issued += 1;
    const accessToken = `ya29.emulator-${hash32(hashString(user), this.issued).toString(36)}-${this.issued}`;
    const expiresAt = this.clock.now() + lifetimeSeconds * 1000;
    this.accessTokens.set(accessToken, { user, expiresAt });
    return { accessToken, expiresIn: lifetimeSeconds, expiresAt };
  }

  /** Makes every access token of the user expired now (refresh tokens stay valid). */
  expireAccessTokens(user: string): void {
    const now = this.clock.now();
    for (const entry of this.accessTokens.values()) {
      if (entry.user === user) entry.expiresAt = Math.min(entry.expiresAt, now);
    }
  }

  check(authorization: string | null): TokenCheck {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) return { ok: false, reason: 'missing' };
    const entry = this.accessTokens.get(match[1]!);
    if (!entry) return { ok: false, reason: 'invalid' };
    if (entry.expiresAt <= this.clock.now()) return { ok: false, reason: 'expired' };
    return { ok: true, user: entry.user };
  }

  clearAccessTokens(): void {
    this.accessTokens.clear();
  }
}
