import type { Job } from '@syncjob/core';
import { createSyncEngine, isTerminalStatus, openJobEventFeed } from '@syncjob/core';
import { jobSummary, jobSummaryText } from '@syncjob/core/notifications';
import { DB_OPTION, parseCommandArgs, syncMode } from '../cliArgs';
import type { CliContext } from '../cliContext';
import { whenAborted } from '../cliContext';
import { EXIT, usageError } from '../cliError';
import { GMAIL_OPTIONS, gmailFromEnv, gmailSettings } from '../gmailFromEnv';
import { openStore, parseDatabase } from '../openStore';
import { createProgressView } from '../progressView';

/** `syncjob sync --account <id> --db <db>`: runs (or follows) one sync of one account to its end. */
export async function syncCommand(ctx: CliContext): Promise<number> {
  const { values } = parseCommandArgs('sync', ctx.args, {
    ...DB_OPTION,
    account: { type: 'string' },
    mode: { type: 'string' },
    ...GMAIL_OPTIONS,
  });
  if (!values.account) throw usageError('syncjob sync: --account <id> is required.');
  const mode = syncMode(values.mode);
  const target = parseDatabase(values.db ?? ctx.env.SYNCJOB_DB);
  const source = gmailFromEnv(gmailSettings(values), ctx.env);
  const store = await openStore(target);
  // This process is a worker too: the sync runs here unless another worker claims it first.
  const engine = createSyncEngine({ store, sources: [source], concurrency: 1, pollIntervalMs: 500 });
  try {
    const result = await engine.start({ source: source.id, accountId: values.account, mode });
    if (!result.started) {
      ctx.stdout.write(
        `A sync of ${values.account} is already ${result.job.status} (job ${result.job.id}); following it.\n`,
      );
    } else {
      ctx.stdout.write(`Job ${result.job.id}: ${result.job.mode} sync of ${values.account}\n`);
    }
    const view = createProgressView(ctx.stdout);
    let lastJob: Job | null = null;
    const finished = await new Promise<Job | null>((resolve, reject) => {
      const feed = openJobEventFeed(engine, {
        jobId: result.job.id,
        onEvent: (event) => {
          if (event.type === 'log') view.log(event.entry);
          else if (event.type === 'progress') view.job({ ...(lastJob ?? result.job), ...event.progress });
          else {
            lastJob = event.job;
            view.job(event.job);
            if (isTerminalStatus(event.job.status)) resolve(event.job);
          }
        },
        onError: reject,
      });
      void whenAborted(ctx.signal).then(() => {
        feed.close();
        resolve(null);
      });
    });
    view.close();
    if (!finished) {
      await engine.stop({ timeoutMs: 10_000 });
      ctx.stderr.write(
        'Stopped: the job was released and resumes from its checkpoint (run the same command again, or a worker takes it).\n',
      );
      return EXIT.interrupted;
    }
    ctx.stdout.write(`\n${jobSummaryText(jobSummary(finished))}`);
    return finished.status === 'completed' ? EXIT.ok : EXIT.failed;
  } finally {
    await engine.stop({ timeoutMs: 10_000 });
    await store.close();
  }
}
