import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Clock } from '../clock';
import { fromIso, systemClock } from '../clock';
import type { SyncEngine } from '../engine/engineTypes';
import type { TerminalEvent } from '../events/syncEvents';
import type { Job } from '../job/job';
import { isActiveStatus } from '../job/job';

export interface SyncMetricsOptions {
  /**
   * Where the metrics are registered (default: a new `Registry`, so two engines or a hot reload
   * never collide in prom-client's global registry). Pass `register` from prom-client to serve them
   * with your app's other metrics.
   */
  registry?: Registry;
  /** Prefix of every metric name (default `syncjob_`). */
  prefix?: string;
  /** Buckets of the job duration histogram, in seconds (default 1 s … 1 day). */
  durationBuckets?: number[];
  /** Time source of `uptime_seconds` (default the system clock). */
  clock?: Clock;
}

export interface SyncMetrics {
  readonly registry: Registry;
  /**
   * Counts provider quota units spent outside the engine's `quota` events (a source that does not
   * call `ctx.reportQuotaUnits`, or calls the app makes itself).
   */
  recordQuotaUnits(units: number, source?: string): void;
  /** Stops listening to the engine and removes the metrics from the registry. */
  dispose(): void;
}

const DEFAULT_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200, 14_400, 43_200, 86_400];

/**
 * Prometheus metrics of one engine, fed by its events. They count what THIS process saw: runs it
 * started, jobs it finished, cycles its schedules ran; sum them over your workers in PromQL.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `jobs_started_total` | counter | source, trigger — runs this process started (a resumed attempt counts again) |
 * | `jobs_completed_total`, `jobs_failed_total`, `jobs_cancelled_total`, `jobs_interrupted_total` | counter | source |
 * | `job_errors_total` | counter | source, code — the error of failed and interrupted jobs |
 * | `retries_total` | counter | source, code — retried provider calls |
 * | `messages_synced_total` | counter | source — messages stored (durable) |
 * | `quota_units_total` | counter | source |
 * | `sync_cycles_total` | counter | result (`ok`, `error`) |
 * | `last_cycle_duration_seconds` | gauge | |
 * | `job_duration_seconds` | histogram | source, status — from first start to the end |
 * | `active_jobs` | gauge | source — jobs running in this process |
 * | `uptime_seconds` | gauge | since the metrics were created |
 */
export function createSyncMetrics(engine: SyncEngine, options: SyncMetricsOptions = {}): SyncMetrics {
  const registry = options.registry ?? new Registry();
  const prefix = options.prefix ?? 'syncjob_';
  const clock = options.clock ?? systemClock;
  const createdAt = clock.now();
  const registers = [registry];
  /** Full names of the metrics created here, removed by `dispose`. */
  const names: string[] = [];
  const named = (name: string) => {
    names.push(prefix + name);
    return prefix + name;
  };

  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name: named(name), help, labelNames, registers });

  const started = counter('jobs_started_total', 'Sync runs started by this process.', ['source', 'trigger']);
  const ended = {
    completed: counter('jobs_completed_total', 'Sync jobs completed by this process.', ['source']),
    failed: counter('jobs_failed_total', 'Sync jobs failed in this process.', ['source']),
    cancelled: counter('jobs_cancelled_total', 'Sync jobs cancelled in this process.', ['source']),
    interrupted: counter(
      'jobs_interrupted_total',
      'Sync jobs this process marked interrupted (dead worker, attempts spent).',
      ['source'],
    ),
  };
  const errors = counter('job_errors_total', 'Errors that ended sync jobs, by code.', ['source', 'code']);
  const retries = counter('retries_total', 'Provider calls retried after a transient error, by code.', [
    'source',
    'code',
  ]);
  const messages = counter('messages_synced_total', 'Messages stored by sync jobs.', ['source']);
  const quota = counter('quota_units_total', 'Provider quota units spent by sync jobs.', ['source']);
  const cycles = counter('sync_cycles_total', 'Scheduler cycles run.', ['result']);
  const lastCycle = new Gauge({
    name: named('last_cycle_duration_seconds'),
    help: 'Duration of the last scheduler cycle.',
    registers,
  });
  const duration = new Histogram({
    name: named('job_duration_seconds'),
    help: 'Duration of finished sync jobs, from their first start to their end.',
    labelNames: ['source', 'status'] as const,
    buckets: options.durationBuckets ?? DEFAULT_BUCKETS,
    registers,
  });
  /** Runs of this process by job id, with the stored count already counted. */
  const running = new Map<string, { source: string; stored: number }>();
  new Gauge({
    name: named('active_jobs'),
    help: 'Sync jobs running in this process.',
    labelNames: ['source'] as const,
    registers,
    collect() {
      this.reset();
      for (const source of engine.sourceIds) this.set({ source }, 0);
      for (const run of running.values()) this.inc({ source: run.source });
    },
  });
  new Gauge({
    name: named('uptime_seconds'),
    help: 'Seconds since the metrics were created.',
    registers,
    collect() {
      this.set((clock.now() - createdAt) / 1000);
    },
  });

  /** Adds the stored messages since the last look; a mode switch restarts the counters from 0. */
  const countStored = (jobId: string, stored: number) => {
    const run = running.get(jobId);
    if (!run) return;
    const delta = stored >= run.stored ? stored - run.stored : stored;
    if (delta > 0) messages.inc({ source: run.source }, delta);
    run.stored = stored;
  };

  const onStatus = ({ job }: { job: Job }) => {
    if (job.status === 'running') {
      // The first `running` of a run starts it; later ones (a cancel request) do not.
      if (running.has(job.id)) return;
      running.set(job.id, { source: job.source, stored: job.counters.stored });
      started.inc({ source: job.source, trigger: job.trigger });
      return;
    }
    if (isActiveStatus(job.status)) running.delete(job.id); // released on shutdown
  };
  const onProgress = ({ jobId, progress }: { jobId: string; progress: { counters: Job['counters'] } }) =>
    countStored(jobId, progress.counters.stored);
  const onTerminal = ({ job }: TerminalEvent) => {
    countStored(job.id, job.counters.stored);
    running.delete(job.id);
    ended[job.status as keyof typeof ended]?.inc({ source: job.source });
    if (job.error && (job.status === 'failed' || job.status === 'interrupted')) {
      errors.inc({ source: job.source, code: job.error.code });
    }
    if (job.startedAt && job.finishedAt) {
      const seconds = Math.max(0, (fromIso(job.finishedAt) - fromIso(job.startedAt)) / 1000);
      duration.observe({ source: job.source, status: job.status }, seconds);
    }
  };
  const onLog = ({ entry }: { entry: { level: string; jobId: string; data?: Record<string, unknown> } }) => {
    // The engine's retry lines carry the code and attempt of the call it retries.
    const data = entry.data;
    if (entry.level !== 'warn' || typeof data?.code !== 'string' || typeof data.attempt !== 'number') return;
    retries.inc({ source: running.get(entry.jobId)?.source ?? 'unknown', code: data.code });
  };
  const onQuota = ({ source, units }: { source: string; units: number }) => quota.inc({ source }, units);
  const onCycle = ({ durationMs, error }: { durationMs: number; error: unknown }) => {
    cycles.inc({ result: error ? 'error' : 'ok' });
    lastCycle.set(durationMs / 1000);
  };

  engine.on('status', onStatus);
  engine.on('progress', onProgress);
  engine.on('log', onLog);
  engine.on('quota', onQuota);
  engine.on('cycle', onCycle);
  for (const name of ['completed', 'failed', 'cancelled', 'interrupted'] as const)
    engine.on(name, onTerminal);

  return {
    registry,
    recordQuotaUnits(units, source = 'unknown') {
      if (Number.isFinite(units) && units > 0) quota.inc({ source }, units);
    },
    dispose() {
      engine.off('status', onStatus);
      engine.off('progress', onProgress);
      engine.off('log', onLog);
      engine.off('quota', onQuota);
      engine.off('cycle', onCycle);
      for (const name of ['completed', 'failed', 'cancelled', 'interrupted'] as const)
        engine.off(name, onTerminal);
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
