import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QuotaLimiter } from './quotaLimiter';

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Grants `count` acquisitions of `units` each as fast as the limiter allows; returns the grant times. */
async function grantTimes(limiter: QuotaLimiter, count: number, units: number): Promise<number[]> {
  const times: number[] = [];
  const all = Array.from({ length: count }, () =>
    limiter.acquire(units, 1).then(() => {
      times.push(Date.now());
      limiter.release(1, units);
    }),
  );
  await vi.runAllTimersAsync();
  await Promise.all(all);
  return times;
}

describe('QuotaLimiter', () => {
  it('spends at most the planned share of the budget in any window', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000, windowMs: 1_000, headroom: 0.9, marginMs: 0 });
    const times = await grantTimes(limiter, 90, 50);
    // 900 units a window: 18 grants at once, then 18 more a window later, and so on.
    expect(times.filter((t) => t === 1_000_000)).toHaveLength(18);
    for (const start of times) {
      const inWindow = times.filter((t) => t >= start && t < start + 1_000).length;
      expect(inWindow * 50).toBeLessThanOrEqual(900);
    }
    expect(times.at(-1)! - times[0]!).toBe(4_000);
  });

  it('runs close to the ceiling over many windows (≥ 95 %)', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000, windowMs: 1_000 });
    const times = await grantTimes(limiter, 2_000, 10);
    // Over ten whole windows after the first: 98 % of the budget every window plus its 0.5 % margin.
    const from = times[0]! + 1_005;
    const to = from + 10 * 1_005;
    const granted = times.filter((t) => t >= from && t < to).length;
    const share = (granted * 10) / ((to - from) / 1_000) / 1_000;
    expect(share).toBeGreaterThanOrEqual(0.95);
    expect(share).toBeLessThanOrEqual(1);
  });

  it('keeps calls in flight under maxInFlight until they are released', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000_000, maxInFlight: 3 });
    let granted = 0;
    for (let i = 0; i < 5; i++) void limiter.acquire(1, 1).then(() => granted++);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(3);
    limiter.release(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(4);
    expect(limiter.inFlight).toBe(3);
  });

  it('on a rate-limit answer pauses everyone for Retry-After, lowers its share, then recovers', async () => {
    const pauses: number[] = [];
    const limiter = new QuotaLimiter({
      unitsPerWindow: 1_000,
      windowMs: 1_000,
      recoveryPerWindow: 0.1,
      onPause: (ms) => pauses.push(ms),
    });
    expect(limiter.share()).toBe(1);
    limiter.rateLimited(500);
    // The rest of the burst only extends the pause; the share is cut once.
    limiter.rateLimited(300);
    limiter.rateLimited(700);
    expect(pauses).toEqual([500, 700]);
    expect(limiter.share()).toBeCloseTo(0.85);
    let granted = false;
    void limiter.acquire(1, 1).then(() => {
      granted = true;
    });
    await vi.advanceTimersByTimeAsync(699);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(granted).toBe(true);
    // 0.1 of the budget regained per window since the cut.
    expect(limiter.share()).toBeCloseTo(0.92);
    await vi.advanceTimersByTimeAsync(500);
    expect(limiter.share()).toBeCloseTo(0.97);
    await vi.advanceTimersByTimeAsync(500);
    expect(limiter.share()).toBe(1);
    expect(limiter.stats.rateLimited).toBe(3);
  });

  it('never falls below minShare and admits an oversized call alone', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 100, windowMs: 1_000, minShare: 0.5 });
    for (let i = 0; i < 20; i++) {
      limiter.rateLimited(10);
      await vi.advanceTimersByTimeAsync(11);
    }
    expect(limiter.share()).toBeGreaterThanOrEqual(0.5);
    let granted = false;
    void limiter.acquire(500, 1).then(() => {
      granted = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(granted).toBe(true);
  });

  it('rejects a waiting call when its signal aborts, and lets the next one go', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 10, windowMs: 1_000, headroom: 1, marginMs: 0 });
    await limiter.acquire(10, 0);
    limiter.release(0, 10);
    const controller = new AbortController();
    const waiting = limiter.acquire(5, 0, controller.signal);
    const next = limiter.acquire(5, 0);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(next).resolves.toBeUndefined();
  });
});

describe('QuotaLimiter windows', () => {
  it('starts a call’s window when its answer arrives, not when it was sent', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 100, windowMs: 1_000, headroom: 1, marginMs: 0 });
    await limiter.acquire(100, 1);
    // The answer takes 300 ms: the provider may have charged it as late as that.
    await vi.advanceTimersByTimeAsync(300);
    limiter.release(1, 100);
    let granted = false;
    void limiter.acquire(50, 1).then(() => {
      granted = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(granted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(granted).toBe(true);
  });
});
