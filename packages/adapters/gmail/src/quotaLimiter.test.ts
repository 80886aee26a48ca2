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
    // Paced over the whole window, only the moving window holds the grants back.
    const limiter = new QuotaLimiter({
      unitsPerWindow: 1_000,
      windowMs: 1_000,
      headroom: 0.9,
      marginMs: 0,
      pacingSlices: 1,
    });
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

/** The longest time between two consecutive grants. */
const longestGap = (times: number[]) => Math.max(...times.slice(1).map((t, i) => t - times[i]!));

describe('QuotaLimiter pacing', () => {
  it('paces grants evenly by default: no gap longer than two slices, and still ≥ 95 % of the ceiling', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000, windowMs: 1_000 });
    expect(limiter.pacingSlices).toBe(20);
    const times = await grantTimes(limiter, 1_000, 10);
    // 20 slices of a 1 s window: 50 ms each.
    expect(longestGap(times)).toBeLessThanOrEqual(100);
    // Never more than the planned budget in any window, however it is paced.
    for (let i = 0; i < times.length; i += 7) {
      const inWindow = times.filter((t) => t >= times[i]! && t < times[i]! + 1_005).length;
      expect(inWindow * 10).toBeLessThanOrEqual(980);
    }
    const from = times[0]! + 1_005;
    const to = from + 5 * 1_005;
    const granted = times.filter((t) => t >= from && t < to).length;
    expect((granted * 10) / ((to - from) / 1_000) / 1_000).toBeGreaterThanOrEqual(0.95);
  });

  it('without pacing (one slice) stalls for most of a window after the first burst', async () => {
    // The behaviour pacing exists to avoid, so the test above can fail.
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000, windowMs: 1_000, pacingSlices: 1 });
    const times = await grantTimes(limiter, 300, 10);
    expect(longestGap(times)).toBeGreaterThan(900);
  });

  it('keeps the pace when answers take time to arrive', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 6_000, windowMs: 60_000, maxInFlight: 50 });
    const times: number[] = [];
    const all = Array.from({ length: 600 }, () =>
      limiter.acquire(20, 1).then(async () => {
        times.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 800));
        limiter.release(1, 20);
      }),
    );
    await vi.runAllTimersAsync();
    await Promise.all(all);
    // Slices of 3 s; at steady load a grant every ~0.2 s.
    expect(longestGap(times)).toBeLessThanOrEqual(6_000);
    const perMinute = times.filter((t) => t >= times[0]! + 60_000 && t < times[0]! + 120_000).length;
    expect(perMinute * 20).toBeGreaterThanOrEqual(0.95 * 6_000);
    expect(perMinute * 20).toBeLessThanOrEqual(0.98 * 6_000);
  });

  it('admits a request dearer than a slice once nothing else holds the slice, and then repays it', async () => {
    // The 2026 profile: 6,000 units a minute, a slice 294 units; a 50-part threads.get batch costs 2,000.
    const limiter = new QuotaLimiter({ unitsPerWindow: 6_000, windowMs: 60_000 });
    const grants: Array<{ at: number; units: number }> = [];
    const take = (units: number) =>
      limiter.acquire(units, 1).then(() => {
        grants.push({ at: Date.now(), units });
        limiter.release(1, units);
      });
    const all = [take(100), take(100), take(2_000), take(20), take(2_000), take(20)];
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(grants.map((g) => g.units)).toEqual([100, 100, 2_000, 20, 2_000, 20]);
    const start = grants[0]!.at;
    const at = grants.map((g) => g.at - start);
    // The big one waits until a full slice has built up again (~2 s at 98 units/s), not forever.
    expect(at[2]).toBeGreaterThan(1_000);
    expect(at[2]).toBeLessThan(3_500);
    // Then the pace repays its debt: the next grant waits about 2,000 units' worth (~20 s).
    expect(at[3]! - at[2]!).toBeGreaterThan(15_000);
    expect(at[3]! - at[2]!).toBeLessThan(25_000);
    expect(limiter.stats.unitsSpent).toBe(4_240);
  });

  it('admits a request dearer than the whole window alone rather than never', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000, windowMs: 1_000 });
    const grants: number[] = [];
    const take = (units: number) =>
      limiter.acquire(units, 1).then(() => {
        grants.push(units);
        limiter.release(1, units);
      });
    const all = [take(10), take(5_000), take(10)];
    await vi.runAllTimersAsync();
    await Promise.all(all);
    expect(grants).toEqual([10, 5_000, 10]);
  });

  it('honours a rate-limit pause and resumes at the pace, without a burst for the paused time', async () => {
    const limiter = new QuotaLimiter({ unitsPerWindow: 1_000, windowMs: 1_000, marginMs: 0 });
    const times: number[] = [];
    const all = Array.from({ length: 200 }, () =>
      limiter.acquire(10, 1).then(() => {
        times.push(Date.now());
        limiter.release(1, 10);
      }),
    );
    await vi.advanceTimersByTimeAsync(300);
    const before = times.length;
    limiter.rateLimited(400);
    await vi.advanceTimersByTimeAsync(399);
    expect(times.length).toBe(before);
    await vi.advanceTimersByTimeAsync(1);
    // Right after the pause, at most one slice of the (now cut) budget goes at once.
    const slice = (1_000 * 0.98 * 0.85) / 20;
    expect((times.length - before) * 10).toBeLessThanOrEqual(Math.ceil(slice / 10) * 10);
    await vi.runAllTimersAsync();
    await Promise.all(all);
    const after = times.filter((t) => t >= 1_000_700);
    expect(longestGap(after)).toBeLessThanOrEqual(100);
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
