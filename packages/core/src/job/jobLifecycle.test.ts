import { describe, expect, it } from 'vitest';
import type { Job } from './job';
import {
  applyJobChange,
  cancelTransition,
  claimTransition,
  expireTransition,
  finishChange,
  handBackTransition,
  isLeaseExpired,
  newJob,
  releaseTransition,
} from './jobLifecycle';

const T0 = '2030-01-01T00:00:00.000Z';
const NOW = '2030-01-01T00:05:00.000Z';
const base = newJob({ id: 'j1', source: 'gmail', accountId: 'a', mode: 'full', trigger: 'manual' }, T0);
const running = (patch: Partial<Job> = {}): Job => ({
  ...base,
  status: 'running',
  attempt: 1,
  startedAt: T0,
  heartbeatAt: T0,
  leaseExpiresAt: '2030-01-01T00:01:00.000Z',
  phase: 'fetching',
  ...patch,
});

describe('job lifecycle', () => {
  it('newJob: queued, attempt 0, nothing counted, created now', () => {
    expect(base).toMatchObject({ status: 'queued', attempt: 0, createdAt: T0, updatedAt: T0, lastLogSeq: 0 });
    expect(base.counters.total).toBeNull();
    expect(base.percent).toBeNull();
  });

  it('claim: a new attempt under a lease, startedAt kept from the first claim, error cleared', () => {
    const first = claimTransition(base, NOW, 60_000);
    expect(first).toEqual({
      change: {
        status: 'running',
        attempt: 1,
        startedAt: NOW,
        heartbeatAt: NOW,
        leaseExpiresAt: '2030-01-01T00:06:00.000Z',
        error: null,
        waiting: null,
      },
      logs: [],
    });
    const again = claimTransition({ ...base, attempt: 1, startedAt: T0 }, NOW, 1000);
    expect(again.change).toMatchObject({ attempt: 2, startedAt: T0 });
  });

  it('cancel: queued ends at once, running is flagged, ended is left alone', () => {
    expect(cancelTransition(base, NOW)).toEqual({
      change: { status: 'cancelled', cancelRequested: true, finishedAt: NOW },
      logs: [{ level: 'info', message: 'Cancel requested: the sync had not started.' }],
    });
    expect(cancelTransition(running(), NOW)).toEqual({
      change: { cancelRequested: true },
      logs: [{ level: 'info', message: 'Cancel requested: stopping after the current batch.' }],
    });
    expect(cancelTransition({ ...base, status: 'completed' }, NOW)).toBeNull();
  });

  it('release: queued again without lease, or cancelled when a cancel was requested', () => {
    const released = releaseTransition(running(), NOW);
    expect(released.change).toEqual({ status: 'queued', phase: null, leaseExpiresAt: null, waiting: null });
    expect(released.logs).toHaveLength(1);
    const cancelled = releaseTransition(running({ cancelRequested: true }), NOW);
    expect(cancelled.change).toEqual({
      status: 'cancelled',
      phase: null,
      leaseExpiresAt: null,
      waiting: null,
      finishedAt: NOW,
    });
  });

  it('hand-back: queued without lease and without spending an attempt; cancelled when a cancel was requested', () => {
    const handedBack = handBackTransition(running({ attempt: 2 }), NOW);
    expect(handedBack.change).toEqual({
      status: 'queued',
      phase: null,
      leaseExpiresAt: null,
      waiting: null,
      attempt: 1,
    });
    expect(handedBack.logs).toEqual([expect.objectContaining({ level: 'info', data: { handedBack: true } })]);
    // 100 slices: claim, hand back, claim … the attempt never grows, so the expiry policy still
    // resumes a slice whose process died.
    let job = running({ attempt: 0, status: 'queued' });
    for (let slice = 0; slice < 100; slice++) {
      applyJobChange(job, claimTransition(job, NOW, 60_000).change);
      applyJobChange(job, handBackTransition(job, NOW).change);
    }
    expect(job.attempt).toBe(0);
    applyJobChange(job, claimTransition(job, NOW, 60_000).change);
    job = { ...job, leaseExpiresAt: T0 };
    expect(expireTransition(job, NOW, { autoResume: true, maxAttempts: 3 })?.change.status).toBe('queued');

    const cancelled = handBackTransition(running({ cancelRequested: true }), NOW);
    expect(cancelled.change).toEqual({
      status: 'cancelled',
      phase: null,
      leaseExpiresAt: null,
      waiting: null,
      finishedAt: NOW,
    });
  });

  it('finish: terminal, no phase or lease, finishedAt now; completed never carries an error', () => {
    const error = { code: 'NETWORK' as const, message: 'down', retryable: true };
    expect(finishChange('failed', NOW, error)).toEqual({
      status: 'failed',
      phase: null,
      leaseExpiresAt: null,
      finishedAt: NOW,
      error,
      waiting: null,
    });
    expect(finishChange('completed', NOW, error).error).toBeNull();
  });

  it('expire: cancelled, resumed while attempts remain, interrupted otherwise (one text each)', () => {
    const policy = { autoResume: true, maxAttempts: 3 };
    const cancelled = expireTransition(running({ cancelRequested: true }), NOW, policy);
    expect(cancelled?.change).toMatchObject({ status: 'cancelled', finishedAt: NOW, leaseExpiresAt: null });
    expect(cancelled?.logs[0]?.level).toBe('warn');

    const resumed = expireTransition(running({ attempt: 2 }), NOW, policy);
    expect(resumed?.change).toEqual({ status: 'queued', phase: null, leaseExpiresAt: null, waiting: null });
    expect(resumed?.logs).toEqual([
      {
        level: 'warn',
        message:
          'The worker stopped heart-beating (lease expired): the sync resumes from its checkpoint as attempt 3 of 3.',
        data: { reason: 'LEASE_EXPIRED', attempt: 2, maxAttempts: 3 },
      },
    ]);

    const spent = expireTransition(running({ attempt: 3 }), NOW, policy);
    expect(spent?.change).toMatchObject({ status: 'interrupted', finishedAt: NOW });
    expect(spent?.change.error).toMatchObject({ code: 'LEASE_EXPIRED', retryable: true });
    expect(spent?.logs[0]).toMatchObject({ level: 'error', data: { reason: 'LEASE_EXPIRED', attempt: 3 } });
    expect(spent?.logs[0]?.message).toContain('all 3 attempts are spent');

    const off = expireTransition(running(), NOW, { autoResume: false, maxAttempts: 3 });
    expect(off?.change.status).toBe('interrupted');
    expect(off?.change.error?.message).toContain('automatic resume is off');
    expect(expireTransition(base, NOW, policy)).toBeNull();
  });

  it('isLeaseExpired: only running jobs; a NULL expiry counts as expired', () => {
    const at = Date.parse('2030-01-01T00:01:00.000Z');
    expect(isLeaseExpired(running(), at - 1)).toBe(false);
    expect(isLeaseExpired(running(), at)).toBe(true);
    expect(isLeaseExpired(running({ leaseExpiresAt: null }), 0)).toBe(true);
    expect(isLeaseExpired(base, at)).toBe(false);
  });

  it('applyJobChange: sets defined fields only and reports an ended lease', () => {
    const job = running();
    expect(applyJobChange(job, { status: 'queued', leaseExpiresAt: null, phase: undefined })).toEqual({
      leaseEnded: true,
    });
    expect(job).toMatchObject({ status: 'queued', leaseExpiresAt: null, phase: 'fetching' });
    expect(applyJobChange(job, { cancelRequested: true }).leaseEnded).toBe(false);
  });
});
