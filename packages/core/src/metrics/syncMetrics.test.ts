import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSyncEngine } from '../engine/syncEngine';
import { SyncError } from '../errors';
import type { SourceContext, SyncSource } from '../source/syncSource';
import { createMemoryStore } from '../store/memoryStore';
import { runPendingJobs } from '../testing/runPendingJobs';
import { createTestSource } from '../testing/testSource';
import { metricsHandler } from './metricsHandler';
import { createSyncMetrics } from './syncMetrics';

const key = (accountId: string) => ({ source: 'test', accountId });

/** The value of one sample line (`name{labels} value`) of Prometheus text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-03-01T10:00:00Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createSyncMetrics', () => {
  it('counts a known sequence of jobs', async () => {
    const inner = createTestSource({ messages: 20, pageSize: 25, batchSize: 10 });
    inner.control.setDelay(1_000);
    // Every run spends 5 quota units up front, as the Gmail source reports its calls.
    const source: SyncSource = {
      id: 'test',
      async *run(ctx: SourceContext) {
        ctx.reportQuotaUnits?.(5);
        yield* inner.run(ctx as SourceContext<never>);
      },
    };
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [source],
      worker: false,
      retry: { retries: 1, minDelayMs: 1_000, maxDelayMs: 1_000 },
    });
    const metrics = createSyncMetrics(engine);
    const text = () => metrics.registry.metrics();

    // A cycle with nothing to do.
    const schedule = engine.schedule({ every: '1h' });
    await vi.advanceTimersByTimeAsync(0);
    schedule.stop();

    // a: completes (20 stored, 3 calls of 1 s). While it runs, one job is active.
    await engine.start(key('a'));
    const runA = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(500);
    expect(sample(await text(), 'syncjob_active_jobs{source="test"}')).toBe(1);
    await vi.advanceTimersByTimeAsync(10_000);
    await runA;
    expect(sample(await text(), 'syncjob_active_jobs{source="test"}')).toBe(0);

    // b: fails for good on its second call, after storing nothing.
    inner.control.failCall(inner.control.calls + 2, new SyncError('REAUTH_REQUIRED', 'Sign in again.'));
    await engine.start(key('b'));
    const runB = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(10_000);
    await runB;

    // c: one rate-limited call retried, then completes.
    inner.control.throttle(1_000);
    await engine.start(key('c'));
    const runC = runPendingJobs(engine);
    await vi.advanceTimersByTimeAsync(20_000);
    await runC;

    // d: cancelled before it ran (never started).
    await engine.cancel((await engine.start(key('d'))).job.id);

    metrics.recordQuotaUnits(7, 'test');
    const out = await text();
    expect(sample(out, 'syncjob_jobs_started_total{source="test",trigger="manual"}')).toBe(3);
    expect(sample(out, 'syncjob_jobs_completed_total{source="test"}')).toBe(2);
    expect(sample(out, 'syncjob_jobs_failed_total{source="test"}')).toBe(1);
    expect(sample(out, 'syncjob_jobs_cancelled_total{source="test"}')).toBe(1);
    expect(sample(out, 'syncjob_jobs_interrupted_total{source="test"}')).toBeUndefined();
    expect(sample(out, 'syncjob_job_errors_total{source="test",code="REAUTH_REQUIRED"}')).toBe(1);
    expect(sample(out, 'syncjob_retries_total{source="test",code="RATE_LIMITED"}')).toBe(1);
    expect(sample(out, 'syncjob_messages_synced_total{source="test"}')).toBe(40);
    expect(sample(out, 'syncjob_quota_units_total{source="test"}')).toBe(3 * 5 + 7);
    expect(sample(out, 'syncjob_sync_cycles_total{result="ok"}')).toBe(1);
    expect(sample(out, 'syncjob_last_cycle_duration_seconds')).toBe(0);
    // a took 3 s (3 calls of 1 s); c 5 s (its throttled call and the 1 s back-off on top).
    expect(sample(out, 'syncjob_job_duration_seconds_count{source="test",status="completed"}')).toBe(2);
    expect(sample(out, 'syncjob_job_duration_seconds_sum{source="test",status="completed"}')).toBe(8);
    expect(sample(out, 'syncjob_job_duration_seconds_bucket{le="5",source="test",status="completed"}')).toBe(
      2,
    );
    expect(sample(out, 'syncjob_job_duration_seconds_count{source="test",status="failed"}')).toBe(1);
    expect(sample(out, 'syncjob_uptime_seconds')).toBeGreaterThanOrEqual(40);
    expect(out).toMatch(/# HELP syncjob_messages_synced_total Messages stored by sync jobs\./);

    metrics.dispose();
    expect((await metrics.registry.metrics()).trim()).toBe('');
    await engine.stop();
  });

  it('takes a registry and a prefix, and its handler serves Prometheus text', async () => {
    const engine = createSyncEngine({
      store: createMemoryStore(),
      sources: [createTestSource()],
      worker: false,
    });
    const { Registry } = await import('prom-client');
    const registry = new Registry();
    const metrics = createSyncMetrics(engine, { registry, prefix: 'app_sync_' });
    expect(metrics.registry).toBe(registry);
    await engine.start(key('a'));
    await runPendingJobs(engine);

    const handler = metricsHandler(metrics);
    const response = await handler(new Request('http://localhost/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await response.text();
    expect(sample(body, 'app_sync_jobs_completed_total{source="test"}')).toBe(1);
    expect(sample(body, 'app_sync_messages_synced_total{source="test"}')).toBe(100);
    expect((await handler(new Request('http://localhost/metrics', { method: 'POST' }))).status).toBe(405);
    await engine.stop();
  });
});
