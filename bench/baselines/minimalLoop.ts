/**
 * The engine-overhead yardstick: the least code that does the same work as a syncjob full sync with
 * the quota off — list every id, fetch them 100 at a time through the batch endpoint (2 requests of
 * 50 parts in flight, as the source does), write each 100 into the same SQLite tables with the same
 * sink in one transaction. No leases, checkpoints, progress, logs, retries or planner.
 * Config `{ emulatorUrl, address }` in argv[2]; prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { encodeBatch, type GmailMessageResource, parseBatchResponse, toMailMessage } from '@syncjob/gmail';
import { defaultRefreshToken } from '@syncjob/gmail-emulator';
import { defaultSqliteSink, migrate } from '@syncjob/sqlite';

const HEADERS = ['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID'];
const { emulatorUrl, address } = JSON.parse(process.argv[2] ?? '{}') as {
  emulatorUrl: string;
  address: string;
};
const dir = mkdtempSync(join(tmpdir(), 'syncjob-bench-'));
const path = join(dir, 'loop.db');
// syncjob's migrations create the tables; the loop then writes them directly.
await migrate(path);
const db = new DatabaseSync(path);
db.exec('PRAGMA journal_mode = WAL');
const account = { source: 'gmail', accountId: address };

const started = performance.now();
const tokenResponse = await fetch(`${emulatorUrl}/token`, {
  method: 'POST',
  body: new URLSearchParams({
    grant_type: 'refresh_token',
    client_id: 'emulator-client-id.apps.googleusercontent.com',
    client_secret: 'emulator-client-secret',
    refresh_token: defaultRefreshToken(address),
  }),
});
const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
const authorization = `Bearer ${token}`;

const ids: string[] = [];
let pageToken: string | undefined;
do {
  const url = `${emulatorUrl}/gmail/v1/users/me/messages?maxResults=500&includeSpamTrash=true${pageToken ? `&pageToken=${pageToken}` : ''}`;
  const page = (await (await fetch(url, { headers: { authorization } })).json()) as {
    messages?: Array<{ id: string }>;
    nextPageToken?: string;
  };
  for (const message of page.messages ?? []) ids.push(message.id);
  pageToken = page.nextPageToken;
} while (pageToken);

const query = `format=metadata&${HEADERS.map((h) => `metadataHeaders=${h}`).join('&')}`;
async function batchGet(chunk: string[]): Promise<GmailMessageResource[]> {
  const { body, contentType } = encodeBatch(
    chunk.map((id) => ({ id, path: `/gmail/v1/users/me/messages/${id}?${query}` })),
  );
  const response = await fetch(`${emulatorUrl}/batch/gmail/v1`, {
    method: 'POST',
    headers: { authorization, 'content-type': contentType },
    body,
  });
  const parts = parseBatchResponse(response.headers.get('content-type'), await response.text());
  return parts
    .filter((part) => part.status === 200)
    .map((part) => JSON.parse(part.body) as GmailMessageResource);
}

let stored = 0;
for (let i = 0; i < ids.length; i += 100) {
  const chunk = ids.slice(i, i + 100);
  const resources = (await Promise.all([batchGet(chunk.slice(0, 50)), batchGet(chunk.slice(50))])).flat();
  db.exec('BEGIN IMMEDIATE');
  defaultSqliteSink.write(db, account, {
    upsertMessages: resources.map((resource) => toMailMessage(resource, 'metadata', HEADERS)),
  });
  db.exec('COMMIT');
  stored += resources.length;
}
const ms = performance.now() - started;
db.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify({ ms, listed: ids.length, stored })}\n`);
