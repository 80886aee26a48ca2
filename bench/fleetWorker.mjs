// One worker process of bench/fleet.ts (BUILT packages, PostgreSQL): claims and runs jobs until
// SIGTERM, then stops gracefully. FLEET_WORKER holds its settings; `governor` gives the engine the
// project budget (`projectQuota`, compressed like the emulator), which hands it to the Gmail source
// as `ctx.projectQuota`.
import { createSyncEngine } from '@syncjob/core';
import { gmailSource } from '@syncjob/gmail';
import { defaultRefreshToken } from '@syncjob/gmail-emulator';
import { createPostgresStore } from '@syncjob/postgres';

const { FLEET_WORKER } = process.env;
const config = JSON.parse(FLEET_WORKER ?? '{}');
const store = await createPostgresStore({
  connectionString: config.url,
  schema: config.schema,
  migrate: false,
});
const source = gmailSource({
  rootUrl: `${config.emulatorUrl}/`,
  auth: (accountId) => ({
    clientId: 'emulator-client-id.apps.googleusercontent.com',
    clientSecret: 'emulator-client-secret',
    refreshToken: defaultRefreshToken(accountId),
    tokenUrl: `${config.emulatorUrl}/token`,
  }),
  quota: 'legacy',
  quotaSpeed: config.speed,
});
const engine = createSyncEngine({
  store,
  sources: [source],
  concurrency: config.concurrency,
  pollIntervalMs: 100,
  workerId: `fleet-${config.index}`,
  ...(config.governor ? { projectQuota: { ...config.projectQuota, speed: config.speed } } : {}),
});
const stop = async () => {
  await engine.stop({ timeoutMs: 10_000 });
  await store.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.stdout.write('ready\n');
