import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningGmailEmulator, startGmailEmulator } from '@syncjob/gmail-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './childProcess';

const dir = mkdtempSync(join(tmpdir(), 'syncjob-cli-'));
const db = `sqlite:${join(dir, 'sync.db')}`;
const ACCOUNT = 'me@example.com';
let gmail: RunningGmailEmulator;

beforeAll(async () => {
  gmail = await startGmailEmulator({ users: [{ address: ACCOUNT, messages: 120, seed: 1 }] });
});
afterAll(async () => {
  await gmail?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('syncjob: bad arguments exit 2', () => {
  it.each([
    [[], /Usage: syncjob <command>/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['sync', '--db', db], /--account <id> is required/],
    [
      ['sync', '--account', ACCOUNT, '--db', db, '--mode', 'sideways'],
      /--mode must be one of auto, full, incremental/,
    ],
    [['sync', '--account', ACCOUNT, '--db', db], /Gmail credentials missing/],
    [['status', '--db', 'mysql://x'], /--db must be sqlite:<file> or postgres/],
    [['status'], /--db is required/],
    [['history', '--db', db, '--limit', '0'], /--limit must be a positive whole number/],
    [['logs', '--db', db], /a job id is required/],
    [['logs', 'undefined', '--db', db], /"undefined" is not a job id/],
    [['status', '--db', db, '--bogus'], /Unknown option '--bogus'/],
    [
      ['worker', '--db', db, '--project-units-per-minute', '1200000', '--project-share', '1.5'],
      /--project-share must be a number in \(0, 1\]/,
    ],
    [['worker', '--db', db, '--project-daily-units', '80000000'], /need --project-units-per-minute/],
    [
      ['worker', '--db', db, '--project-units-per-minute', '0'],
      /--project-units-per-minute must be a positive/,
    ],
  ])('%j', async (args, message) => {
    const { code, stderr, stdout } = await runCli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
  });
});

describe('syncjob: an unreachable database exits 3', () => {
  it('PostgreSQL that does not answer (the password is not printed)', async () => {
    const { code, stderr } = await runCli(['status', '--db', 'postgres://sync:hunter2@127.0.0.1:1/sync']);
    expect(code).toBe(3);
    expect(stderr).toMatch(
      /^syncjob status: Cannot open the PostgreSQL at postgres:\/\/sync:\*\*\*@127\.0\.0\.1:1\/sync: /,
    );
    expect(stderr).not.toContain('hunter2');
  });

  it('a SQLite file in a folder that cannot be created (the path is named)', async () => {
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const target = join(dir, 'a-file', 'x.db');
    const { code, stderr } = await runCli(['history', '--db', `sqlite:${target}`]);
    expect(code).toBe(3);
    expect(stderr).toMatch(/Cannot open the SQLite file .*a-file/);
    expect(stderr).toContain(`for the SQLite database ${target}`);
  });

  it('a SQLite file in a folder that does not exist yet: the folder is created', async () => {
    const target = join(dir, 'new-folder', 'x.db');
    const { code } = await runCli(['history', '--db', `sqlite:${target}`]);
    expect(code).toBe(0);
    expect(existsSync(target)).toBe(true);
  });
});

describe('syncjob against the Gmail emulator on a temp SQLite file', () => {
  let jobId = '';

  it('migrate creates the schema, then has nothing to do', async () => {
    const first = await runCli(['migrate', '--db', db]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toMatch(/^Applied migrations? [\d, ]+; schema at version \d+\.\n$/);
    const again = await runCli(['migrate', '--db', db]);
    expect(again.stdout).toMatch(/^Schema already at version \d+\.\n$/);
  });

  it('sync runs a full sync to the end, with plain log lines when stdout is not a terminal', async () => {
    const { code, stdout, stderr } = await runCli([
      'sync',
      '--account',
      ACCOUNT,
      '--db',
      db,
      '--gmail-root-url',
      gmail.url,
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const match = /^Job ([0-9a-f-]{36}): full sync of me@example\.com\n/.exec(stdout);
    expect(match).not.toBeNull();
    jobId = match![1]!;
    expect(stdout).toMatch(/^\d\d:\d\d:\d\d info {2}Sync started: full sync \(attempt 1\)$/m);
    expect(stdout).toMatch(/^\d\d:\d\d:\d\d info {2}100% done: 120 of 120 messages$/m);
    expect(stdout).toMatch(/^\d\d:\d\d:\d\d info {2}Sync completed: 120 stored/m);
    expect(stdout).toContain('Sync completed: me@example.com (gmail).');
    expect(stdout).toContain('Messages: 120 stored of 120');
    // No bar, no cursor movement: a pipe gets lines only.
    expect(stdout).not.toContain('\x1b[');
    expect(stdout).not.toContain('█');
  });

  it('a second sync is incremental', async () => {
    const { code, stdout } = await runCli([
      'sync',
      '--account',
      ACCOUNT,
      '--db',
      db,
      '--gmail-root-url',
      gmail.url,
      '--mode',
      'incremental',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/: incremental sync of me@example\.com/);
  });

  it('status, history and logs read what the sync left', async () => {
    const status = await runCli(['status', '--db', db]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^ACCOUNT\s+SOURCE\s+LAST SYNCED\s+CURSOR\s+LATEST JOB\s+STATUS/);
    expect(status.stdout).toMatch(/me@example\.com\s+gmail\s+just now\s+yes\s+[0-9a-f-]{36}\s+completed/);
    const json = JSON.parse((await runCli(['status', '--db', db, '--account', ACCOUNT, '--json'])).stdout);
    expect(json[0]).toMatchObject({ state: { accountId: ACCOUNT }, latest: { status: 'completed' } });
    expect((await runCli(['status', '--db', db, '--account', 'nobody@example.com'])).code).toBe(4);

    const history = await runCli(['history', '--db', db, '--account', ACCOUNT, '--limit', '5']);
    expect(history.code).toBe(0);
    const rows = history.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^CREATED\s+JOB\s+ACCOUNT\s+MODE\s+TRIGGER\s+STATUS\s+DONE\s+DURATION/);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toMatch(/incremental\s+manual\s+completed/);
    expect(rows[2]).toMatch(
      new RegExp(`${jobId}\\s+me@example\\.com\\s+full\\s+manual\\s+completed\\s+120/120`),
    );

    const logs = await runCli(['logs', jobId, '--db', db]);
    expect(logs.code).toBe(0);
    const lines = logs.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d info {2}Sync queued: full sync \(manual\)$/);
    expect(lines.at(-1)).toMatch(/Sync completed: 120 stored/);
    // --follow on a finished job prints the log and ends.
    const followed = await runCli(['logs', jobId, '--follow', '--db', db]);
    expect(followed.code).toBe(0);
    expect(followed.stdout.trim().split('\n')).toEqual(lines);

    const unknown = await runCli(['logs', '00000000-0000-4000-8000-000000000000', '--db', db]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/No sync job has the id 00000000-0000-4000-8000-000000000000/);
  });
});
