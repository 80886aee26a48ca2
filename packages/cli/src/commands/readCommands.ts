import type { SyncStore } from '@syncjob/core';
import { createSyncEngine, isTerminalStatus, isUuid, openJobEventFeed } from '@syncjob/core';
import { DB_OPTION, parseCommandArgs, positiveInt } from '../cliArgs';
import type { CliContext } from '../cliContext';
import { whenAborted } from '../cliContext';
import { CliError, EXIT, usageError } from '../cliError';
import { historyTable, statusTable } from '../jobTable';
import { openStore, parseDatabase } from '../openStore';
import { formatLogLine } from '../progressView';

async function withStore<T>(
  db: string | undefined,
  ctx: CliContext,
  use: (store: SyncStore) => Promise<T>,
): Promise<T> {
  const store = await openStore(parseDatabase(db ?? ctx.env.SYNCJOB_DB));
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** `syncjob status [--account <id>] [--json]`: every account's last sync and latest job. */
export async function statusCommand(ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs('status', ctx.args, {
    ...DB_OPTION,
    account: { type: 'string' },
    json: { type: 'boolean' },
  });
  return withStore(values.db, ctx, async (store) => {
    const states = (await store.listAccountStates()).filter(
      (state) => values.account === undefined || state.accountId === values.account,
    );
    const rows = await Promise.all(
      states.map(async (state) => ({
        state,
        latest: state.lastJobId ? await store.getJob(state.lastJobId) : null,
      })),
    );
    if (values.json) ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else if (rows.length === 0) {
      ctx.stdout.write(
        values.account ? `No sync of ${values.account} yet.\n` : 'No account has been synced yet.\n',
      );
    } else ctx.stdout.write(statusTable(rows, Date.now()));
    return values.account && rows.length === 0 ? EXIT.notFound : EXIT.ok;
  });
}

/** `syncjob history [--account <id>] [--limit n] [--json]`: jobs, newest first. */
export async function historyCommand(ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs('history', ctx.args, {
    ...DB_OPTION,
    account: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  });
  const limit = positiveInt('limit', values.limit, 20);
  return withStore(values.db, ctx, async (store) => {
    const jobs = await store.listJobs({ ...(values.account ? { accountId: values.account } : {}), limit });
    if (values.json) ctx.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
    else if (jobs.length === 0) ctx.stdout.write('No sync jobs yet.\n');
    else ctx.stdout.write(historyTable(jobs));
    return EXIT.ok;
  });
}

/** `syncjob logs <jobId> [--follow]`: the job's log; with `--follow`, new lines until it ends. */
export async function logsCommand(ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'logs',
    ctx.args,
    { ...DB_OPTION, follow: { type: 'boolean', short: 'f' } },
    1,
  );
  const jobId = positionals[0];
  if (!jobId) throw usageError('syncjob logs: a job id is required (see syncjob history).');
  if (!isUuid(jobId)) throw usageError(`syncjob logs: "${jobId}" is not a job id (a UUID).`);
  return withStore(values.db, ctx, async (store) => {
    const job = await store.getJob(jobId);
    if (!job) throw new CliError(EXIT.notFound, `No sync job has the id ${jobId}.`);
    if (!values.follow) {
      let afterSeq = 0;
      while (true) {
        const page = await store.getLogs(jobId, { afterSeq, limit: 5_000 });
        for (const entry of page) ctx.stdout.write(`${formatLogLine(entry)}\n`);
        if (page.length < 5_000) break;
        afterSeq = page.at(-1)!.seq;
      }
      return EXIT.ok;
    }
    // A reader, not a worker: it follows a job that runs in another process.
    const engine = createSyncEngine({ store, sources: [], worker: false });
    await new Promise<void>((resolve, reject) => {
      const feed = openJobEventFeed(engine, {
        jobId,
        pollIntervalMs: 500,
        onEvent: (event) => {
          if (event.type === 'log') ctx.stdout.write(`${formatLogLine(event.entry)}\n`);
          else if ('job' in event && isTerminalStatus(event.job.status)) resolve();
        },
        onError: reject,
      });
      void whenAborted(ctx.signal).then(() => {
        feed.close();
        resolve();
      });
    });
    return EXIT.ok;
  });
}
