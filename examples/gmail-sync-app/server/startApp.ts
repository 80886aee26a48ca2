import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSyncEngine, type SyncEngine, type SyncSource, type SyncStore } from '@syncjob/core';
import { createActionRateLimiter, createSyncHandler, toNodeHandler } from '@syncjob/core/http';
import { createSyncMetrics, metricsHandler } from '@syncjob/core/metrics';
import { createWebhookNotifier } from '@syncjob/core/notifications';
import type { GmailSource } from '@syncjob/gmail';
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

/** The topic `users.watch` names in emulator mode (the emulator checks its form, nothing more). */
const DEMO_PUSH_TOPIC = 'projects/syncjob-demo/topics/gmail';
/** The service account the emulator's pushes are signed as, and that the push route expects. */
const DEMO_PUSH_ACCOUNT = 'gmail-push@syncjob-demo.iam.gserviceaccount.com';
/** Gmail watches last 7 days; renewing twice a day keeps one lapse from costing a week of pushes. */
const WATCH_RENEWAL_MS = 12 * 60 * 60 * 1000;

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
  /** Emulator mode with push: the mailbox the emulator notifies about, and the source that watches it. */
  let push: { address: string; source: GmailSource; certsUrl: string } | null = null;
  let demo: AppHandlerOptions['demo'];
  let google: AppHandlerOptions['google'];
  const { gmail } = config;
  if (gmail.mode === 'emulator') {
    emulator = await startGmailEmulator({
      users: [{ address: gmail.address, messages: gmail.messages, seed: gmail.seed }],
      quota: gmail.quota,
      speed: gmail.speed,
    });
    const emulatorSource = emulatorGmailSource({
      emulatorUrl: emulator.url,
      quota: gmail.quota,
      speed: gmail.speed,
      pushTopic: gmail.push ? DEMO_PUSH_TOPIC : undefined,
    });
    source = emulatorSource as SyncSource;
    if (gmail.push) {
      push = { address: gmail.address, source: emulatorSource, certsUrl: `${emulator.url}/oauth2/v3/certs` };
    }
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
    // Gmail push (emulator mode): the emulator signs its pushes with its own key, served at certsUrl.
    ...(push
      ? {
          push: {
            audience: pushAudience(config),
            serviceAccountEmail: DEMO_PUSH_ACCOUNT,
            certsUrl: push.certsUrl,
            accountForEmail: (email: string) =>
              email.toLowerCase() === push.address.toLowerCase() ? push.address : null,
          },
        }
      : {}),
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

  let renewal: NodeJS.Timeout | null = null;
  if (push && emulator) {
    // The server listens now: point the emulator's push subscription at it, then watch the mailbox.
    const reachable = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : host;
    const endpoint = `http://${reachable}:${port}/api/sync/push/gmail`;
    emulator.emulator.configurePush({
      endpoint,
      audience: pushAudience(config),
      serviceAccountEmail: DEMO_PUSH_ACCOUNT,
    });
    const { source: watcher, address } = push;
    await watcher.watch(address);
    renewal = setInterval(() => {
      watcher
        .renewWatches([address])
        .catch((error: unknown) => log(`push: renewing the watch failed: ${error}`));
    }, WATCH_RENEWAL_MS);
    renewal.unref();
    log(`push: the emulator pushes changes of ${address} to ${endpoint} (scheduler as the safety net)`);
  }

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      if (renewal) clearInterval(renewal);
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

/** The `aud` the push tokens carry: the public URL of the push route (any fixed string would do). */
const pushAudience = (config: AppConfig) => `${config.publicUrl}/api/sync/push/gmail`;

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
