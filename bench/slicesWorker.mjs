// The long-running baseline of bench/slices.ts: one process with the in-process worker loop (BUILT
// packages, SQLite) that runs the queued job to its end, then prints { ms } and exits.
import { createSyncEngine } from '@syncjob/core';
import { gmailSource } from '@syncjob/gmail';
import { defaultRefreshToken } from '@syncjob/gmail-emulator';
import { createSqliteStore } from '@syncjob/sqlite';

const { SLICES_WORKER } = process.env;
const config = JSON.parse(SLICES_WORKER ?? '{}');
const store = createSqliteStore({ path: config.path });
const source = gmailSource({
  rootUrl: `${config.emulatorUrl}/`,
  auth: (accountId) => ({
    clientId: 'emulator-client-id.apps.googleusercontent.com',
    clientSecret: 'emulator-client-secret',
    refreshToken: defaultRefreshToken(accountId),
    tokenUrl: `${config.emulatorUrl}/token`,
  }),
  quota: 'legacy',
  quotaSpeed: config.quotaSpeed,
  batchSize: 100,
});
const engine = createSyncEngine({ store, sources: [source], pollIntervalMs: 100 });
const ended = new Promise((resolve) => {
  for (const name of ['completed', 'failed']) engine.on(name, resolve);
});
await ended;
await engine.stop();
await store.close();
process.stdout.write(`${JSON.stringify({ done: true })}\n`);
