import { describe, expect, it } from 'vitest';
import { ConfigError, loadAppConfig, parseTokenKey } from './appConfig.ts';

describe('loadAppConfig', () => {
  it('defaults to the emulator demo on SQLite, port 3000', () => {
    const config = loadAppConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeNull();
    expect(config.sessionSecretGenerated).toBe(true);
    // Unset, a random key per process: long enough, and never the same.
    expect(config.sessionSecret.length).toBeGreaterThanOrEqual(32);
    expect(loadAppConfig({}).sessionSecret).not.toBe(config.sessionSecret);
    expect(config.gmail).toEqual({
      mode: 'emulator',
      address: 'me@example.com',
      messages: 20_000,
      quota: 'legacy',
      speed: 2,
      seed: 1,
      push: true,
    });
  });

  it('reads the demo variables and DATABASE_URL', () => {
    const config = loadAppConfig({
      PORT: '4000',
      DATABASE_URL: 'postgres://u@h/db',
      SYNCJOB_DEMO_MESSAGES: '3_000',
      SYNCJOB_DEMO_QUOTA: '2026',
      SYNCJOB_DEMO_SPEED: '7.5',
      SESSION_SECRET: 'x'.repeat(32),
    });
    expect(config).toMatchObject({
      port: 4000,
      databaseUrl: 'postgres://u@h/db',
      sessionSecret: 'x'.repeat(32),
      sessionSecretGenerated: false,
    });
    expect(config.gmail).toMatchObject({ messages: 3000, quota: '2026', speed: 7.5 });
  });

  it('says which variable is wrong', () => {
    expect(() => loadAppConfig({ SYNCJOB_DEMO_QUOTA: 'fast' })).toThrow(
      /SYNCJOB_DEMO_QUOTA must be one of legacy, 2026, off/,
    );
    expect(() => loadAppConfig({ SYNCJOB_DEMO_SPEED: '0' })).toThrow(ConfigError);
    expect(() => loadAppConfig({ PORT: 'http' })).toThrow(/PORT/);
    // A short session key can be brute-forced offline from one cookie.
    expect(() => loadAppConfig({ SESSION_SECRET: 'x'.repeat(31) })).toThrow(
      /SESSION_SECRET must be at least 32 characters \(it has 31\)/,
    );
    expect(() => loadAppConfig({ GOOGLE_CLIENT_ID: 'id' })).toThrow(/GOOGLE_CLIENT_SECRET/);
    expect(() => loadAppConfig({ GOOGLE_CLIENT_ID: 'id', GOOGLE_CLIENT_SECRET: 's' })).toThrow(
      /SYNCJOB_TOKEN_KEY/,
    );
  });

  it('switches to Google with credentials and a token key', () => {
    const key = Buffer.alloc(32, 1);
    const config = loadAppConfig({
      GOOGLE_CLIENT_ID: 'id',
      GOOGLE_CLIENT_SECRET: 'secret',
      SYNCJOB_TOKEN_KEY: key.toString('base64'),
      PUBLIC_URL: 'https://sync.example.com/',
    });
    expect(config.gmail).toMatchObject({
      mode: 'google',
      redirectUri: 'https://sync.example.com/auth/google/callback',
      tokenKey: key,
      quota: 'legacy',
    });
  });
});

describe('parseTokenKey', () => {
  it('accepts 32 bytes as hex or base64 only', () => {
    const key = Buffer.alloc(32, 9);
    expect(parseTokenKey(key.toString('hex'))).toEqual(key);
    expect(parseTokenKey(key.toString('base64'))).toEqual(key);
    expect(() => parseTokenKey(Buffer.alloc(16).toString('base64'))).toThrow(/32 bytes/);
  });
});

describe('loadAppConfig: scheduler and webhook', () => {
  it('schedules every 30 minutes as the safety net of push, every 5 without push, with no webhook, by default', () => {
    const config = loadAppConfig({});
    expect(config.schedule).toEqual({ everyMs: 1_800_000, staleAfterMs: 3_600_000, concurrency: 2 });
    expect(config.webhook).toBeNull();
    const polling = loadAppConfig({ SYNCJOB_DEMO_PUSH: 'off' });
    expect(polling.gmail).toMatchObject({ mode: 'emulator', push: false });
    expect(polling.schedule).toEqual({ everyMs: 300_000, staleAfterMs: 3_600_000, concurrency: 2 });
    expect(() => loadAppConfig({ SYNCJOB_DEMO_PUSH: 'sometimes' })).toThrow(
      /SYNCJOB_DEMO_PUSH must be on or off/,
    );
  });

  it('reads the schedule variables, and `off` disables it', () => {
    const config = loadAppConfig({
      SYNCJOB_SCHEDULE_EVERY: '30s',
      SYNCJOB_STALE_AFTER: '10m',
      SYNCJOB_SCHEDULE_CONCURRENCY: '4',
    });
    expect(config.schedule).toEqual({ everyMs: 30_000, staleAfterMs: 600_000, concurrency: 4 });
    expect(loadAppConfig({ SYNCJOB_SCHEDULE_EVERY: 'off' }).schedule).toBeNull();
    expect(
      loadAppConfig({ SYNCJOB_SCHEDULE_EVERY: 'OFF', SYNCJOB_STALE_AFTER: 'nonsense' }).schedule,
    ).toBeNull();
  });

  it('names the variable of a bad duration', () => {
    expect(() => loadAppConfig({ SYNCJOB_SCHEDULE_EVERY: 'soon' })).toThrow(
      /SYNCJOB_SCHEDULE_EVERY must be a duration/,
    );
    expect(() => loadAppConfig({ SYNCJOB_STALE_AFTER: '10' })).toThrow(/SYNCJOB_STALE_AFTER .*at least 1s/);
    expect(() => loadAppConfig({ SYNCJOB_SCHEDULE_CONCURRENCY: '0' })).toThrow(ConfigError);
  });

  it('needs a secret with a webhook URL', () => {
    expect(() => loadAppConfig({ SYNCJOB_WEBHOOK_URL: 'https://hooks.example.com/sync' })).toThrow(
      /SYNCJOB_WEBHOOK_SECRET is required/,
    );
    expect(() => loadAppConfig({ SYNCJOB_WEBHOOK_URL: 'ftp://x', SYNCJOB_WEBHOOK_SECRET: 's' })).toThrow(
      /SYNCJOB_WEBHOOK_URL must be an http\(s\) URL/,
    );
    expect(
      loadAppConfig({ SYNCJOB_WEBHOOK_URL: 'https://hooks.example.com/sync', SYNCJOB_WEBHOOK_SECRET: 's' })
        .webhook,
    ).toEqual({ url: 'https://hooks.example.com/sync', secret: 's' });
  });
});
