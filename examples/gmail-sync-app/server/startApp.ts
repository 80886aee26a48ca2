import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSyncEngine, type SyncEngine, type SyncSource, type SyncStore } from '@syncjob/core';
import { createActionRateLimiter, createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { createSyncMetrics, metricsHandler } from '@syncjob/core/metrics';
import { createWebhookNotifier } from '@syncjob/core/notifications';
import { type RunningGmailEmulator, startGmailEmulator } from '@syncjob/gmail-emulator';
import { createPostgresStore } from '@syncjob/postgres';
import { createSqliteStore } from '@syncjob/sqlite';
import type { AppConfig } from './appConfig.ts';
import { type AppHandlerOptions, createAppHandler, SOURCE_ID } from './appHandler.ts';
import { emulatorGmailSource, googleGmailSource } from './gmailSyncSource.ts';
import { createGoogleOAuthClient } from './googleOAuth.ts';
import { createSessionCookie, principalOf, type Session } from './sessionCookie.ts';
import { openFileSessionEpochs } from './sessionEpochs.ts';
import { createStaticFiles } from './staticFiles.ts';
import { createTokenVault } from './tokenVault.ts';

export interface RunningApp {
  /** Where the server listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  port: number;
  engine: SyncEngine;
  store: SyncStore;
  /** The in-process Gmail emulator (emulator mode), `null` with real Gmail. */
  emulator: RunningGmailEmulator | null;
  /** Stops the engine (running jobs save their checkpoint and are handed back), then everything else. */
  close(): Promise<void>;
}

export interface StartAppOptions {
  /** Progress lines for a person (default `console.log`). */
  log?: (line: string) => void;
  /** How long `close` waits for running jobs to save their checkpoint, in ms (default 10,000). */
  stopTimeoutMs?: number;
}

/** Opens the store, starts the emulator (in emulator mode), the engine and the HTTP server. */
export async function startApp(config: AppConfig, options: StartAppOptions = {}): Promise<RunningApp> {
  const log = options.log ?? ((line: string) => console.log(line));
  mkdirSync(config.dataDir, { recursive: true });

  const store: SyncStore = config.databaseUrl
    ? await createPostgresStore({ connectionString: config.databaseUrl })
    : createSqliteStore({ path: join(config.dataDir, 'syncjob.db') });
  log(`store: ${config.databaseUrl ? 'PostgreSQL' : `SQLite (${join(config.dataDir, 'syncjob.db')})`}`);

  let emulator: RunningGmailEmulator | null = null;
  let source: SyncSource;
  let demo: AppHandlerOptions['demo'];
  let google: AppHandlerOptions['google'];
  const { gmail } = config;
  if (gmail.mode === 'emulator') {
    emulator = await startGmailEmulator({
      users: [{ address: gmail.address, messages: gmail.messages, seed: gmail.seed }],
      quota: gmail.quota,
      speed: gmail.speed,
    });
    source = emulatorGmailSource({ emulatorUrl: emulator.url, quota: gmail.quota, speed: gmail.speed });
    demo = { accountId: gmail.address, messages: gmail.messages, quota: gmail.quota, speed: gmail.speed };
    log(
      `gmail: emulator at ${emulator.url}, ${gmail.messages.toLocaleString('en-US')} messages for ${gmail.address}, ` +
        `${gmail.quota} quota at ${gmail.speed}× speed`,
    );
  } else {
    const client = createGoogleOAuthClient(gmail);
    const vault = createTokenVault({ key: gmail.tokenKey, path: join(config.dataDir, 'google-tokens.json') });
    source = googleGmailSource({ ...gmail, vault });
    google = { client, vault };
    log(`gmail: Google OAuth (redirect URI ${gmail.redirectUri})`);
  }

  // Summaries only (counts, status, error code), never message content; retried with back-off.
  const notify = config.webhook ? createWebhookNotifier(config.webhook) : undefined;
  const engine = createSyncEngine({ store, sources: [source], ...(notify ? { onJobFinished: notify } : {}) });
  // Before the schedule, so its first cycle is counted.
  const metrics = createSyncMetrics(engine);
  if (config.webhook)
    log(`notifications: webhook ${new URL(config.webhook.url).origin} on every finished job`);
  if (config.schedule) {
    const { everyMs, staleAfterMs, concurrency } = config.schedule;
    engine.schedule({ every: everyMs, staleAfter: staleAfterMs, concurrency });
    log(
      `scheduler: every ${duration(everyMs)}, syncs accounts not synced for ${duration(staleAfterMs)} ` +
        `(at most ${concurrency} at once)`,
    );
  } else {
    log('scheduler: off (SYNCJOB_SCHEDULE_EVERY=off)');
  }
  const secureCookies = config.publicUrl.startsWith('https://');
  const sessions = createSessionCookie({
    secret: config.sessionSecret,
    secure: secureCookies,
    // Sign-out bumps the principal's epoch here, ending its cookies everywhere, across restarts.
    epochs: await openFileSessionEpochs(join(config.dataDir, 'session-epochs.json')),
  });
  const syncHandler = createSyncHandler<Session>(engine, {
    basePath: '/api/sync',
    authenticate: (request) => sessions.read(request.headers.get('cookie')),
    authorizeAccount: (session, account) =>
      account.source === SOURCE_ID && session.accountId !== null && account.accountId === session.accountId,
    // Stream caps count per mailbox (or visitor), not per cookie: all of one user's tabs share them.
    principalKey: principalOf,
    // A start/cancel loop with a valid session must not burn the Gmail quota: 10 actions a minute.
    rateLimit: createActionRateLimiter({ perMinute: 10, key: principalOf }),
  });
  const handler = createAppHandler({
    sessions,
    syncHandler,
    data: store.data,
    staticFiles: createStaticFiles(config.webDir),
    demo,
    google,
    metrics: metricsHandler(metrics),
    secureCookies,
  });

  const server = createServer(toNodeHandler(handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      // Also stops the schedule and waits for webhook deliveries under way.
      await engine.stop({ timeoutMs: options.stopTimeoutMs ?? 10_000 });
      metrics.dispose();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open SSE streams would keep `close` waiting forever.
        server.closeAllConnections();
      });
      await store.close();
      await emulator?.close();
    })();
    return closing;
  };

  return { url: `http://${host}:${port}`, port, engine, store, emulator, close };
}

/** `90000` → `1m 30s`, for the startup log. */
function duration(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join(' ') || `${ms}ms`;
}
