import { SyncError } from '@syncjob/core';
import { OAuth2Client } from 'google-auth-library';
import { reasonOf } from './gmailErrors';

/** One user's OAuth credentials: the app's client and the refresh token the user granted. */
export interface GmailOAuthCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** The OAuth token endpoint (default Google's, `https://oauth2.googleapis.com/token`). */
  tokenUrl?: string;
}

/** A ready `OAuth2Client` (holding a refresh token), or the credentials to build one. */
export type GmailAuth = OAuth2Client | GmailOAuthCredentials;

/**
 * How the source gets an account's credentials: one `GmailAuth` for a single-user app, or a function
 * of the job's `accountId` (looked up on every run, so an app with many users reads each user's
 * current refresh token from its own database).
 */
export type GmailAuthOption = GmailAuth | ((accountId: string) => GmailAuth | Promise<GmailAuth>);

const isClient = (auth: GmailAuth): auth is OAuth2Client =>
  typeof (auth as OAuth2Client).getAccessToken === 'function';

/** An access token and the refresh generation it belongs to. */
export interface AccessToken {
  token: string;
  generation: number;
}

/**
 * The access tokens of one account. `getAccessToken` refreshes when the token expires; a 401 asks
 * for one forced refresh, shared by every call that saw the same token, after which a second 401
 * means the grant is gone (`REAUTH_REQUIRED`). Tokens never leave this object except into an
 * `Authorization` header.
 */
export class GmailAuthSession {
  readonly client: OAuth2Client;
  #generation = 0;
  #refreshing: Promise<void> | null = null;

  constructor(client: OAuth2Client) {
    this.client = client;
  }

  static from(auth: GmailAuth): GmailAuthSession {
    if (isClient(auth)) return new GmailAuthSession(auth);
    const client = new OAuth2Client({
      clientId: auth.clientId,
      clientSecret: auth.clientSecret,
      ...(auth.tokenUrl ? { endpoints: { oauth2TokenUrl: auth.tokenUrl } } : {}),
    });
    client.setCredentials({ refresh_token: auth.refreshToken });
    return new GmailAuthSession(client);
  }

  get generation(): number {
    return this.#generation;
  }

  async token(): Promise<AccessToken> {
    await this.#refreshing;
    const generation = this.#generation;
    try {
      const { token } = await this.client.getAccessToken();
      if (!token)
        throw new SyncError(
          'REAUTH_REQUIRED',
          'Google issued no access token. Ask the user to sign in with Google again.',
        );
      return { token, generation };
    } catch (error) {
      throw refreshErrorOf(error);
    }
  }

  /**
   * Forces one refresh after a 401 on a token of `generation`. When another call already refreshed
   * since, it returns at once: that call's 401 came from the old token.
   */
  async refresh(generation: number): Promise<void> {
    if (generation < this.#generation) return;
    if (!this.#refreshing) {
      this.#refreshing = (async () => {
        try {
          if (!this.client.credentials.refresh_token) {
            throw new SyncError(
              'REAUTH_REQUIRED',
              'Gmail refused the access token and there is no refresh token to renew it. Ask the user to sign in with Google again.',
              { retryable: false },
            );
          }
          await this.client.refreshAccessToken();
          this.#generation += 1;
        } catch (error) {
          throw refreshErrorOf(error);
        } finally {
          this.#refreshing = null;
        }
      })();
    }
    await this.#refreshing;
  }
}

/** A failed token refresh: a refused grant or client needs a new sign-in; anything else is retried. */
function refreshErrorOf(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const response = (error as { response?: { status?: unknown; data?: unknown } } | undefined)?.response;
  const status = typeof response?.status === 'number' ? response.status : undefined;
  const reason = reasonOf(response?.data);
  if (status !== undefined && status >= 400 && status < 500) {
    const what =
      reason === 'invalid_grant'
        ? 'the refresh token was revoked or has expired'
        : reason === 'invalid_client'
          ? 'the OAuth client id or secret is wrong'
          : `the token endpoint answered ${status}${reason ? ` ${reason}` : ''}`;
    return new SyncError(
      'REAUTH_REQUIRED',
      `Google refused to refresh the access token: ${what}. Ask the user to sign in with Google again.`,
      {
        retryable: false,
        details: { status, ...(reason ? { reason } : {}) },
      },
    );
  }
  return new SyncError(
    'NETWORK',
    `Refreshing the Google access token failed${status ? ` (${status})` : ''}; it will be retried.`,
    { retryable: true, ...(status ? { details: { status } } : {}) },
  );
}

/** Resolves the auth option for an account. */
export async function resolveAuth(option: GmailAuthOption, accountId: string): Promise<GmailAuth> {
  return typeof option === 'function' ? await option(accountId) : option;
}

/** Identifies the credentials behind an auth, so a session (and its access token) is reused while they stay the same. */
export function authKeyOf(auth: GmailAuth): unknown {
  return isClient(auth) ? auth : `${auth.clientId}\u0000${auth.refreshToken}\u0000${auth.tokenUrl ?? ''}`;
}
