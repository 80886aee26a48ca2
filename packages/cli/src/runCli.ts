import { SyncError } from '@syncjob/core';
import type { CliContext } from './cliContext';
import { CliError, EXIT } from './cliError';
import { checkServerCommand } from './commands/checkServerCommand';
import { migrateCommand } from './commands/migrateCommand';
import { historyCommand, logsCommand, statusCommand } from './commands/readCommands';
import { syncCommand } from './commands/syncCommand';
import { workerCommand } from './commands/workerCommand';

export const USAGE = `Usage: syncjob <command> [options]

Commands:
  sync --account <id> [--mode auto|full|incremental] [--gmail-root-url <url>] [--quota-speed <n>]
                           Sync one account now, with progress (a bar on a terminal, log lines otherwise)
  status [--account <id>] [--json]
                           Each account's last sync and latest job
  history [--account <id>] [--limit <n>] [--json]
                           Jobs, newest first (default 20)
  logs <jobId> [--follow]  A job's log; --follow prints new lines until it ends
  worker [--concurrency <n>] [--every 5m] [--stale-after 1h] [--schedule-concurrency <n>] [--no-schedule]
         [--project-units-per-minute <n> [--project-daily-units <n>] [--project-share <0..1>]]
                           Run queued jobs and schedule stale accounts until SIGTERM/SIGINT; with
                           --project-units-per-minute, every worker shares the Cloud project's quota
  migrate                  Create or upgrade the database schema
  check-server <baseUrl> [--header 'Name: value']… [--source gmail] [--account <id>] [--keepalive-timeout 20s]
                           Check that any backend speaks the syncjob wire protocol (needs a server
                           that completes a job within a minute; see check-server --help)
  help                     This text

Every command takes --db sqlite:<file> | postgres://user:pass@host/db (or SYNCJOB_DB).
Gmail credentials: GMAIL_CLIENT_ID, GMAIL_CLIENT_SECRET, GMAIL_REFRESH_TOKEN; with --gmail-root-url
pointing at the emulator and no credentials, the emulator's defaults are used. The root URL must be
https or http on localhost/127.0.0.1/[::1]; with real credentials it must be Google's unless
--allow-custom-root-url is given (your tokens would be sent to it).

Exit codes: 0 ok, 1 sync not completed, 2 bad arguments, 3 database unreachable, 4 job or account
not found, 130 stopped by a signal (the job resumes from its checkpoint).
`;

const COMMANDS: Record<string, (ctx: CliContext) => Promise<number>> = {
  sync: syncCommand,
  status: statusCommand,
  history: historyCommand,
  logs: logsCommand,
  worker: workerCommand,
  migrate: migrateCommand,
  'check-server': checkServerCommand,
};

/** Runs one command line and returns the exit code. Errors are written to `stderr`, never thrown. */
export async function runCli(argv: string[], io: Omit<CliContext, 'args'>): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    (command === undefined ? io.stderr : io.stdout).write(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.stderr.write(`syncjob: unknown command "${command}".\n\n${USAGE}`);
    return EXIT.usage;
  }
  try {
    return await run({ ...io, args });
  } catch (error) {
    const [code, message] = describe(error);
    io.stderr.write(`syncjob ${command}: ${message}\n`);
    return code;
  }
}

function describe(error: unknown): [number, string] {
  if (error instanceof CliError) return [error.exitCode, error.message];
  const cause = SyncError.fromUnknown(error);
  switch (cause.code) {
    case 'INVALID_INPUT':
    case 'UNKNOWN_SOURCE':
      return [EXIT.usage, cause.message];
    case 'STORE_UNAVAILABLE':
      return [EXIT.storeUnavailable, `The database is unreachable: ${cause.message}`];
    case 'NOT_FOUND':
      return [EXIT.notFound, cause.message];
    default:
      return [EXIT.failed, `${cause.message} (${cause.code})`];
  }
}
