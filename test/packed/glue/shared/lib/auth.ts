// The app's own parts that the README leaves to you: who is signed in, and where each user's Gmail
// grant is kept. Here: one fixed user, and the Gmail emulator's OAuth client and refresh tokens.
import { ACCOUNT } from './account';

export interface Session {
  userId: string;
}

export async function getSession(_request: Request): Promise<Session | null> {
  return { userId: ACCOUNT };
}

export async function gmailCredentials(accountId: string) {
  const { GMAIL_ROOT_URL } = process.env;
  return {
    clientId: 'emulator-client-id.apps.googleusercontent.com',
    clientSecret: 'emulator-client-secret',
    refreshToken: `1//emulator-refresh-${accountId}`,
    tokenUrl: `${GMAIL_ROOT_URL}token`,
  };
}
