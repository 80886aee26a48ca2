import { OAuth2Client } from 'google-auth-library';

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
 * The consent URL. `access_type: 'offline'` asks for a refresh token (the sync runs in the
 * background, long after the visit); `prompt: 'consent'` makes Google issue it again on a
 * reconnect, which it otherwise only does the first time. `state` ties the callback to this visit.
 */
export function buildGoogleAuthUrl(client: OAuth2Client, state: string): string {
  return client.generateAuthUrl({
    access_type: 'offline',
    prompt: 'consent',
    scope: [GMAIL_READONLY_SCOPE],
    include_granted_scopes: true,
    state,
  });
}

/** What the callback learns: the account's address and its refresh token. */
export interface GoogleConnection {
  email: string;
  refreshToken: string;
}

/** Exchanges the callback's code and reads the address of the mailbox that was granted. */
export async function exchangeGoogleCode(client: OAuth2Client, code: string): Promise<GoogleConnection> {
  const { tokens } = await client.getToken(code);
  if (!tokens.refresh_token) {
    throw new Error(
      'Google returned no refresh token: remove the app at myaccount.google.com/permissions and connect again.',
    );
  }
  if (!tokens.scope?.split(' ').includes(GMAIL_READONLY_SCOPE)) {
    throw new Error('Gmail read access was not granted: tick the Gmail checkbox on the consent screen.');
  }
  const profile = await fetch('https://gmail.googleapis.com/gmail/v1/users/me/profile', {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  if (!profile.ok) throw new Error(`Could not read the Gmail profile (HTTP ${profile.status}).`);
  const { emailAddress } = (await profile.json()) as { emailAddress?: string };
  if (!emailAddress) throw new Error('The Gmail profile has no address.');
  return { email: emailAddress.toLowerCase(), refreshToken: tokens.refresh_token };
}
