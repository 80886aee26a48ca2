import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../clock';
import { LeaseLostError, SyncError } from '../errors';
import { startLeaseKeeper } from './leaseKeeper';

const lease = { jobId: 'job-1', token: 't' };

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function keeper(renewLease: () => Promise<{ cancelRequested: boolean }>) {
  const calls = { tick: 0, cancel: 0, lost: 0 };
  const handle = startLeaseKeeper({
    store: { renewLease: vi.fn(renewLease) as never },
    lease: lease as never,
    clock: systemClock,
    leaseMs: 60_000,
    heartbeatMs: 10_000,
    tickMs: 1_000,
    tick: async () => {
      calls.tick += 1;
    },
    onCancelRequested: () => (calls.cancel += 1),
    onLeaseLost: () => (calls.lost += 1),
  });
  return { handle, calls };
}

describe('leaseKeeper', () => {
  it('heartbeats and ticks on their own intervals until stopped, and tells of a cancel', async () => {
    const { handle, calls } = keeper(async () => ({ cancelRequested: true }));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(calls).toEqual({ tick: 20, cancel: 2, lost: 0 });
    handle.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual({ tick: 20, cancel: 2, lost: 0 });
  });

  it('survives a store outage and reports a lost lease', async () => {
    let error: Error = new SyncError('STORE_UNAVAILABLE', 'down');
    const { handle, calls } = keeper(() => Promise.reject(error));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.lost).toBe(0);
    error = new LeaseLostError('job-1');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls.lost).toBe(1);
    handle.stop();
  });
});
