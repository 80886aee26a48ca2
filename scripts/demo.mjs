#!/usr/bin/env node
// `npm run demo`: builds what the example app needs (turbo skips what is up to date), then runs
// examples/gmail-sync-app with the Gmail emulator and a synthetic mailbox, on SQLite unless
// DATABASE_URL is set. Ctrl-C stops it cleanly: a running sync saves its checkpoint and resumes
// on the next `npm run demo`.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'gmail-sync-app');

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `The demo needs Node 22.18 or newer (it runs TypeScript directly); this is ${process.version}.`,
  );
  process.exit(1);
}

// The demo's defaults, each overridable from the environment (the app reads the same names).
const defaults = {
  PORT: '3000',
  SYNCJOB_DEMO_MESSAGES: '20000',
  SYNCJOB_DEMO_QUOTA: 'legacy',
  SYNCJOB_DEMO_SPEED: '2',
};
const env = { ...process.env };
for (const [name, value] of Object.entries(defaults)) env[name] ||= value;
const url = `http://localhost:${env.PORT}`;

console.log('syncjob demo: building the packages and the page (skipped when up to date)…');
const started = Date.now();
const build = spawnSync(
  'npx',
  ['turbo', 'run', 'build', '--filter=gmail-sync-app...', '--output-logs=errors-only'],
  {
    cwd: root,
    stdio: 'inherit',
    shell: process.platform === 'win32',
  },
);
if (build.status !== 0) {
  console.error('The build failed (see above).');
  process.exit(build.status ?? 1);
}
console.log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

const app = spawn(process.execPath, ['server/main.ts'], {
  cwd: example,
  env,
  stdio: ['inherit', 'pipe', 'inherit'],
});
let ready = false;
app.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!ready && chunk.toString().includes('example app ready')) {
    ready = true;
    const messages = Number(env.SYNCJOB_DEMO_MESSAGES).toLocaleString('en-US');
    const gmail = env.GOOGLE_CLIENT_ID
      ? 'your Gmail account (press "Connect Gmail")'
      : `the Gmail emulator: ${messages} messages, ${env.SYNCJOB_DEMO_QUOTA} quota at ${env.SYNCJOB_DEMO_SPEED}× speed`;
    console.log(
      [
        '┌────────────────────────────────────────────────────────────',
        `│  Open ${url} and press "Sync now".`,
        `│  Syncing ${gmail}`,
        `│  into ${env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'SQLite (examples/gmail-sync-app/data/)'}.`,
        '│  Reload, close the dialog or open a second tab: the sync goes on.',
        '│  Ctrl-C stops; a running sync resumes on the next start.',
        '└────────────────────────────────────────────────────────────',
      ].join('\n'),
    );
  }
});

// A terminal's Ctrl-C reaches the app too (same process group); a SIGTERM sent to this script
// alone is passed on. Either way this script waits for the app to finish saving, then exits.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (app.exitCode === null) app.kill(signal);
  });
}
app.on('exit', (code, signal) => {
  if (!ready && code !== 0) {
    console.error(`\nThe app did not start. Is port ${env.PORT} taken? Try PORT=3001 npm run demo.`);
  }
  process.exit(code ?? (signal ? 0 : 1));
});
