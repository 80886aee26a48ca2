import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadAppConfig } from './appConfig.ts';
import { type RunningApp, startApp } from './startApp.ts';

const ADDRESS = 'me@example.com';
const account = { source: 'gmail', accountId: ADDRESS };

let app: RunningApp | null = null;
let dataDir: string | null = null;

afterEach(async () => {
  await app?.close();
  app = null;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = null;
});

async function start(env: Record<string, string> = {}): Promise<RunningApp> {
  dataDir = mkdtempSync(join(tmpdir(), 'syncjob-example-push-'));
  const config = loadAppConfig({
    PORT: '0',
    SYNCJOB_DATA_DIR: dataDir,
    SYNCJOB_DEMO_MESSAGES: '60',
    SYNCJOB_DEMO_QUOTA: 'off',
    SYNCJOB_SCHEDULE_EVERY: 'off',
    ...env,
  });
  app = await startApp(config, { log: () => {} });
  return app;
}

describe('example app: Gmail push through the emulator (the default)', () => {
  it('a message added in the emulator reaches the database through a push-started sync', async () => {
    const running = await start();
    const { job } = await running.engine.start(account);
    await vi.waitFor(async () => expect((await running.engine.getJob(job.id))?.status).toBe('completed'), {
      timeout: 30_000,
    });
    const before = await running.store.data.countMessages(account);

    running.emulator!.emulator.addMessage(ADDRESS, { labelIds: ['INBOX'] });

    // No schedule runs: only the push can bring it in.
    await vi.waitFor(async () => expect(await running.store.data.countMessages(account)).toBe(before + 1), {
      timeout: 30_000,
    });
    const jobs = await running.engine.listJobs({ accountId: ADDRESS });
    expect(jobs[0]).toMatchObject({ trigger: 'push', mode: 'incremental' });
    expect(running.emulator!.emulator.stats().push).toMatchObject({ published: 1, acked: 1 });
  });

  it('refuses a push not signed by the emulator (401), and has no push route with SYNCJOB_DEMO_PUSH=off', async () => {
    const running = await start();
    const forged = await fetch(`${running.url}/api/sync/push/gmail`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer e30.e30.e30' },
      body: JSON.stringify({
        message: { data: btoa(JSON.stringify({ emailAddress: ADDRESS, historyId: 9 })) },
      }),
    });
    expect(forged.status).toBe(401);
    await running.close();
    app = null;
    rmSync(dataDir!, { recursive: true, force: true });

    const polling = await start({ SYNCJOB_DEMO_PUSH: 'off' });
    const response = await fetch(`${polling.url}/api/sync/push/gmail`, { method: 'POST' });
    expect(response.status).toBe(404);
  });
});
