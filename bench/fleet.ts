/**
 * `npm run bench:fleet`: a fleet sharing one Google project. 100 accounts of 3,000 messages, 4
 * worker processes on PostgreSQL, one emulator whose project budget per minute is a tenth of the
 * accounts' combined per-user demand, so it binds. Measured: the project's units per window as a
 * share of its budget, the share of calls refused, Jain's fairness index over the accounts'
 * throughput while all are active, how soon a manual sync started mid-run begins fetching; then
 * the daily-budget scenario (jobs wait, say until when, and resume on their own).
 *
 * `--governor` (or FLEET_GOVERNOR=1) gives the workers' engines the project budget as
 * `projectQuota` (compressed like the emulator), which the Gmail source takes units from as
 * `ctx.projectQuota`; without it every worker limits only its own accounts. BENCH_QUICK=1: 20 accounts of 500
 * messages. A full run writes its rows into its section of bench/RESULTS.md, keeping the rows of
 * the other setting, so ON and OFF stand side by side.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSyncEngine, type JobWaiting } from '@syncjob/core';
import { gmailSource } from '@syncjob/gmail';
import { defaultRefreshToken, type EmulatorStats, startGmailEmulator } from '@syncjob/gmail-emulator';
import { createPostgresStore, type PostgresStore } from '@syncjob/postgres';
import { startPgCluster } from '../packages/adapters/postgres/test/pgCluster.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const WORKER = here('./fleetWorker.mjs');
export const FLEET_TITLE = 'A fleet on one Google project (`npm run bench:fleet`)';

const { BENCH_QUICK, FLEET_GOVERNOR } = process.env;
const QUICK = Boolean(BENCH_QUICK);
const GOVERNOR = process.argv.includes('--governor') || FLEET_GOVERNOR === '1';
const envNumber = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const ACCOUNTS = envNumber('FLEET_ACCOUNTS', QUICK ? 20 : 100);
const MESSAGES = envNumber('FLEET_MESSAGES', QUICK ? 500 : 3_000);
const WORKERS = 4;
/** Time compression: at 2× a scaled minute lasts 30 s. */
const SPEED = envNumber('FLEET_SPEED', 2);
const USER_UNITS_PER_MINUTE = 15_000; // legacy profile
/**
 * A tenth of what the accounts could spend together under their own per-user quotas, as the issue
 * asks. On a small machine the fleet cannot produce that demand (it is CPU-bound well below it), so
 * the budget would not bind: FLEET_BUDGET sets it (units per scaled minute) below what the machine
 * reaches.
 */
const PROJECT_UNITS_PER_MINUTE = envNumber('FLEET_BUDGET', (ACCOUNTS * USER_UNITS_PER_MINUTE) / 10);

type Row = Record<string, string | number>;
const address = (i: number) => `fleet${i}@example.com`;
const MANUAL = 'manual@example.com';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function emulatorAuth(url: string) {
  return (accountId: string) => ({
    clientId: 'emulator-client-id.apps.googleusercontent.com',
    clientSecret: 'emulator-client-secret',
    refreshToken: defaultRefreshToken(accountId),
    tokenUrl: `${url}/token`,
  });
}

interface WorkerConfig {
  url: string;
  schema: string;
  emulatorUrl: string;
  speed: number;
  concurrency: number;
  governor: boolean;
  projectQuota: { unitsPerMinute: number; unitsPerDay?: number };
}

async function startWorkers(count: number, config: WorkerConfig): Promise<ChildProcess[]> {
  const children = Array.from({ length: count }, (_, index) =>
    spawn(process.execPath, [WORKER], {
      env: { ...process.env, FLEET_WORKER: JSON.stringify({ ...config, index }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve, reject) => {
          child.stdout!.once('data', () => resolve());
          child.once('exit', (code) => reject(new Error(`a fleet worker exited early (${code})`)));
        }),
    ),
  );
  return children;
}

async function stopWorkers(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/** Jain's fairness index: 1 when all are equal, 1/n when one takes everything. */
function jain(values: number[]): number {
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

const fetchedOf = (stats: EmulatorStats, user: string) => stats.byUser[user]?.fetches.distinctMessages ?? 0;
const fetchCallsOf = (stats: EmulatorStats, user: string) => {
  const methods = stats.byUser[user]?.byMethod ?? {};
  return (methods['users.messages.get']?.units ?? 0) + (methods['users.threads.get']?.units ?? 0);
};

async function jobStatuses(store: PostgresStore, schema: string) {
  const { rows } = await store.pool.query<{ account_id: string; status: string; waiting: JobWaiting | null }>(
    `SELECT account_id, status, waiting FROM "${schema}".jobs`,
  );
  return rows;
}

/** The rate-limited minute: 100 accounts, 4 workers, a project budget a tenth of their demand. */
async function runMinuteScenario(url: string): Promise<{ rows: Row[]; notes: string[] }> {
  const schema = `fleet_minute_${GOVERNOR ? 'on' : 'off'}`;
  const web = await createPostgresStore({ connectionString: url, schema });
  const users = [
    ...Array.from({ length: ACCOUNTS }, (_, i) => ({
      address: address(i),
      messages: MESSAGES,
      seed: 100 + i,
    })),
    { address: MANUAL, messages: MESSAGES, seed: 99 },
  ];
  const gmail = await startGmailEmulator({
    users,
    quota: 'legacy',
    speed: SPEED,
    projectUnitsPerMinute: PROJECT_UNITS_PER_MINUTE,
  });
  const workers = await startWorkers(WORKERS, {
    url,
    schema,
    emulatorUrl: gmail.url,
    speed: SPEED,
    // Room for every account plus one: the manual sync needs a free slot somewhere.
    concurrency: Math.ceil(ACCOUNTS / WORKERS) + 1,
    governor: GOVERNOR,
    projectQuota: { unitsPerMinute: PROJECT_UNITS_PER_MINUTE },
  });
  const source = gmailSource({ rootUrl: `${gmail.url}/`, auth: emulatorAuth(gmail.url) });
  const engine = createSyncEngine({ store: web, sources: [source], worker: false });
  try {
    const startedAt = Date.now();
    for (let i = 0; i < ACCOUNTS; i++) {
      await engine.start({ source: 'gmail', accountId: address(i), trigger: 'schedule' });
    }
    const fleet = Array.from({ length: ACCOUNTS }, (_, i) => address(i));
    let allActive: EmulatorStats | null = null;
    let beforeFirstEnd: EmulatorStats | null = null;
    let firstEndAt: number | null = null;
    let manualStartedAt: number | null = null;
    let manualFetchingAt: number | null = null;
    // About 1.8 units a message with the legacy costs (threads.get for threads, messages.get for singles).
    const expectedUnits = ACCOUNTS * MESSAGES * 1.8;
    for (;;) {
      await sleep(250);
      const stats = gmail.emulator.stats();
      const jobs = await jobStatuses(web, schema);
      const ended = jobs.filter((job) =>
        ['completed', 'failed', 'cancelled', 'interrupted'].includes(job.status),
      );
      if (!allActive && fleet.every((user) => fetchedOf(stats, user) > 0)) allActive = stats;
      if (ended.length === 0) beforeFirstEnd = stats;
      else firstEndAt ??= Date.now();
      if (manualStartedAt === null && stats.totals.units >= expectedUnits * 0.3) {
        manualStartedAt = Date.now();
        await engine.start({ source: 'gmail', accountId: MANUAL, trigger: 'manual' });
      }
      if (manualStartedAt !== null && manualFetchingAt === null && fetchCallsOf(stats, MANUAL) > 0) {
        manualFetchingAt = Date.now();
      }
      if (jobs.length === ACCOUNTS + 1 && ended.length === jobs.length) break;
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const stats = gmail.emulator.stats();
    const jobs = await jobStatuses(web, schema);
    // Full fixed windows only, before the first account finished (the fleet's demand was whole).
    const windowMs = stats.project.windowMs;
    const full = stats.project.recentWindows.filter((w) => {
      const start = Date.parse(w.startedAt);
      return start >= startedAt && start + windowMs <= (firstEndAt ?? Date.now());
    });
    const shares = full.map((w) => w.units / PROJECT_UNITS_PER_MINUTE);
    const throughputs =
      allActive && beforeFirstEnd
        ? fleet.map((user) => fetchedOf(beforeFirstEnd!, user) - fetchedOf(allActive!, user))
        : [];
    const stored = fleet.reduce((sum, user) => sum + fetchedOf(stats, user), 0);
    const row: Row = {
      governor: GOVERNOR ? 'on' : 'off',
      accounts: `${ACCOUNTS} × ${MESSAGES.toLocaleString('en-US')}`,
      'budget units/min': PROJECT_UNITS_PER_MINUTE.toLocaleString('en-US'),
      'budget used (mean / min of full windows)':
        shares.length > 0
          ? `${pct(shares.reduce((a, b) => a + b, 0) / shares.length)} / ${pct(Math.min(...shares))} (${shares.length})`
          : 'n/a',
      'calls refused': `${pct(stats.totals.rateLimited / Math.max(1, stats.totals.requests))} (${stats.totals.rateLimited.toLocaleString('en-US')} of ${stats.totals.requests.toLocaleString('en-US')})`,
      'of them by the project': stats.project.refused.perMinute.toLocaleString('en-US'),
      "Jain's index": throughputs.length > 0 ? jain(throughputs).toFixed(3) : 'n/a',
      'msg/s (real)': (stored / seconds).toFixed(0),
      'manual sync fetching after (compressed s)':
        manualStartedAt !== null && manualFetchingAt !== null
          ? ((manualFetchingAt - manualStartedAt) / 1000) * SPEED
          : 'never',
      'time s': seconds.toFixed(0),
      completed: `${jobs.filter((job) => job.status === 'completed').length} of ${jobs.length}`,
    };
    const notes = [
      `Legacy quota (15,000 units per user per minute) at ${SPEED}× speed (a ${60 / SPEED} s minute), PostgreSQL, ${WORKERS} worker processes with ${Math.ceil(ACCOUNTS / WORKERS) + 1} job slots each, one emulator whose project budget is ${PROJECT_UNITS_PER_MINUTE.toLocaleString('en-US')} units per scaled minute (${pct(PROJECT_UNITS_PER_MINUTE / (ACCOUNTS * USER_UNITS_PER_MINUTE))} of the accounts' combined per-user quota).`,
      "Budget used: units the emulator charged per fixed scaled minute, over the full minutes before the first account finished. Calls refused: every 429/403 the emulator answered (project and per-user) over all calls. Jain's index: over the messages each account fetched between the first moment all had fetched something and the first completion. Manual sync: a sync of one more account started once 30 % of the expected units were spent, until its first fetch was answered, times the speed.",
    ];
    return { rows: [row], notes };
  } finally {
    await stopWorkers(workers);
    await engine.stop();
    await web.close();
    await gmail.close();
  }
}

/** The day's budget runs out: jobs wait, say until when, and resume when the day turns. */
async function runDailyScenario(url: string): Promise<{ rows: Row[]; notes: string[] }> {
  const accounts = QUICK ? 4 : 10;
  const messages = 500;
  // A 30 s day; the per-user minute (21 ms) never binds.
  const speed = 2_880;
  const dayMs = 86_400_000 / speed;
  // About half of what the accounts need (≈ 1.8 units per message through threads.get): two days.
  const dailyUnits = Math.round(accounts * messages * 0.9);
  const schema = `fleet_daily_${GOVERNOR ? 'on' : 'off'}`;
  const web = await createPostgresStore({ connectionString: url, schema });
  // The scenario starts when a (compressed, epoch-aligned) day does, so every job meets the end of
  // the same day. The emulator keeps the real clock: the governor's day, counted on the workers'
  // clocks, is the emulator's day, as Google's and a deployment's are.
  await sleep(Math.ceil(Date.now() / dayMs) * dayMs - Date.now());
  const startedAt = Date.now();
  const gmail = await startGmailEmulator({
    users: Array.from({ length: accounts }, (_, i) => ({ address: address(i), messages, seed: 300 + i })),
    quota: 'legacy',
    speed,
    projectDailyUnits: dailyUnits,
  });
  const dayEndsReal = Date.parse(gmail.emulator.stats().project.dayEndsAt);
  const workers = await startWorkers(2, {
    url,
    schema,
    emulatorUrl: gmail.url,
    speed,
    concurrency: accounts,
    governor: GOVERNOR,
    projectQuota: { unitsPerMinute: 1_200_000, unitsPerDay: dailyUnits },
  });
  const source = gmailSource({ rootUrl: `${gmail.url}/`, auth: emulatorAuth(gmail.url) });
  const engine = createSyncEngine({ store: web, sources: [source], worker: false });
  try {
    for (let i = 0; i < accounts; i++) await engine.start({ source: 'gmail', accountId: address(i) });
    const firstWait = new Map<string, JobWaiting>();
    let jobs: Awaited<ReturnType<typeof jobStatuses>> = [];
    for (;;) {
      await sleep(200);
      jobs = await jobStatuses(web, schema);
      for (const job of jobs)
        if (job.waiting && !firstWait.has(job.account_id)) firstWait.set(job.account_id, job.waiting);
      if (jobs.every((job) => ['completed', 'failed', 'cancelled', 'interrupted'].includes(job.status)))
        break;
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const stats = gmail.emulator.stats();
    const waits = [...firstWait.values()];
    const offsets = waits.map((wait) => Math.abs(Date.parse(wait.until) - dayEndsReal));
    const row: Row = {
      governor: GOVERNOR ? 'on' : 'off',
      accounts: `${accounts} × ${messages}`,
      'daily budget': dailyUnits.toLocaleString('en-US'),
      'jobs that said they wait': `${waits.length} of ${accounts}`,
      'waiting for': [...new Set(waits.map((wait) => wait.for))].join(', ') || '—',
      'until = day end (max error ms)': offsets.length > 0 ? Math.max(...offsets).toFixed(0) : 'n/a',
      'refused (daily)': stats.project.refused.daily.toLocaleString('en-US'),
      'completed on their own': `${jobs.filter((job) => job.status === 'completed').length} of ${accounts}`,
      'time s (day = 30 s)': seconds.toFixed(0),
    };
    const notes = [
      `Daily budget: ${accounts} accounts of ${messages} messages, 2 worker processes on PostgreSQL, the emulator at ${speed}× speed (a 30 s day, starting with the scenario) with a daily budget of about half what the accounts need. A job "says it waits" when its row in \`jobs\` carries \`waiting\`; "until = day end" compares that \`until\` with the end of the emulator's day.`,
    ];
    return { rows: [row], notes };
  } finally {
    await stopWorkers(workers);
    await engine.stop();
    await web.close();
    await gmail.close();
  }
}

/**
 * The rows of the other governor setting in `title`'s table of the section written before, so a
 * run ON and a run OFF end up side by side (OFF first).
 */
function rowsOfOtherRun(text: string, title: string): { before: string[]; after: string[] } {
  const at = text.indexOf(`### ${title}\n`);
  if (at < 0) return { before: [], after: [] };
  const table = text.slice(at).split('\n\n')[1] ?? '';
  const other = GOVERNOR ? 'off' : 'on';
  const rows = table.split('\n').filter((line) => line.startsWith(`| ${other} |`));
  return GOVERNOR ? { before: rows, after: [] } : { before: [], after: rows };
}

/** In this bench's section of RESULTS.md, the line below which the text is hand-written and kept. */
const KEEP_BELOW = '<!-- bench:fleet rewrites the tables above; the notes below this line are kept. -->';

/**
 * Replaces (or adds) this bench's section of RESULTS.md, among the notes `npm run bench` keeps: its
 * tables, with the rows of the other governor setting kept, and what stands below `KEEP_BELOW`.
 */
function writeSection(tables: Array<{ title: string; rows: Row[]; notes: string[] }>): void {
  const path = here('./RESULTS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const lines = [`## ${FLEET_TITLE}`, ''];
  for (const table of tables) {
    const columns = Object.keys(table.rows[0] ?? {});
    const other = rowsOfOtherRun(text, table.title);
    lines.push(
      `### ${table.title}`,
      '',
      `| ${columns.join(' | ')} |`,
      `| ${columns.map(() => '---').join(' | ')} |`,
      ...other.before,
      ...table.rows.map((row) => `| ${columns.map((c) => String(row[c] ?? '')).join(' | ')} |`),
      ...other.after,
      '',
      ...table.notes.map((note) => `${note}\n`),
    );
  }
  const section = lines.join('\n');
  const marker = '<!-- Hand-written notes below this line are kept by bench/run.ts. -->';
  const start = text.indexOf(`## ${FLEET_TITLE}`);
  let next: string;
  if (start >= 0) {
    const after = text.slice(start + 3);
    const ends = [after.search(/\n## /), after.indexOf(`\n${marker}`)].filter((i) => i >= 0);
    const end = ends.length > 0 ? start + 3 + Math.min(...ends) + 1 : text.length;
    // What was written by hand below the tables (verdicts, earlier runs' conditions) stays.
    const old = text.slice(start, end);
    const kept = old.includes(KEEP_BELOW) ? old.slice(old.indexOf(KEEP_BELOW)) : `${KEEP_BELOW}\n\n`;
    next = `${text.slice(0, start)}${section}\n${kept}${text.slice(end)}`;
  } else if (text.includes(marker)) {
    // Below the marker: `npm run bench` regenerates everything above it and keeps what is below.
    const at = text.indexOf(marker) + marker.length + 1;
    next = `${text.slice(0, at)}\n${section}\n${KEEP_BELOW}\n\n${text.slice(at)}`;
  } else {
    next = `${text}\n${section}\n${KEEP_BELOW}\n`;
  }
  writeFileSync(path, next);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const cluster = await startPgCluster({ database: 'syncjob_fleet', maxConnections: 300 });
  try {
    const minute = await runMinuteScenario(cluster.url);
    console.log(`\n## ${FLEET_TITLE}\n\nThe project's minute (governor ${GOVERNOR ? 'ON' : 'OFF'})`);
    console.table(minute.rows);
    for (const note of minute.notes) console.log(`  ${note}`);
    const daily = await runDailyScenario(cluster.url);
    console.log(`\nThe project's day (governor ${GOVERNOR ? 'ON' : 'OFF'})`);
    console.table(daily.rows);
    for (const note of daily.notes) console.log(`  ${note}`);
    if (!QUICK) {
      writeSection([
        { title: "The project's minute", ...minute },
        { title: "The project's day", ...daily },
      ]);
    }
  } finally {
    await cluster.stop();
  }
}
