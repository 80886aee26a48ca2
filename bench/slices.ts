/**
 * `npm run bench:slices`: the cost of time slicing (`POST /work` on a serverless host). The same
 * full sync runs three ways on one emulator (one user each, so each has its own quota) and SQLite:
 * a long-running worker process, and fresh processes each handling one `POST /work` of 5 s or 30 s,
 * chained at once while `moreWork` is true (as the README's cron route does). Throughput counts
 * from the start request to `completed`, process starts included. Prints a table and writes it into
 * bench/RESULTS.md as its own section (`bench/run.ts` includes it in a full run too).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSyncEngine } from '@syncjob/core';
import { gmailSource } from '@syncjob/gmail';
import { defaultRefreshToken, startGmailEmulator } from '@syncjob/gmail-emulator';
import { createSqliteStore } from '@syncjob/sqlite';

const run = promisify(execFile);
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const INVOCATION = here('../test/serverless/fixtures/workInvocation.mjs');
const WORKER = here('./slicesWorker.mjs');
const SECRET = 'bench-slices-secret-0123456789abcdef';

export const SLICES_TITLE = '8. Cost of time slicing (serverless `POST /work`)';

export interface SlicesOptions {
  messages?: number;
  speed?: number;
}

type Row = Record<string, string | number>;

/** Runs the three ways; returns the table rows and their notes. */
export async function runSlicesBench(options: SlicesOptions = {}): Promise<{ rows: Row[]; notes: string[] }> {
  const messages = options.messages ?? 20_000;
  const speed = options.speed ?? 5;
  const ways = [
    { name: 'long-running worker', sliceMs: 0 },
    { name: '30 s slices', sliceMs: 30_000 },
    { name: '5 s slices', sliceMs: 5_000 },
  ];
  const gmail = await startGmailEmulator({
    users: ways.map((_, i) => ({ address: `user${i}@example.com`, messages, seed: 11 })),
    quota: 'legacy',
    speed,
  });
  const measured: Array<{ name: string; seconds: number; invocations: number; stored: number }> = [];
  try {
    for (const [index, way] of ways.entries()) {
      const address = `user${index}@example.com`;
      const dir = mkdtempSync(join(tmpdir(), 'syncjob-slices-'));
      const path = join(dir, 'sync.db');
      const store = createSqliteStore({ path });
      // The app's web side only starts the job (worker: false): its source never runs here.
      const source = gmailSource({
        rootUrl: `${gmail.url}/`,
        auth: (accountId) => ({
          clientId: 'emulator-client-id.apps.googleusercontent.com',
          clientSecret: 'emulator-client-secret',
          refreshToken: defaultRefreshToken(accountId),
          tokenUrl: `${gmail.url}/token`,
        }),
      });
      const web = createSyncEngine({ store, sources: [source], worker: false });
      const started = Date.now();
      const { job } = await web.start({ source: 'gmail', accountId: address });
      let invocations = 0;
      if (way.sliceMs === 0) {
        await run(process.execPath, [WORKER], {
          env: {
            ...process.env,
            SLICES_WORKER: JSON.stringify({ path, emulatorUrl: gmail.url, quotaSpeed: speed }),
          },
        });
        invocations = 1;
      } else {
        for (;;) {
          invocations += 1;
          const { stdout } = await run(process.execPath, [INVOCATION], {
            env: {
              ...process.env,
              SERVERLESS_INVOCATION: JSON.stringify({
                store: { kind: 'sqlite', path },
                emulatorUrl: gmail.url,
                quotaSpeed: speed,
                maxMs: way.sliceMs,
                secret: SECRET,
              }),
            },
          });
          const answer = JSON.parse(stdout.trim().split('\n').at(-1)!) as { body: { moreWork: boolean } };
          if (!answer.body.moreWork) break;
        }
      }
      const seconds = (Date.now() - started) / 1000;
      const final = await store.getJob(job.id);
      if (final?.status !== 'completed') throw new Error(`${way.name}: the job ended ${final?.status}`);
      measured.push({ name: way.name, seconds, invocations, stored: final.counters.stored });
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await gmail.close();
  }
  const baseline = measured[0]!;
  const rows = measured.map((m) => ({
    approach: m.name,
    messages: m.stored.toLocaleString('en-US'),
    processes: m.invocations,
    'time s': m.seconds.toFixed(1),
    'msg/s': (m.stored / m.seconds).toFixed(0),
    'of long-running': `${((baseline.seconds / m.seconds) * 100).toFixed(0)} %`,
  }));
  const notes = [
    `Legacy quota at ${speed}× speed, ${messages.toLocaleString('en-US')} messages, SQLite, one emulator (a user per row, each with its own quota). Each slice is a fresh \`node\` process handling one \`POST /work\` (\`test/serverless/fixtures/workInvocation.mjs\`), chained at once while \`moreWork\` is true; time runs from the start request to \`completed\`, process starts included. Target: ≥ 80 % of the long-running worker at 30 s slices.`,
    'A slice costs a process start, a store open, an OAuth token refresh, a fresh quota limiter and the batch under way at its end (fetched again by the next slice).',
  ];
  return { rows, notes };
}

/** Replaces (or appends) this bench's section of RESULTS.md, above the hand-written notes. */
function writeSection(rows: Row[], notes: string[]): void {
  const columns = Object.keys(rows[0] ?? {});
  const section = [
    `## ${SLICES_TITLE}`,
    '',
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((c) => String(row[c] ?? '')).join(' | ')} |`),
    '',
    ...notes.map((note) => `${note}\n`),
  ].join('\n');
  const path = here('./RESULTS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const marker = '<!-- Hand-written notes below this line are kept by bench/run.ts. -->';
  const start = text.indexOf(`## ${SLICES_TITLE}`);
  let next: string;
  if (start >= 0) {
    const after = text.slice(start + 3);
    const endCandidates = [after.search(/\n## /), after.indexOf(`\n${marker}`), after.search(/\nWhole run: /)]
      .filter((i) => i >= 0)
      .map((i) => start + 3 + i + 1);
    const end = endCandidates.length > 0 ? Math.min(...endCandidates) : text.length;
    next = `${text.slice(0, start)}${section}\n${text.slice(end)}`;
  } else if (text.includes(marker)) {
    const at = text.indexOf(marker);
    next = `${text.slice(0, at)}${section}\n${text.slice(at)}`;
  } else {
    next = `${text}\n${section}\n`;
  }
  writeFileSync(path, next);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { rows, notes } = await runSlicesBench();
  console.log(`\n## ${SLICES_TITLE}`);
  console.table(rows);
  for (const note of notes) console.log(`  ${note}`);
  writeSection(rows, notes);
}
