import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../clock';
import type { JobProgress } from '../events/syncEvents';
import { emptyCounters } from '../job/job';
import { createProgressReporter } from './progressReporter';

const progress = (stored: number): JobProgress => ({
  phase: 'fetching',
  mode: 'full',
  counters: { ...emptyCounters(), total: 10_000, stored },
  categoryCounts: {},
  percent: stored / 100,
  ratePerSec: null,
  etaSeconds: null,
  currentItem: null,
  waiting: null,
  updatedAt: new Date().toISOString(),
});

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createProgressReporter', () => {
  it('emits at most once per interval and delivers the latest state with a trailing emit', () => {
    const emitted: number[] = [];
    const reporter = createProgressReporter({
      clock: systemClock,
      intervalMs: 250,
      emit: (p) => emitted.push(p.counters.stored),
    });
    // 10,000 updates in one second, ten per fake millisecond.
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 1; i <= 10; i++) reporter.report(progress(ms * 10 + i));
      vi.advanceTimersByTime(1);
    }
    expect(emitted.length).toBeLessThanOrEqual(5);
    vi.advanceTimersByTime(250);
    expect(emitted.at(-1)).toBe(10_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('emits at once when forced, and flush delivers what is pending', () => {
    const emitted: number[] = [];
    const reporter = createProgressReporter({
      clock: systemClock,
      intervalMs: 250,
      emit: (p) => emitted.push(p.counters.stored),
    });
    reporter.report(progress(1));
    reporter.report(progress(2));
    reporter.report(progress(3), { force: true });
    reporter.report(progress(4));
    expect(emitted).toEqual([1, 3]);
    reporter.flush();
    expect(emitted).toEqual([1, 3, 4]);
    expect(vi.getTimerCount()).toBe(0);
    reporter.report(progress(5));
    reporter.dispose();
    vi.advanceTimersByTime(1_000);
    expect(emitted).toEqual([1, 3, 4]);
  });
});
