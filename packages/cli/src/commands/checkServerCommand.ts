import { parseDuration } from '@syncjob/core';
import { checkServer, formatCheckTable } from '../checkServer/checkServer';
import { parseCommandArgs } from '../cliArgs';
import type { CliContext } from '../cliContext';
import { EXIT, usageError } from '../cliError';

export const CHECK_SERVER_HELP = `Usage: syncjob check-server <baseUrl> [--header 'Name: value']… [--source gmail] [--account <id>]
                            [--keepalive-timeout 20s] [--job-timeout 60s]

Checks that the server at <baseUrl> (where {baseUrl}/jobs is the start route, e.g.
http://localhost:3000/api/sync) speaks the syncjob wire protocol (@syncjob/core/openapi.json):
start, active (the reattach call), the job, log paging; the event stream (snapshot first, live
events, a Last-Event-ID reconnect with no duplicate and no gap, keep-alive comments, the end of the
stream after the terminal event); cancel and retry; bad input (malformed ids including undefined
and null, broken JSON, an unknown job), each a JSON error with a code and the right status.

It starts real jobs of --source (default gmail) for --account (default a fresh check-server-<random>
account): the server must complete a job within --job-timeout (default 60s, so use a small or
simulated mailbox), and the job must stream longer than the server's keep-alive interval, which
--keepalive-timeout (default 20s) must exceed.

Options:
  --header 'Name: value'  Sent with every request (auth); repeatable
  --source <id>           The source to start (default gmail)
  --account <id>          The account to sync (the caller must be allowed to)
  --keepalive-timeout <d> How long to wait for a keep-alive comment (default 20s)
  --job-timeout <d>       How long a job may take to complete (default 60s)

Prints a table of checks (check, pass/FAIL, detail). Exit codes: 0 all passed, 1 a check failed,
2 bad arguments.
`;

/** `syncjob check-server <baseUrl>`: the conformance checker, on `checkServer`. */
export async function checkServerCommand(ctx: CliContext): Promise<number> {
  if (ctx.args.includes('--help') || ctx.args.includes('-h')) {
    ctx.stdout.write(CHECK_SERVER_HELP);
    return EXIT.ok;
  }
  const { values, positionals } = parseCommandArgs(
    'check-server',
    ctx.args,
    {
      header: { type: 'string', multiple: true },
      source: { type: 'string' },
      account: { type: 'string' },
      'keepalive-timeout': { type: 'string' },
      'job-timeout': { type: 'string' },
    },
    1,
  );
  const baseUrl = positionals[0];
  if (!baseUrl || !/^https?:\/\//.test(baseUrl)) {
    throw usageError('syncjob check-server: give the base URL, e.g. http://localhost:3000/api/sync.');
  }
  const headers: Record<string, string> = {};
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0)
      throw usageError(`syncjob check-server: --header must be 'Name: value' (got "${header}").`);
    headers[header.slice(0, colon).trim()] = header.slice(colon + 1).trim();
  }
  const duration = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    try {
      return parseDuration(/^\d+$/.test(value) ? `${value}s` : value, `--${name}`);
    } catch (error) {
      throw usageError(`syncjob check-server: ${(error as Error).message}`);
    }
  };
  ctx.stderr.write(`Checking ${baseUrl} (this starts real jobs and takes up to a minute)…\n`);
  const results = await checkServer({
    baseUrl,
    headers,
    source: values.source,
    accountId: values.account,
    keepAliveTimeoutMs: duration('keepalive-timeout', values['keepalive-timeout'], 20_000),
    jobTimeoutMs: duration('job-timeout', values['job-timeout'], 60_000),
    onCheck: (check) => ctx.stderr.write(`${check.ok ? 'pass' : 'FAIL'}  ${check.name}\n`),
  });
  ctx.stdout.write(formatCheckTable(results));
  return results.every((result) => result.ok) ? EXIT.ok : EXIT.failed;
}
