import { setFlagsFromString } from 'node:v8';
import { createSyncEngine, type ProjectQuotaOptions } from '@syncjob/core';
import { DB_OPTION, parseCommandArgs, positiveInt } from '../cliArgs';
import type { CliContext } from '../cliContext';
import { whenAborted } from '../cliContext';
import { EXIT, usageError } from '../cliError';
import { GMAIL_OPTIONS, gmailFromEnv, gmailSettings } from '../gmailFromEnv';
import { openStore, parseDatabase } from '../openStore';
import { formatLogLine } from '../progressView';

/**
 * Puts V8 in its memory-saving mode (`--optimize-for-size`) for the worker process, unless
 * `SYNCJOB_WORKER_V8_DEFAULTS=1`. A long sync allocates steadily (batch answers, parsed messages,
 * statement bindings) though little of it lives: with its defaults V8 keeps growing the young
 * generation (up to 128 MB on Node 24) and the old generation's limit, so the peak resident memory
 * grows with the length of the sync rather than with what it keeps (bench/RESULTS.md, "Peak RSS").
 * Set once, at the start, before the engine allocates anything.
 */
function leanHeap(env: CliContext['env']): void {
  if (env.SYNCJOB_WORKER_V8_DEFAULTS === '1') return;
  setFlagsFromString('--optimize-for-size');
}

/**
 * `syncjob worker`: claims and runs queued jobs, and schedules stale accounts (unless
 * `--no-schedule`). SIGTERM/SIGINT → `engine.stop()`: running jobs are released at once for another
 * worker, then the process exits 0.
 */
export async function workerCommand(ctx: CliContext): Promise<number> {
  leanHeap(ctx.env);
  const { values } = parseCommandArgs('worker', ctx.args, {
    ...DB_OPTION,
    concurrency: { type: 'string' },
    every: { type: 'string' },
    'stale-after': { type: 'string' },
    'schedule-concurrency': { type: 'string' },
    'no-schedule': { type: 'boolean' },
    ...GMAIL_OPTIONS,
    'stop-timeout': { type: 'string' },
    'project-units-per-minute': { type: 'string' },
    'project-daily-units': { type: 'string' },
    'project-share': { type: 'string' },
  });
  const concurrency = positiveInt('concurrency', values.concurrency, 2);
  const scheduleConcurrency = positiveInt(
    'schedule-concurrency',
    values['schedule-concurrency'],
    concurrency,
  );
  const stopTimeoutMs = positiveInt('stop-timeout', values['stop-timeout'], 30_000);
  const projectQuota = projectQuotaOf(values);
  const target = parseDatabase(values.db ?? ctx.env.SYNCJOB_DB);
  const settings = gmailSettings(values);
  const source = gmailFromEnv(settings, ctx.env);
  const store = await openStore(target);
  const line = (text: string) => ctx.stdout.write(`${new Date().toISOString()} ${text}\n`);
  const engine = createSyncEngine({
    store,
    sources: [source],
    concurrency,
    // The project's minute is compressed as the source's per-user one (an emulator at speed N).
    ...(projectQuota
      ? {
          projectQuota: {
            ...projectQuota,
            speed: settings.quotaSpeed ?? (Number(ctx.env.GMAIL_QUOTA_SPEED) || 1),
          },
        }
      : {}),
    logger: {
      info: (message) => line(message),
      warn: (message) => line(`warn ${message}`),
      error: (message) => line(`error ${message}`),
    },
  });
  engine.on('log', ({ jobId, entry }) => line(`job ${jobId.slice(0, 8)} ${formatLogLine(entry).slice(9)}`));
  try {
    if (!values['no-schedule']) {
      engine.schedule({
        every: values.every ?? '5m',
        staleAfter: values['stale-after'] ?? '1h',
        concurrency: scheduleConcurrency,
      });
    }
    line(
      `Worker ${engine.workerId} started (concurrency ${concurrency}${values['no-schedule'] ? ', no schedule' : ''}${projectQuota ? `, project quota ${projectQuota.unitsPerMinute} units/min shared through the store` : ''}).`,
    );
    await whenAborted(ctx.signal);
    line('Stopping: releasing running jobs for another worker…');
    await engine.stop({ timeoutMs: stopTimeoutMs });
    line('Stopped.');
    return EXIT.ok;
  } finally {
    await engine.stop({ timeoutMs: stopTimeoutMs });
    await store.close();
  }
}

/**
 * `--project-units-per-minute` (with `--project-daily-units`, `--project-share`): the Cloud
 * project's budget every worker of the deployment shares through the database (`projectQuota`).
 * Give every worker the same values.
 */
function projectQuotaOf(values: {
  'project-units-per-minute'?: string | undefined;
  'project-daily-units'?: string | undefined;
  'project-share'?: string | undefined;
}): ProjectQuotaOptions | null {
  const perMinute = values['project-units-per-minute'];
  if (perMinute === undefined) {
    if (values['project-daily-units'] !== undefined || values['project-share'] !== undefined) {
      throw usageError('--project-daily-units and --project-share need --project-units-per-minute.');
    }
    return null;
  }
  const share = values['project-share'] === undefined ? 1 : Number(values['project-share']);
  if (!(share > 0 && share <= 1)) {
    throw usageError(`--project-share must be a number in (0, 1] (got "${values['project-share']}").`);
  }
  return {
    unitsPerMinute: positiveInt('project-units-per-minute', perMinute, 1),
    ...(values['project-daily-units'] === undefined
      ? {}
      : { unitsPerDay: positiveInt('project-daily-units', values['project-daily-units'], 1) }),
    share,
  };
}
