// `npm run test:packed`: the packages as a user receives them. Packs every publishable package,
// installs the tarballs into a fresh Next.js 16 app and a fresh Vite + Express 5 app outside the
// repository, writes the README's code into them (blocks marked `<!-- file: … -->`), builds and
// starts each against the Gmail emulator, and drives Chromium through a sync: start, reload,
// second tab, cancel, sync again, completion. Prints a table of steps and times; exits 1 on failure.
//
// After each app's scenario it checks what SIGTERM does to a running job (`SIGTERM_TRIALS`).
//
// Environment:
//   SYNCJOB_PACKED_DOCS      Markdown files holding the marked blocks, comma-separated, relative to
//                            the repository (default: packages/core/README.md,README.md).
//   SYNCJOB_PACKED_APPS      `next,express` (default) or one of them.
//   SYNCJOB_PACKED_MESSAGES  mailbox size (default 3000: a full sync of ≈ 25 s at the legacy quota's
//                            ceiling, about 115 messages/s with whole threads).
//   SYNCJOB_PACKED_KEEP=1    keep the temp folder (apps, logs, screenshots) after a passing run
//                            too (a failing run always keeps it).
//   SYNCJOB_CHROMIUM         the browser (default /usr/bin/chromium).
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runBrowserScenario } from './browserScenario.ts';
import { extractMarkedFiles, filesForApp } from './markdownFiles.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const started = Date.now();

const {
  SYNCJOB_PACKED_APPS,
  SYNCJOB_PACKED_MESSAGES,
  SYNCJOB_PACKED_KEEP,
  SYNCJOB_CHROMIUM,
  SYNCJOB_PACKED_DOCS,
} = process.env;

type AppName = 'next' | 'express';
const APPS = (SYNCJOB_PACKED_APPS ?? 'next,express').split(',').map((a) => a.trim()) as AppName[];
const MESSAGES = Number(SYNCJOB_PACKED_MESSAGES ?? 3000);
const KEEP = SYNCJOB_PACKED_KEEP === '1';
const CHROMIUM = SYNCJOB_CHROMIUM ?? '/usr/bin/chromium';

/** The Markdown files whose marked blocks become app files: the READMEs a user copies from. */
const DOCS = (SYNCJOB_PACKED_DOCS ?? 'packages/core/README.md,README.md').split(',');

/** What each app must receive from the docs: the three moves' code, nothing else. */
const DOC_FILES: Record<AppName, string[]> = {
  next: [
    'lib/syncEngine.ts',
    'app/api/sync/[...path]/route.ts',
    'instrumentation.ts',
    'components/MailboxSync.tsx',
  ],
  express: ['lib/syncEngine.ts', 'server.ts', 'components/MailboxSync.tsx'],
};

/** Where the README's engine keeps its database (`./data/sync.db`), the server's cwd being the app. */
const DB_FILE = join('data', 'sync.db');

/**
 * SIGTERM to a server whose worker runs a job: is the job's lease released at once (`queued`
 * again, no lease: the next server resumes it now) or left to expire? What the Hosting section of
 * packages/core/README.md says, checked on the real frameworks.
 */
const SIGTERM_TRIALS: Record<
  AppName,
  Array<{ label: string; env: NodeJS.ProcessEnv; expect: LeaseOutcome }>
> = {
  next: [
    { label: 'next start', env: {}, expect: 'released' }, // Next exits by itself (143); the stop is quicker
    {
      label: 'NEXT_MANUAL_SIG_HANDLE=true next start',
      env: { NEXT_MANUAL_SIG_HANDLE: 'true' },
      expect: 'released',
    },
  ],
  express: [{ label: 'tsx server.ts', env: {}, expect: 'released' }],
};
type LeaseOutcome = 'released' | 'left to expire';

const PUBLISHABLE = [
  'packages/core',
  'packages/react',
  'packages/cli',
  'packages/gmail-emulator',
  'packages/adapters/sqlite',
  'packages/adapters/postgres',
  'packages/adapters/gmail',
];

const THIRD_PARTY: Record<
  AppName,
  { dependencies: Record<string, string>; devDependencies: Record<string, string> }
> = {
  next: {
    dependencies: { next: '^16.0.0', react: '^19.2.0', 'react-dom': '^19.2.0' },
    devDependencies: {
      typescript: '^6.0.0',
      '@types/node': '^24.0.0',
      '@types/react': '^19.2.0',
      '@types/react-dom': '^19.2.0',
    },
  },
  express: {
    dependencies: { express: '^5.1.0', react: '^19.2.0', 'react-dom': '^19.2.0', tsx: '^4.20.0' },
    devDependencies: {
      vite: '^8.0.0',
      '@vitejs/plugin-react': '^6.0.0',
      typescript: '^6.0.0',
      '@types/express': '^5.0.0',
      '@types/node': '^24.0.0',
      '@types/react': '^19.2.0',
      '@types/react-dom': '^19.2.0',
    },
  },
};

// ── steps and the summary table ──────────────────────────────────────────────────────────────
interface StepRow {
  name: string;
  ms: number;
  ok: boolean;
  note?: string;
}
const rows: StepRow[] = [];

async function step<T>(name: string, run: () => Promise<T>, note?: (value: T) => string): Promise<T> {
  const at = Date.now();
  process.stdout.write(`▶ ${name}\n`);
  try {
    const value = await run();
    rows.push({ name, ms: Date.now() - at, ok: true, ...(note ? { note: note(value) } : {}) });
    return value;
  } catch (error) {
    rows.push({ name, ms: Date.now() - at, ok: false, note: firstLine(error) });
    throw error;
  }
}

const firstLine = (error: unknown) =>
  String(error instanceof Error ? error.message : error).split('\n')[0] ?? '';

function printSummary(failure: unknown): void {
  const width = Math.max(...rows.map((row) => row.name.length), 20);
  const lines = rows.map(
    (row) =>
      `${row.ok ? 'ok  ' : 'FAIL'}  ${row.name.padEnd(width)}  ${`${(row.ms / 1000).toFixed(1)} s`.padStart(8)}` +
      (row.note ? `  ${row.note}` : ''),
  );
  console.log(`\n${'─'.repeat(width + 18)}\n${lines.join('\n')}\n${'─'.repeat(width + 18)}`);
  console.log(
    `${failure ? 'FAILED' : 'passed'}: packed-package test in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  if (failure) console.error(failure instanceof Error ? (failure.stack ?? failure.message) : failure);
}

// ── processes ────────────────────────────────────────────────────────────────────────────────
function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; log: string },
) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      writeFileSync(options.log, output);
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} exited with ${code} (log: ${options.log})\n${output.slice(-4000)}`,
          ),
        );
    });
  });
}

interface Server {
  url: string;
  output: () => string;
  stop: () => Promise<number | null>;
}

async function startServer(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; port: number; log: string },
): Promise<Server> {
  const child: ChildProcess = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: `npx`/`next` children get the signal too
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}\n${output}`);
    try {
      const response = await fetch(url);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${command} did not answer on ${url} within 60 s\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGTERM');
      const timeout = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 15_000);
      const code = await exited;
      // `npx` may exit before its child (the server) is done: wait for the whole group to be gone.
      const until = Date.now() + 20_000;
      while (child.pid && groupAlive(child.pid) && Date.now() < until)
        await new Promise((resolve) => setTimeout(resolve, 50));
      clearTimeout(timeout);
      writeFileSync(options.log, output);
      return code;
    },
  };
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Server output lines that are not the frameworks' normal start-up and shutdown chatter. */
export function unexpectedLogLines(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => /error|warn|exception|unhandled|fail|deprecat/i.test(line))
    .filter((line) => line.trim() !== '');
}

// ── the apps ─────────────────────────────────────────────────────────────────────────────────
function writeFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function appPackageJson(app: AppName, tarballs: Map<string, string>): string {
  const syncjob = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
  const { dependencies, devDependencies } = THIRD_PARTY[app];
  return `${JSON.stringify(
    {
      name: `syncjob-packed-${app}`,
      private: true,
      type: 'module',
      scripts:
        app === 'next'
          ? { build: 'next build', start: 'next start' }
          : { build: 'vite build', start: 'tsx server.ts', typecheck: 'tsc --noEmit' },
      dependencies: { ...syncjob, ...dependencies },
      devDependencies,
      // The packages depend on each other by version (`@syncjob/core: 0.1.0`): the tarballs answer.
      overrides: Object.fromEntries([...tarballs.keys()].map((name) => [name, `$${name}`])),
    },
    null,
    2,
  )}\n`;
}

function writeAppFiles(app: AppName, appDir: string, account: string): string[] {
  const marked = DOCS.flatMap((doc) => extractMarkedFiles(readFileSync(join(root, doc), 'utf8'), doc));
  const files = filesForApp(marked, app);
  const missing = DOC_FILES[app].filter((path) => !files.has(path));
  if (missing.length)
    throw new Error(`the docs (${DOCS.join(', ')}) mark no block for ${missing.join(', ')} (app ${app})`);
  const extra = [...files.keys()].filter((path) => !DOC_FILES[app].includes(path));
  if (extra.length)
    throw new Error(`the docs mark blocks the test does not expect: ${extra.join(', ')} (app ${app})`);
  const written: string[] = [];
  for (const [path, file] of files) {
    writeFile(join(appDir, path), file.code);
    written.push(`${path} ← ${file.origin}`);
  }
  // The glue the README leaves to the user: sign-in, credentials, the page around the component.
  cpSync(join(here, 'glue', 'shared'), appDir, { recursive: true });
  cpSync(join(here, 'glue', app), appDir, { recursive: true });
  writeFile(join(appDir, 'lib', 'account.ts'), `export const ACCOUNT = ${JSON.stringify(account)};\n`);
  return written;
}

/** The job's row as the SQLite store keeps it, read from the file once the server is gone. */
function leaseOf(dbPath: string, jobId: string): { outcome: LeaseOutcome; detail: string } {
  const db = new DatabaseSync(dbPath);
  try {
    const row = db
      .prepare('SELECT status, lease_token, lease_expires_at FROM jobs WHERE id = ?')
      .get(jobId) as
      | { status: string; lease_token: string | null; lease_expires_at: number | null }
      | undefined;
    if (!row) throw new Error(`job ${jobId} is not in ${dbPath}`);
    const lease =
      row.lease_expires_at === null
        ? 'no lease'
        : `lease for ${Math.round((row.lease_expires_at - Date.now()) / 1000)} s more`;
    const detail = `${row.status}, ${lease}`;
    if (row.status === 'queued' && row.lease_token === null) return { outcome: 'released', detail };
    if (row.status === 'running' && row.lease_expires_at !== null && row.lease_expires_at > Date.now())
      return { outcome: 'left to expire', detail };
    throw new Error(`unexpected state of the interrupted job: ${detail}`);
  } finally {
    db.close();
  }
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set SYNCJOB_CHROMIUM)`);
  const work = mkdtempSync(join(tmpdir(), 'syncjob-packed-'));
  const logs = join(work, 'logs');
  mkdirSync(logs);
  console.log(`packed-package test in ${work}`);
  const cleanups: Array<() => Promise<unknown>> = [];
  let failed = true;
  try {
    // 1. Pack.
    const tarballDir = join(work, 'tarballs');
    mkdirSync(tarballDir);
    const tarballs = await step(
      'npm pack (7 packages)',
      async () => {
        const output = await run(
          'npm',
          ['pack', '--json', '--pack-destination', tarballDir, ...PUBLISHABLE.flatMap((dir) => ['-w', dir])],
          { cwd: root, log: join(logs, 'pack.log') },
        );
        const packed = JSON.parse(output.slice(output.indexOf('['))) as Array<{
          name: string;
          filename: string;
        }>;
        return new Map(packed.map((entry) => [entry.name, join(tarballDir, entry.filename)]));
      },
      (map) => [...map.values()].map((file) => file.split('/').pop()).join(' '),
    );

    // 2. Install both apps at once (the registry and the shared npm cache do the work).
    const dirs = Object.fromEntries(APPS.map((app) => [app, join(work, `${app}-app`)])) as Record<
      AppName,
      string
    >;
    for (const app of APPS) writeFile(join(dirs[app], 'package.json'), appPackageJson(app, tarballs));
    await Promise.all(
      APPS.map((app) =>
        step(`${app}: npm install (tarballs + registry)`, () =>
          run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
            cwd: dirs[app],
            log: join(logs, `${app}-install.log`),
          }),
        ),
      ),
    );

    // 3. The Gmail emulator, from the packed package: one mailbox per app.
    const emulatorEntry = createRequire(join(dirs[APPS[0]!], 'package.json')).resolve(
      '@syncjob/gmail-emulator',
    );
    const { startGmailEmulator } = (await import(
      pathToFileURL(emulatorEntry).href
    )) as typeof import('@syncjob/gmail-emulator');
    const emulator = await step(`gmail emulator (${MESSAGES} messages per app)`, () =>
      startGmailEmulator({
        users: APPS.map((app, index) => ({
          address: `${app}@example.com`,
          messages: MESSAGES,
          seed: index + 1,
        })),
        quota: 'legacy',
        speed: 1,
      }),
    );
    cleanups.push(() => emulator.close());
    const gmailRootUrl = `${emulator.url}/`;

    for (const app of APPS) {
      const dir = dirs[app];
      const account = `${app}@example.com`;
      const dbPath = join(dir, DB_FILE);
      const env = { GMAIL_ROOT_URL: gmailRootUrl, NEXT_TELEMETRY_DISABLED: '1' };

      await step(
        `${app}: write README code + glue`,
        async () => writeAppFiles(app, dir, account),
        (files) => files.map((file) => file.split(' ← ')[0]).join(', '),
      );

      if (app === 'next') {
        await step('next: next build', () =>
          run('npx', ['next', 'build'], { cwd: dir, env, log: join(logs, 'next-build.log') }),
        );
        await step('next: build opened no database', async () => {
          if (existsSync(join(dir, 'data')))
            throw new Error(`next build created ${join(dir, 'data')}: the engine ran at build time`);
        });
      } else {
        await step('express: tsc --noEmit', () =>
          run('npx', ['tsc', '--noEmit'], { cwd: dir, log: join(logs, 'express-tsc.log') }),
        );
        await step('express: vite build', () =>
          run('npx', ['vite', 'build'], { cwd: dir, log: join(logs, 'express-build.log') }),
        );
      }

      const startApp = (extraEnv: NodeJS.ProcessEnv, log: string) =>
        freePort().then((port) =>
          app === 'next'
            ? startServer('npx', ['next', 'start', '-p', String(port), '-H', '127.0.0.1'], {
                cwd: dir,
                env: { ...env, ...extraEnv },
                port,
                log: join(logs, log),
              })
            : startServer('npx', ['tsx', 'server.ts'], {
                cwd: dir,
                env: { ...env, ...extraEnv, PORT: String(port) },
                port,
                log: join(logs, log),
              }),
        );
      const server = await step(`${app}: start server`, () => startApp({}, `${app}-server.log`));
      let stopped = false;
      cleanups.push(async () => {
        if (!stopped) await server.stop();
      });

      await runBrowserScenario({
        app,
        baseUrl: server.url,
        account,
        messages: MESSAGES,
        chromium: CHROMIUM,
        profileDir: join(work, `${app}-chromium`),
        artifacts: join(work, `${app}-screenshots`),
        step: (name, body) => step(`${app}: ${name}`, body),
      });

      await step(`${app}: server stops on SIGTERM, logged nothing unexpected`, async () => {
        const code = await server.stop();
        stopped = true;
        const unexpected = unexpectedLogLines(server.output());
        if (unexpected.length) throw new Error(`unexpected server output:\n${unexpected.join('\n')}`);
        if (code !== 0 && code !== null) throw new Error(`the server exited with ${code}`);
        if (!existsSync(dbPath)) throw new Error(`the app did not keep its jobs in ./${DB_FILE}`);
      });

      const outcomes: string[] = [];
      for (const [index, trial] of SIGTERM_TRIALS[app].entries()) {
        await step(
          `${app}: SIGTERM during a sync (${trial.label})`,
          async () => {
            rmSync(join(dir, 'data'), { recursive: true, force: true }); // a fresh database: one job, ours
            const trialServer = await startApp(trial.env, `${app}-sigterm-${index + 1}.log`);
            let exited = false;
            cleanups.push(async () => {
              if (!exited) await trialServer.stop();
            });
            const api = `${trialServer.url}/api/sync/jobs`;
            const started = await fetch(api, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ source: 'gmail', accountId: account, mode: 'full' }),
            });
            if (started.status !== 202) throw new Error(`POST /api/sync/jobs answered ${started.status}`);
            const { job } = (await started.json()) as { job: { id: string } };
            const deadline = Date.now() + 30_000;
            for (;;) {
              const answer = (await (await fetch(`${api}/${job.id}`)).json()) as {
                job: { status: string; counters: { stored: number } };
              };
              if (answer.job.status === 'running' && answer.job.counters.stored > 0) break;
              if (Date.now() > deadline)
                throw new Error(`the job did not run: ${JSON.stringify(answer.job)}`);
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
            const at = Date.now();
            const code = await trialServer.stop();
            exited = true;
            const { outcome, detail } = leaseOf(dbPath, job.id);
            const observed = `${trial.label}: exit ${code} after ${Date.now() - at} ms, lease ${outcome} (${detail})`;
            outcomes.push(`${observed}${outcome === trial.expect ? '' : ` — the docs say ${trial.expect}`}`);
            return observed;
          },
          (observed) => observed,
        );
      }
      await step(`${app}: SIGTERM outcomes are what the Hosting docs say`, async () => {
        const wrong = outcomes.filter((line) => line.includes('the docs say'));
        if (wrong.length) throw new Error(wrong.join('\n'));
      });
    }
    failed = false;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    // A failed run keeps its apps, logs and screenshots for a look.
    if (KEEP || failed) console.log(`kept ${work} (logs in ${logs})`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => {
    printSummary(null);
    process.exit(0);
  },
  (error: unknown) => {
    printSummary(error);
    process.exit(1);
  },
);
