// `npm run test:packed`: the packages as a user receives them. Packs every publishable package,
// installs the tarballs into a fresh Next.js 16 app and a fresh Vite + Express 5 app outside the
// repository, writes the README's code into them (blocks marked `<!-- file: … -->`), builds and
// starts each against the Gmail emulator, and drives Chromium through a sync: start, reload,
// second tab, cancel, sync again, completion. Prints a table of steps and times; exits 1 on failure.
//
// Environment:
//   SYNCJOB_PACKED_DOCS      Markdown files holding the marked blocks, comma-separated, relative to
//                            the repository (default: the fixtures beside this file).
//   SYNCJOB_PACKED_KIT       `reattach` | `controlled`: the page and checks for the React kit's
//                            default (default: read from the packed kit's types).
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
import { dirname, join, relative } from 'node:path';
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
  SYNCJOB_PACKED_KIT,
} = process.env;

type AppName = 'next' | 'express';
const APPS = (SYNCJOB_PACKED_APPS ?? 'next,express').split(',').map((a) => a.trim()) as AppName[];
const MESSAGES = Number(SYNCJOB_PACKED_MESSAGES ?? 3000);
const KEEP = SYNCJOB_PACKED_KEEP === '1';
const CHROMIUM = SYNCJOB_CHROMIUM ?? '/usr/bin/chromium';

/** The Markdown files whose marked blocks become app files; the READMEs once they carry markers. */
const DOCS = (SYNCJOB_PACKED_DOCS ?? 'test/packed/fixtures/hosting.md').split(',');
/** The page's block: the README's once it is marked there; until then the fixture of the kit in use. */
const pageDoc = (kit: Kit) => `test/packed/fixtures/page-${kit}.md`;

/** What each app must receive from the docs: the three moves' code, nothing else. */
const DOC_FILES: Record<AppName, string[]> = {
  next: ['lib/syncEngine.ts', 'app/api/sync/[...path]/route.ts', 'components/MailboxSync.tsx'],
  express: ['lib/syncEngine.ts', 'server.ts', 'components/MailboxSync.tsx'],
};

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

type Kit = 'reattach' | 'controlled';

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
      clearTimeout(timeout);
      writeFileSync(options.log, output);
      return code;
    },
  };
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

/** Points the README code's core imports at the compatibility shims (before i13-server lands). */
function withCompatImports(code: string, appDir: string, file: string): string {
  const from = dirname(join(appDir, file));
  const target = (name: string) => {
    const path = relative(from, join(appDir, 'syncjob-compat', name)).replaceAll('\\', '/');
    return path.startsWith('.') ? path : `./${path}`;
  };
  return code
    .replace(/from '@syncjob\/core'/g, `from '${target('core')}'`)
    .replace(/from '@syncjob\/core\/http'/g, `from '${target('http')}'`);
}

function writeAppFiles(app: AppName, appDir: string, account: string, kit: Kit, compat: boolean): string[] {
  const docs = [...DOCS, pageDoc(kit)];
  const marked = docs.flatMap((doc) => extractMarkedFiles(readFileSync(join(root, doc), 'utf8'), doc));
  const files = filesForApp(marked, app);
  const missing = DOC_FILES[app].filter((path) => !files.has(path));
  if (missing.length)
    throw new Error(`the docs (${docs.join(', ')}) mark no block for ${missing.join(', ')} (app ${app})`);
  const written: string[] = [];
  for (const [path, file] of files) {
    writeFile(join(appDir, path), compat ? withCompatImports(file.code, appDir, path) : file.code);
    written.push(`${path} ← ${file.origin}`);
  }
  // The glue the README leaves to the user: sign-in, credentials, the page around the component.
  cpSync(join(here, 'glue', 'shared'), appDir, { recursive: true });
  cpSync(join(here, 'glue', app), appDir, { recursive: true });
  writeFile(join(appDir, 'lib', 'account.ts'), `export const ACCOUNT = ${JSON.stringify(account)};\n`);
  if (compat) cpSync(join(here, 'compat'), join(appDir, 'syncjob-compat'), { recursive: true });
  return written;
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

    // What the packed packages offer decides the compat shims and the page variant.
    const installed = (path: string) => readFileSync(join(dirs[APPS[0]!], 'node_modules', path), 'utf8');
    const compat = !/defineSyncEngine/.test(installed('@syncjob/core/dist/index.d.ts'));
    const kit: Kit =
      (SYNCJOB_PACKED_KIT as Kit | undefined) ??
      (/\bopen\?\s*:\s*boolean/.test(installed('@syncjob/react/dist/index.d.ts'))
        ? 'reattach'
        : 'controlled');
    console.log(
      `core ${compat ? 'lacks defineSyncEngine: compat shims' : 'has defineSyncEngine'}; kit: ${kit} (page ${pageDoc(kit)})`,
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
      const dataDir = join(work, `${app}-data`);
      mkdirSync(dataDir);
      const dbPath = join(dataDir, 'sync.db');
      const env = { SYNC_DB_PATH: dbPath, GMAIL_ROOT_URL: gmailRootUrl, NEXT_TELEMETRY_DISABLED: '1' };

      await step(
        `${app}: write README code + glue`,
        async () => writeAppFiles(app, dir, account, kit, compat),
        (files) => files.map((file) => file.split(' ← ')[0]).join(', '),
      );

      if (app === 'next') {
        await step('next: next build', () =>
          run('npx', ['next', 'build'], { cwd: dir, env, log: join(logs, 'next-build.log') }),
        );
        await step('next: build opened no database', async () => {
          const opened = [dbPath, join(dir, 'data', 'sync.db')].filter((path) => existsSync(path));
          if (opened.length)
            throw new Error(`next build created ${opened.join(', ')}: the engine ran at build time`);
        });
      } else {
        await step('express: tsc --noEmit', () =>
          run('npx', ['tsc', '--noEmit'], { cwd: dir, log: join(logs, 'express-tsc.log') }),
        );
        await step('express: vite build', () =>
          run('npx', ['vite', 'build'], { cwd: dir, log: join(logs, 'express-build.log') }),
        );
      }

      const port = await freePort();
      const server = await step(`${app}: start server`, () =>
        app === 'next'
          ? startServer('npx', ['next', 'start', '-p', String(port), '-H', '127.0.0.1'], {
              cwd: dir,
              env,
              port,
              log: join(logs, 'next-server.log'),
            })
          : startServer('npx', ['tsx', 'server.ts'], {
              cwd: dir,
              env: { ...env, PORT: String(port) },
              port,
              log: join(logs, 'express-server.log'),
            }),
      );
      let stopped = false;
      cleanups.push(async () => {
        if (!stopped) await server.stop();
      });

      await runBrowserScenario({
        app,
        baseUrl: server.url,
        account,
        messages: MESSAGES,
        kit,
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
        if (!existsSync(dbPath)) throw new Error(`the app did not use SYNC_DB_PATH (${dbPath})`);
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
