import type { SyncEngine } from '@syncjob/core';
import { DEFAULT_OAUTH_CLIENT, defaultRefreshToken } from '@syncjob/gmail-emulator';
import { describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorForFile,
  emulatorSource,
  mailboxState,
  storedState,
  syncOnce,
} from './helpers';

const OTHER = 'other@example.com';
const running = emulatorForFile({
  users: [
    { address: ADDRESS, messages: 800, seed: 2 },
    { address: OTHER, messages: 50, seed: 4 },
  ],
  speed: 200,
});

async function allLogText(engine: SyncEngine, jobId: string): Promise<string> {
  const logs = await engine.getLogs(jobId, { limit: 5_000 });
  return JSON.stringify(logs);
}

describe('auth', () => {
  it('refreshes once when the access token dies mid-sync and completes', async () => {
    const store = createMemoryStore();
    let expired = false;
    const engine = createEngine(
      store,
      emulatorSource(running, {
        batchSize: 50,
        classify: () => {
          if (!expired) {
            expired = true;
            running.emulator.expireAccessTokens(ADDRESS);
          }
          return { category: 'mail' };
        },
      }),
    );
    const tokensBefore = running.emulator.stats().tokens.requests;
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.error).toBeNull();
    expect(job.status).toBe('completed');
    expect(await storedState(store)).toEqual(mailboxState(running));
    expect(running.emulator.stats().tokens.requests - tokensBefore).toBe(2);
  });

  it('fails with REAUTH_REQUIRED when the refresh token is revoked, keeping what was stored', async () => {
    const store = createMemoryStore();
    let classified = 0;
    const engine = createEngine(
      store,
      emulatorSource(running, {
        batchSize: 50,
        classify: () => {
          classified += 1;
          // Revoked while the third batch of 50 is being classified: the next call answers 401.
          if (classified === 101) running.emulator.revokeRefreshTokens(ADDRESS);
          return { category: 'mail' };
        },
      }),
    );
    const job = await syncOnce(engine);
    await engine.stop();
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'REAUTH_REQUIRED', retryable: false });
    expect(job.error?.message).toMatch(/sign in/i);
    const stored = await store.data.countMessages({ source: 'gmail', accountId: ADDRESS });
    expect(stored).toBeGreaterThanOrEqual(100);
    expect(stored).toBe(job.counters.stored);

    const text = `${await allLogText(engine, job.id)} ${JSON.stringify(job.error)}`;
    expect(text).not.toMatch(/ya29\./);
    expect(text).not.toContain(defaultRefreshToken(ADDRESS));
    expect(text).not.toContain(DEFAULT_OAUTH_CLIENT.clientSecret);

    // The checkpoint stays: once the user signs in again the sync continues where it stopped.
    const state = await store.getAccountState({ source: 'gmail', accountId: ADDRESS });
    expect(state?.checkpoint?.mode).toBe('full');
  });

  it('fails with ACCOUNT_MISMATCH when the profile address is not the expected one', async () => {
    const store = createMemoryStore();
    const engine = createEngine(
      store,
      emulatorSource(running, {
        // The app stored the wrong user's token for this account.
        auth: {
          clientId: DEFAULT_OAUTH_CLIENT.clientId,
          clientSecret: DEFAULT_OAUTH_CLIENT.clientSecret,
          refreshToken: defaultRefreshToken(OTHER),
          tokenUrl: `${running.url}/token`,
        },
      }),
    );
    // An opaque account id is not checked by default.
    const job = await syncOnce(engine, 'user-42', 'full');
    expect(job.status).toBe('completed');

    const mismatched = await syncOnce(engine, ADDRESS);
    await engine.stop();
    expect(mismatched.status).toBe('failed');
    expect(mismatched.error).toMatchObject({ code: 'ACCOUNT_MISMATCH', retryable: false });
    expect(mismatched.error?.message).toContain(OTHER);
    expect(await store.data.countMessages({ source: 'gmail', accountId: ADDRESS })).toBe(0);
  });

  it('checks the address given by expectedEmail', async () => {
    const store = createMemoryStore();
    const engine = createEngine(store, emulatorSource(running, { expectedEmail: () => 'someone@else.test' }));
    // The earlier test revoked ADDRESS's grant; OTHER's is intact.
    const job = await syncOnce(engine, OTHER);
    await engine.stop();
    expect(job.error?.code).toBe('ACCOUNT_MISMATCH');
  });
});
