import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '@syncjob/core';

/** Quota profiles the Gmail emulator enforces (`off` charges but never refuses). */
export type DemoQuota = 'legacy' | '2026' | 'off';

/** The local Gmail emulator with a generated mailbox (the default: no Google account needed). */
export interface EmulatorGmailConfig {
  mode: 'emulator';
  /** The demo account's address; the session signs every visitor in as this account. */
  address: string;
  /** Messages in the generated mailbox (`SYNCJOB_DEMO_MESSAGES`, default 20,000). */
  messages: number;
  /** Quota profile (`SYNCJOB_DEMO_QUOTA`, default `legacy`). */
  quota: DemoQuota;
  /** Quota time compression: the 60 s window lasts 60/speed s (`SYNCJOB_DEMO_SPEED`, default 2). */
  speed: number;
  /** Mailbox generation seed (`SYNCJOB_DEMO_SEED`, default 1): same seed, same mailbox. */
  seed: number;
  /**
   * Gmail push through the emulator (`SYNCJOB_DEMO_PUSH`, default on; `off` disables): the emulator
   * watches the mailbox and pushes every change to `POST /api/sync/push/gmail`, which syncs it.
   */
  push: boolean;
}

/** A real Gmail account through Google OAuth (`GOOGLE_CLIENT_ID` and `GOOGLE_CLIENT_SECRET` set). */
export interface GoogleGmailConfig {
  mode: 'google';
  clientId: string;
  clientSecret: string;
  /** Where Google sends the user back (`GOOGLE_REDIRECT_URI`, default `<PUBLIC_URL>/auth/google/callback`). */
  redirectUri: string;
  /** 32-byte AES-256-GCM key for refresh tokens at rest (`SYNCJOB_TOKEN_KEY`, base64 or hex). */
  tokenKey: Buffer;
  /** Quota profile of the Google Cloud project (`SYNCJOB_GMAIL_QUOTA`, default `legacy`). */
  quota: Exclude<DemoQuota, 'off'>;
}

/** The engine's scheduler: background incremental syncs of accounts that went stale. */
export interface ScheduleConfig {
  /** Time between two cycles in ms (`SYNCJOB_SCHEDULE_EVERY`, default `5m`). */
  everyMs: number;
  /** An account is synced again once its last sync is older than this, in ms (`SYNCJOB_STALE_AFTER`, default `1h`). */
  staleAfterMs: number;
  /** Scheduled syncs running at once (`SYNCJOB_SCHEDULE_CONCURRENCY`, default 2). */
  concurrency: number;
}

/** Where finished jobs are announced (`SYNCJOB_WEBHOOK_URL` and `SYNCJOB_WEBHOOK_SECRET`). */
export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key of the `X-Syncjob-Signature` header. */
  secret: string;
}

export interface AppConfig {
  /** `PORT`, default 3000. */
  port: number;
  /** `HOST`, default `127.0.0.1` (the Docker image sets `0.0.0.0`). */
  host: string;
  /** The URL a browser opens (`PUBLIC_URL`, default `http://localhost:<PORT>`). */
  publicUrl: string;
  /** `DATABASE_URL` (PostgreSQL); `null` runs on SQLite. */
  databaseUrl: string | null;
  /** `SYNCJOB_DATA_DIR`: the SQLite file and the encrypted tokens (default the example's `data/`). */
  dataDir: string;
  /** HMAC key of the session cookie (`SESSION_SECRET`, at least 32 characters; generated per process when unset). */
  sessionSecret: string;
  /** True when `sessionSecret` was generated, so sessions end with the process. */
  sessionSecretGenerated: boolean;
  gmail: EmulatorGmailConfig | GoogleGmailConfig;
  /** The scheduler's settings; `null` when `SYNCJOB_SCHEDULE_EVERY=off`. */
  schedule: ScheduleConfig | null;
  /** The job-finished webhook; `null` without `SYNCJOB_WEBHOOK_URL`. */
  webhook: WebhookConfig | null;
  /** The built page (`vite build` output). */
  webDir: string;
}

type Env = Record<string, string | undefined>;

const exampleRoot = fileURLToPath(new URL('..', import.meta.url));

/** A configuration error a person can act on: it names the variable and what it accepts. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function numberVar(env: Env, name: string, fallback: number, check: (n: number) => boolean, expect: string) {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw.replaceAll('_', ''));
  if (!Number.isFinite(value) || !check(value)) {
    throw new ConfigError(`${name} must be ${expect}, got "${raw}".`);
  }
  return value;
}

function quotaVar<T extends string>(env: Env, name: string, allowed: readonly T[]): T {
  const raw = (env[name]?.trim() || 'legacy') as T;
  if (!allowed.includes(raw))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got "${raw}".`);
  return raw;
}

function onOffVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return fallback;
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  if (raw === 'off' || raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be on or off, got "${env[name]}".`);
}

function durationVar(env: Env, name: string, fallback: string): number {
  const raw = env[name]?.trim() || fallback;
  let ms: number;
  try {
    ms = parseDuration(raw, name);
  } catch {
    ms = Number.NaN;
  }
  if (!(ms >= 1_000)) {
    throw new ConfigError(
      `${name} must be a duration of at least 1s such as 30s, 5m or 1h, or off; got "${raw}".`,
    );
  }
  return ms;
}

/**
 * With push on, the schedule is only the safety net (a lost push, a lapsed watch): every 30 min
 * instead of 5.
 */
function scheduleVars(env: Env, push: boolean): ScheduleConfig | null {
  if (env.SYNCJOB_SCHEDULE_EVERY?.trim().toLowerCase() === 'off') return null;
  return {
    everyMs: durationVar(env, 'SYNCJOB_SCHEDULE_EVERY', push ? '30m' : '5m'),
    staleAfterMs: durationVar(env, 'SYNCJOB_STALE_AFTER', '1h'),
    concurrency: numberVar(
      env,
      'SYNCJOB_SCHEDULE_CONCURRENCY',
      2,
      (n) => Number.isInteger(n) && n >= 1,
      'a whole number of at least 1',
    ),
  };
}

function webhookVars(env: Env): WebhookConfig | null {
  const url = env.SYNCJOB_WEBHOOK_URL?.trim();
  if (!url) return null;
  if (!/^https?:\/\//i.test(url)) {
    throw new ConfigError(`SYNCJOB_WEBHOOK_URL must be an http(s) URL, got "${url}".`);
  }
  const secret = env.SYNCJOB_WEBHOOK_SECRET?.trim();
  if (!secret) {
    throw new ConfigError(
      'SYNCJOB_WEBHOOK_SECRET is required with SYNCJOB_WEBHOOK_URL: it signs each notification (`openssl rand -base64 32`).',
    );
  }
  return { url, secret };
}

/** Reads a 32-byte key written as 64 hex characters or as base64. */
export function parseTokenKey(raw: string): Buffer {
  const text = raw.trim();
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) {
    throw new ConfigError(
      'SYNCJOB_TOKEN_KEY must be 32 bytes, as 64 hex characters or base64 (generate one with `openssl rand -base64 32`).',
    );
  }
  return key;
}

/** The app's settings from environment variables; throws `ConfigError` on a bad value. */
export function loadAppConfig(env: Env = process.env): AppConfig {
  const port = numberVar(
    env,
    'PORT',
    3000,
    (n) => Number.isInteger(n) && n >= 0 && n < 65536,
    'a port number',
  );
  const publicUrl = (env.PUBLIC_URL?.trim() || `http://localhost:${port}`).replace(/\/+$/, '');
  const secret = env.SESSION_SECRET?.trim();
  if (secret && secret.length < 32) {
    throw new ConfigError(
      `SESSION_SECRET must be at least 32 characters (it has ${secret.length}): it signs the session cookies. Generate one with \`openssl rand -base64 32\`, or leave it unset for a random one per process.`,
    );
  }
  const clientId = env.GOOGLE_CLIENT_ID?.trim();
  const clientSecret = env.GOOGLE_CLIENT_SECRET?.trim();

  let gmail: AppConfig['gmail'];
  if (clientId || clientSecret) {
    if (!clientId || !clientSecret) {
      throw new ConfigError(
        'Set both GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (or neither, for the emulator).',
      );
    }
    const rawKey = env.SYNCJOB_TOKEN_KEY;
    if (!rawKey) {
      throw new ConfigError(
        'SYNCJOB_TOKEN_KEY is required with Google credentials: refresh tokens are stored encrypted with it (`openssl rand -base64 32`).',
      );
    }
    gmail = {
      mode: 'google',
      clientId,
      clientSecret,
      redirectUri: env.GOOGLE_REDIRECT_URI?.trim() || `${publicUrl}/auth/google/callback`,
      tokenKey: parseTokenKey(rawKey),
      quota: quotaVar(env, 'SYNCJOB_GMAIL_QUOTA', ['legacy', '2026'] as const),
    };
  } else {
    gmail = {
      mode: 'emulator',
      address: env.SYNCJOB_DEMO_ADDRESS?.trim() || 'me@example.com',
      messages: numberVar(
        env,
        'SYNCJOB_DEMO_MESSAGES',
        20_000,
        (n) => Number.isInteger(n) && n >= 0,
        'a whole number',
      ),
      quota: quotaVar(env, 'SYNCJOB_DEMO_QUOTA', ['legacy', '2026', 'off'] as const),
      speed: numberVar(env, 'SYNCJOB_DEMO_SPEED', 2, (n) => n > 0, 'a positive number'),
      seed: numberVar(env, 'SYNCJOB_DEMO_SEED', 1, (n) => Number.isInteger(n) && n >= 0, 'a whole number'),
      push: onOffVar(env, 'SYNCJOB_DEMO_PUSH', true),
    };
  }

  return {
    port,
    host: env.HOST?.trim() || '127.0.0.1',
    publicUrl,
    databaseUrl: env.DATABASE_URL?.trim() || null,
    dataDir: env.SYNCJOB_DATA_DIR?.trim() || `${exampleRoot}data`,
    sessionSecret: secret || randomBytes(32).toString('base64url'),
    sessionSecretGenerated: !secret,
    gmail,
    schedule: scheduleVars(env, gmail.mode === 'emulator' && gmail.push),
    webhook: webhookVars(env),
    webDir: env.SYNCJOB_WEB_DIR?.trim() || `${exampleRoot}dist/web`,
  };
}
