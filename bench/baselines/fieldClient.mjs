// What the two "from the field" baselines share: a googleapis Gmail client on the emulator, listing
// every id the way most code does (messages.list, 500 a page), and one messages.get with the retry
// such code usually adds: wait a moment and try again, a few times. googleapis' own retry is off so
// its real-time back-off does not distort a sped-up run; the wait here is scaled to the speed.

import { gmail as createGmail } from '@googleapis/gmail';
import { defaultRefreshToken } from '@syncjob/gmail-emulator';
import { OAuth2Client } from 'google-auth-library';

export const HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID'];

/** `{ emulatorUrl, address, speed, limit? }` from argv[2]; `limit` caps the messages fetched. */
export const config = JSON.parse(process.argv[2] ?? '{}');

export function gmailClient() {
  const auth = new OAuth2Client({
    clientId: 'emulator-client-id.apps.googleusercontent.com',
    clientSecret: 'emulator-client-secret',
    endpoints: { oauth2TokenUrl: `${config.emulatorUrl}/token` },
  });
  auth.setCredentials({ refresh_token: defaultRefreshToken(config.address) });
  return createGmail({ version: 'v1', auth, rootUrl: `${config.emulatorUrl}/`, retry: false });
}

export async function listAllIds(gmail) {
  const ids = [];
  let pageToken;
  do {
    const { data } = await gmail.users.messages.list({
      userId: 'me',
      maxResults: 500,
      includeSpamTrash: true,
      pageToken,
    });
    for (const message of data.messages ?? []) ids.push(message.id);
    pageToken = data.nextPageToken ?? undefined;
  } while (pageToken);
  return ids;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const RETRYABLE = new Set([403, 429, 500, 502, 503]);

/** messages.get with up to 5 retries one (emulated) second apart; counts what it meets. */
export async function getMessage(gmail, id, counts) {
  for (let attempt = 0; ; attempt++) {
    try {
      const { data } = await gmail.users.messages.get({
        userId: 'me',
        id,
        format: 'metadata',
        metadataHeaders: HEADERS,
      });
      return data;
    } catch (error) {
      const status = error?.status ?? error?.response?.status;
      if (status === 429 || status === 403) counts.rateLimited += 1;
      if (!RETRYABLE.has(status) || attempt >= 5) {
        counts.failed += 1;
        return null;
      }
      counts.retries += 1;
      await sleep(1000 / config.speed);
    }
  }
}

/** Runs a baseline and prints its one JSON line for bench/run.ts. */
export async function runBaseline(fetchAll) {
  const gmail = gmailClient();
  const counts = { rateLimited: 0, retries: 0, failed: 0 };
  const started = performance.now();
  const listed = await listAllIds(gmail);
  // A slow baseline's rate is flat (it never nears the quota): measuring it on part of the mailbox
  // keeps the whole benchmark short without flattering it.
  const ids = config.limit ? listed.slice(0, config.limit) : listed;
  const messages = await fetchAll(gmail, ids, counts);
  const ms = performance.now() - started;
  process.stdout.write(
    `${JSON.stringify({ ms, listed: listed.length, fetched: messages.filter(Boolean).length, ...counts })}\n`,
  );
}
