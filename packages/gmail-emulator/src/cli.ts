#!/usr/bin/env node
import { parseArgs } from 'node:util';
import type { QuotaSetting } from './quota/costTables.js';
import { startGmailEmulator } from './server.js';

const usage = `Usage: syncjob-gmail-emulator [options]

  --port <n>             Port to listen on (default 8085; 0 picks a free port)
  --host <addr>          Interface to bind (default 127.0.0.1)
  --messages <n>         Messages in the generated mailbox (default 1000)
  --seed <n>             Generation seed (default 1)
  --user <address>       Account address (default me@example.com); repeat for several accounts
  --quota <profile>      legacy | 2026 | off (default legacy)
  --speed <n>            Quota time compression: the 60 s window lasts 60/n s (default 1)
  --project-units-per-minute <n>
                         The project's units per (scaled) minute, shared by all users (default: no limit)
  --project-daily-units <n>
                         The project's units per (scaled) day from 00:00 UTC (default: no limit)
  --token-lifetime <s>   Access-token lifetime in seconds (default 3600)
  --max-concurrent <n>   Per-user concurrent calls before 429 (default 50)
  --push-endpoint <url>  POST Pub/Sub pushes for watched mailboxes here (default: none sent)
  --push-audience <aud>  The push token's audience (default the endpoint URL)
  --push-service-account <email>  The push token's email claim
                         (default gmail-push@emulator.iam.gserviceaccount.com)
  --push-delay <ms>      Wait before delivering each push (default 0)
  --push-early <ms>      Deliver pushes this long before history.list shows the change (default 0)
  --help                 Show this help
`;

function positiveNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative number, got "${raw}"\n`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      messages: { type: 'string' },
      seed: { type: 'string' },
      user: { type: 'string', multiple: true },
      quota: { type: 'string' },
      speed: { type: 'string' },
      'project-units-per-minute': { type: 'string' },
      'project-daily-units': { type: 'string' },
      'token-lifetime': { type: 'string' },
      'max-concurrent': { type: 'string' },
      'push-endpoint': { type: 'string' },
      'push-audience': { type: 'string' },
      'push-service-account': { type: 'string' },
      'push-delay': { type: 'string' },
      'push-early': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  const quota = values.quota ?? 'legacy';
  if (!['legacy', '2026', 'off'].includes(quota)) {
    process.stderr.write(`--quota must be legacy, 2026 or off, got "${quota}"\n`);
    process.exit(2);
  }
  const messages = positiveNumber('messages', values.messages, 1000);
  const seed = positiveNumber('seed', values.seed, 1);
  const addresses = values.user?.length ? values.user : ['me@example.com'];
  const pushEndpoint = values['push-endpoint'];
  if (pushEndpoint !== undefined && !URL.canParse(pushEndpoint)) {
    process.stderr.write(`--push-endpoint must be an absolute URL, got "${pushEndpoint}"\n`);
    process.exit(2);
  }
  const push = pushEndpoint
    ? {
        endpoint: pushEndpoint,
        ...(values['push-audience'] ? { audience: values['push-audience'] } : {}),
        ...(values['push-service-account'] ? { serviceAccountEmail: values['push-service-account'] } : {}),
        delayMs: positiveNumber('push-delay', values['push-delay'], 0),
        earlyByMs: positiveNumber('push-early', values['push-early'], 0),
      }
    : undefined;
  const projectUnitsPerMinute = positiveNumber(
    'project-units-per-minute',
    values['project-units-per-minute'],
    0,
  );
  const projectDailyUnits = positiveNumber('project-daily-units', values['project-daily-units'], 0);
  const running = await startGmailEmulator({
    port: positiveNumber('port', values.port, 8085),
    host: values.host ?? '127.0.0.1',
    users: addresses.map((address, i) => ({ address, messages, seed: seed + i })),
    quota: quota as QuotaSetting,
    speed: positiveNumber('speed', values.speed, 1) || 1,
    tokenLifetimeSeconds: positiveNumber('token-lifetime', values['token-lifetime'], 3600),
    maxConcurrentPerUser: positiveNumber('max-concurrent', values['max-concurrent'], 50),
    ...(push ? { push } : {}),
    // 0 (or absent) means no project limit, as in the options.
    ...(projectUnitsPerMinute > 0 ? { projectUnitsPerMinute } : {}),
    ...(projectDailyUnits > 0 ? { projectDailyUnits } : {}),
  });
  process.stdout.write(`Gmail emulator listening on ${running.url}\n`);
  process.stdout.write(
    `  rootUrl for the Gmail client: ${running.url}/   token endpoint: ${running.url}/token\n`,
  );
  process.stdout.write(
    `  push certificates: ${running.url}/oauth2/v3/certs   pushes to: ${push?.endpoint ?? '(none)'}\n`,
  );
  const stop = (signal: string) => {
    process.stdout.write(`\n${signal} received, stopping\n`);
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
