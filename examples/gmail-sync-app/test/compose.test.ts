import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPostgresBinaries,
  type PgCluster,
  startPgCluster,
} from '../../../packages/adapters/postgres/test/pgCluster.ts';
import { type AppProcess, exampleDir, freePort, openPage, readEnvFile, runApp } from './runApp.ts';

const BANNER = `
┌──────────────────────────────────────────────────────────────────────────┐
│  Example compose test SKIPPED: no DATABASE_URL and no PostgreSQL server  │
│  binaries. apt-get install postgresql (or set DATABASE_URL) to run it;   │
│  SYNCJOB_REQUIRE_POSTGRES=1 turns this skip into a failure.              │
└──────────────────────────────────────────────────────────────────────────┘`;

const hasPostgres = Boolean(process.env.DATABASE_URL) || findPostgresBinaries() !== null;
if (!hasPostgres) {
  if (process.env.SYNCJOB_REQUIRE_POSTGRES === '1') {
    throw new Error(
      'SYNCJOB_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: set DATABASE_URL or apt-get install postgresql.',
    );
  }
  console.warn(BANNER);
}

interface JobView {
  status: string;
  mode: string;
  counters: { stored: number; total: number | null };
}

const composeFile = readFileSync(join(exampleDir, 'docker-compose.yml'), 'utf8');
const composeEnv = readEnvFile(join(exampleDir, 'compose.env'));

describe('docker-compose.yml', () => {
  it('loads compose.env into the app, waits for a healthy database and checks its health', () => {
    expect(composeFile).toMatch(/env_file:\s*\n\s*- path: \.\/compose\.env\s*\n\s*required: true/);
    expect(composeFile).toMatch(/depends_on:\s*\n\s*db:\s*\n\s*condition: service_healthy/);
    expect(composeFile).toMatch(/image: postgres:16/);
    expect(composeFile).toMatch(/healthcheck:\s*\n\s*test: \["CMD-SHELL", "pg_isready/);
    const db = new URL(composeEnv.DATABASE_URL ?? '');
    expect(db.hostname).toBe('db');
    expect(composeFile).toContain(`POSTGRES_USER: ${db.username}`);
    expect(composeFile).toContain(`POSTGRES_PASSWORD: ${db.password}`);
    expect(composeFile).toContain(`POSTGRES_DB: ${db.pathname.slice(1)}`);
  });

  it('publishes the app on loopback only, and nothing of the database', () => {
    const published = [...composeFile.matchAll(/^\s*- "([^"]*:\d+)"\s*$/gm)].map((match) => match[1]);
    expect(published).toEqual([`127.0.0.1:${composeEnv.PORT}:${composeEnv.PORT}`]);
  });
});

describe.skipIf(!hasPostgres)('the app as docker-compose.yml runs it, without Docker', () => {
  let cluster: PgCluster | null = null;
  let app: AppProcess;
  let baseUrl: string;
  let dataDir: string;

  beforeAll(async () => {
    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      cluster = await startPgCluster({ database: 'syncjob_example' });
      databaseUrl = cluster.url;
    }
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), 'syncjob-compose-'));
    // The compose environment, with only what Docker provides replaced: the database host (`db`
    // there), the published port, the /data volume; and a small, fast mailbox.
    const env = {
      ...composeEnv,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      PUBLIC_URL: `http://localhost:${port}`,
      SYNCJOB_DATA_DIR: dataDir,
      SYNCJOB_DEMO_MESSAGES: '600',
      SYNCJOB_DEMO_SPEED: '60',
    };
    app = await runApp(env);
    baseUrl = `http://127.0.0.1:${port}`;
  }, 90_000);

  afterAll(async () => {
    await app?.stop();
    await cluster?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs on PostgreSQL with the emulator, as configured', () => {
    expect(app.output()).toContain('store: PostgreSQL');
    expect(app.output()).toMatch(
      /gmail: emulator at .*600 messages for me@example.com, legacy quota at 60× speed/,
    );
    // compose.env's schedule, read as the app reads it.
    expect(composeEnv.SYNCJOB_SCHEDULE_EVERY).toBe('30m');
    expect(app.output()).toContain('scheduler: every 30m, syncs accounts not synced for 1h');
  });

  it('refuses API calls without the session cookie', async () => {
    const response = await fetch(`${baseUrl}/api/sync/jobs?source=gmail&accountId=me@example.com`);
    expect(response.status).toBe(401);
    expect((await fetch(`${baseUrl}/api/mail/summary`)).status).toBe(401);
  });

  it('completes a full sync and serves the synced messages', async () => {
    const cookie = await openPage(baseUrl);
    const start = await fetch(`${baseUrl}/api/sync/jobs`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ source: 'gmail', accountId: 'me@example.com' }),
    });
    expect(start.status).toBe(202);
    const { job } = (await start.json()) as { job: { id: string } };
    let status = '';
    let finished: {
      status: string;
      mode: string;
      counters: { stored: number; total: number | null };
    } | null = null;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const response = await fetch(`${baseUrl}/api/sync/jobs/${job.id}`, { headers: { cookie } });
      finished = ((await response.json()) as { job: JobView }).job;
      status = finished?.status ?? '';
      if (!['queued', 'running'].includes(status)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(status, app.output()).toBe('completed');
    expect(finished?.mode).toBe('full');
    expect(finished?.counters.stored).toBe(600);
    const summary = (await (await fetch(`${baseUrl}/api/mail/summary`, { headers: { cookie } })).json()) as {
      total: number;
      labels: { id: string; count: number }[];
    };
    expect(summary.total).toBe(600);
    expect(summary.labels.length).toBeGreaterThan(0);
    const latest = (await (await fetch(`${baseUrl}/api/mail/latest`, { headers: { cookie } })).json()) as {
      messages: unknown[];
    };
    expect(latest.messages).toHaveLength(50);
    // Prometheus metrics of the engine, for a scraper (no session needed).
    const metrics = await fetch(`${baseUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/^syncjob_jobs_completed_total\{source="gmail"\} 1$/m);
    expect(text).toMatch(/^syncjob_messages_synced_total\{source="gmail"\} 600$/m);
  }, 90_000);

  it('stops cleanly on SIGTERM', async () => {
    expect(await app.stop('SIGTERM')).toBe(0);
    expect(app.output()).toContain('stopped');
  });
});
