import { createHash, randomBytes } from 'node:crypto';
import { type CodeChallengeMethod, OAuth2Client } from 'google-auth-library';

/** Read-only access to the mailbox: all the sync needs. */
export const GMAIL_READONLY_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';

export interface GoogleOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** Must match an "Authorized redirect URI" of the OAuth client exactly. */
  redirectUri: string;
}

/** An OAuth2 client for the app's Google credentials. */
export function createGoogleOAuthClient(options: GoogleOAuthOptions): OAuth2Client {
  return new OAuth2Client({
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    redirectUri: options.redirectUri,
  });
}

/**
 * A PKCE (RFC 7636) code verifier: 32 random bytes, base64url (43 characters). Kept with the
 * state until the callback, so an authorization code stolen on its way back cannot be redeemed.
 */
export const createCodeVerifier = (): string => randomBytes(32).toString('base64url');

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)). */
export const codeChallengeOf = (codeVerifier: string): string =>
  createHash('sha256').update(codeVerifier).digest('base64url');

/**
 * The consent URL. `access_type: 'offline'` asks for a refresh token (the sync runs in the
 * background, long after the visit); `prompt: 'consent'` makes Google issue it again on a
 * reconnect, which it otherwise only does the first time. `state` ties the callback to this visit,
 * and the S256 challenge of `codeVerifier` ties the code to whoever holds the verifier.
 */
export function buildGoogleAuthUrl(client: OAuth2Client, state: string, codeVerifier: string): string {
  return client.generateAuthUrl({
    access_type: 'offline',
    prompt: 'consent',
    scope: [GMAIL_READONLY_SCOPE],
    include_granted_scopes: true,
    state,
    code_challenge: codeChallengeOf(codeVerifier),
    code_challenge_method: 'S256' as CodeChallengeMethod,
  });
}

/** What the callback learns: the account's address and its refresh token. */
export interface GoogleConnection {
  email: string;
  refreshToken: string;
}

/** Why connecting failed, as the page may show it: a fixed set, never Google's or an exception's text. */
export type ConnectErrorCode =
  | 'access_denied'
  | 'state_mismatch'
  | 'no_refresh_token'
  | 'scope_not_granted'
  | 'oauth_failed';

/** An error of the consent flow with the code the page is sent; `message` stays in the server log. */
export class GoogleConnectError extends Error {
  override name = 'GoogleConnectError';
  readonly code: ConnectErrorCode;
  constructor(code: ConnectErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Exchanges the callback's code (with the PKCE verifier) and reads the address of the mailbox that was granted. */
export async function exchangeGoogleCode(
  client: OAuth2Client,
  code: string,
  codeVerifier: string,
): Promise<GoogleConnection> {
  const { tokens } = await client.getToken({ code, codeVerifier });
  if (!tokens.refresh_token) {
    throw new GoogleConnectError(
      'no_refresh_token',
      'Google returned no refresh token: remove the app at myaccount.google.com/permissions and connect again.',
    );
  }
  if (!tokens.scope?.split(' ').includes(GMAIL_READONLY_SCOPE)) {
    throw new GoogleConnectError(
      'scope_not_granted',
      'Gmail read access was not granted: tick the Gmail checkbox on the consent screen.',
    );
  }
  const profile = await fetch('https://gmail.googleapis.com/gmail/v1/users/me/profile', {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  if (!profile.ok) throw new Error(`Could not read the Gmail profile (HTTP ${profile.status}).`);
  const { emailAddress } = (await profile.json()) as { emailAddress?: string };
  if (!emailAddress) throw new Error('The Gmail profile has no address.');
  return { email: emailAddress.toLowerCase(), refreshToken: tokens.refresh_token };
}
