import { describe, expect, it } from 'vitest';
import type { Clock } from '../clock';
import { createEtaEstimator } from './etaEstimator';

/** A clock the test moves by hand; the estimator only reads `now`. */
function manualClock(start = 1_000_000) {
  let now = start;
  const clock: Clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => {} };
  return { clock, advance: (ms: number) => (now += ms), now: () => now };
}

/** Feeds `rate` items/s for `seconds`, one update per `stepMs`. Returns the final `done`. */
function feed(
  eta: ReturnType<typeof createEtaEstimator>,
  time: ReturnType<typeof manualClock>,
  opts: { from: number; rate: number; seconds: number; total: number | null; stepMs?: number },
) {
  const step = opts.stepMs ?? 1000;
  let done = opts.from;
  for (let t = 0; t < opts.seconds * 1000; t += step) {
    time.advance(step);
    done += (opts.rate * step) / 1000;
    eta.update(done, opts.total);
  }
  return done;
}

describe('createEtaEstimator', () => {
  it('is null while the total is unknown, and before about 5 s of signal', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, null);
    feed(eta, time, { from: 0, rate: 100, seconds: 10, total: null });
    expect(eta.estimate().etaSeconds).toBeNull();

    const known = createEtaEstimator({ clock: time.clock });
    known.seed(0, 10_000);
    let done = feed(known, time, { from: 0, rate: 100, seconds: 4, total: 10_000 });
    expect(known.estimate()).toEqual({ etaSeconds: null, ratePerSec: null });
    done = feed(known, time, { from: done, rate: 100, seconds: 1, total: 10_000 });
    expect(known.estimate().etaSeconds).toBe(95);
    expect(known.estimate().ratePerSec).toBe(100);
  });

  it('converges to the true remaining time for a steady rate, whatever the batch size', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 44_000);
    // Irregular batches: 50 items/s on average, updates every 0.3 s to 2.7 s.
    let done = 0;
    const steps = [300, 2700, 1200, 800, 2000, 500, 1500];
    for (let i = 0; i < 60; i++) {
      const step = steps[i % steps.length]!;
      time.advance(step);
      done += (50 * step) / 1000;
      eta.update(done, 44_000);
    }
    const truth = (44_000 - done) / 50;
    expect(eta.estimate().etaSeconds).toBeGreaterThanOrEqual(Math.floor(truth));
    expect(eta.estimate().etaSeconds).toBeLessThanOrEqual(Math.ceil(truth) + 1);
    expect(eta.estimate().ratePerSec).toBe(50);
  });

  it('follows a change of pace within a few half-lives', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock, halfLifeMs: 10_000 });
    eta.seed(0, 1_000_000);
    let done = feed(eta, time, { from: 0, rate: 100, seconds: 60, total: 1_000_000 });
    done = feed(eta, time, { from: done, rate: 400, seconds: 60, total: 1_000_000 });
    const rate = eta.estimate().ratePerSec!;
    expect(rate).toBeGreaterThan(390);
    expect(rate).toBeLessThanOrEqual(400);
  });

  it('weighs samples by time, not by how many updates arrived', () => {
    const fine = manualClock();
    const coarse = manualClock();
    const a = createEtaEstimator({ clock: fine.clock });
    const b = createEtaEstimator({ clock: coarse.clock });
    a.seed(0, 100_000);
    b.seed(0, 100_000);
    let da = feed(a, fine, { from: 0, rate: 100, seconds: 30, total: 100_000, stepMs: 100 });
    let db = feed(b, coarse, { from: 0, rate: 100, seconds: 30, total: 100_000, stepMs: 3000 });
    da = feed(a, fine, { from: da, rate: 300, seconds: 15, total: 100_000, stepMs: 100 });
    db = feed(b, coarse, { from: db, rate: 300, seconds: 15, total: 100_000, stepMs: 3000 });
    expect(da).toBe(db);
    expect(a.estimate().ratePerSec).toBeCloseTo(b.estimate().ratePerSec!, -1);
  });

  it('counts down steadily between updates and never reaches 0 while work remains', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 1_000);
    const done = feed(eta, time, { from: 0, rate: 10, seconds: 10, total: 1_000 });
    const start = eta.estimate().etaSeconds!;
    expect(start).toBe(90);
    const shown: number[] = [];
    for (let i = 0; i < 5; i++) {
      time.advance(1000);
      shown.push(eta.estimate().etaSeconds!);
    }
    expect(shown).toEqual([89, 88, 87, 86, 85]);

    // A stalled job: the countdown floors at 1 s and never shows 0, NaN or a negative number.
    time.advance(500_000);
    expect(eta.estimate().etaSeconds).toBe(1);
    eta.update(done, 1_000);
    const after = eta.estimate();
    expect(Number.isFinite(after.etaSeconds)).toBe(true);
    expect(after.etaSeconds).toBeGreaterThanOrEqual(1);
  });

  it('blends towards a new raw estimate instead of jumping to it', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 10_000);
    let done = feed(eta, time, { from: 0, rate: 100, seconds: 10, total: 10_000 });
    const before = eta.estimate().etaSeconds!;
    // One sudden burst: the shown ETA moves towards the faster pace but does not take it at once.
    time.advance(1000);
    done += 1000;
    eta.update(done, 10_000);
    const after = eta.estimate().etaSeconds!;
    const raw = (10_000 - done) / eta.estimate().ratePerSec!;
    expect(after).toBeLessThan(before - 1);
    expect(after).toBeGreaterThan(raw);
  });

  it('resets at a phase change: null again until there is new signal', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 1_000);
    let done = feed(eta, time, { from: 0, rate: 20, seconds: 10, total: 1_000 });
    expect(eta.estimate().etaSeconds).not.toBeNull();
    eta.reset();
    expect(eta.estimate()).toEqual({ etaSeconds: null, ratePerSec: null });
    eta.update(done, 1_000);
    done = feed(eta, time, { from: done, rate: 5, seconds: 4, total: 1_000 });
    expect(eta.estimate().etaSeconds).toBeNull();
    feed(eta, time, { from: done, rate: 5, seconds: 1, total: 1_000 });
    // The new phase's pace only: 5 items/s, not a mix with the 20 items/s of before.
    expect(eta.estimate().ratePerSec).toBe(5);
  });

  it('shows no ETA during a back-off, does not count the wait as slowness, and resumes the countdown', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 2_000);
    let done = feed(eta, time, { from: 0, rate: 10, seconds: 20, total: 2_000 });
    expect(eta.estimate()).toEqual({ etaSeconds: 180, ratePerSec: 10 });

    eta.pause(30_000);
    expect(eta.estimate()).toEqual({ etaSeconds: null, ratePerSec: 10 });
    time.advance(29_000);
    expect(eta.estimate().etaSeconds).toBeNull();
    time.advance(1_000);
    // The back-off is over: the countdown continues from where it stood.
    expect(eta.estimate().etaSeconds).toBe(180);

    done = feed(eta, time, { from: done, rate: 10, seconds: 5, total: 2_000 });
    // The 30 s of waiting did not lower the rate.
    expect(eta.estimate()).toEqual({ etaSeconds: 175, ratePerSec: 10 });
  });

  it('includes a quota wait with a known end: the wait plus the work left, counting down, not read as slowness', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 2_000);
    let done = feed(eta, time, { from: 0, rate: 10, seconds: 20, total: 2_000 });
    expect(eta.estimate()).toEqual({ etaSeconds: 180, ratePerSec: 10 });

    eta.waitUntil(time.clock.now() + 40 * 60_000);
    expect(eta.estimate()).toEqual({ etaSeconds: 2_400 + 180, ratePerSec: 10 });
    time.advance(10 * 60_000);
    expect(eta.estimate()).toEqual({ etaSeconds: 1_800 + 180, ratePerSec: 10 });
    // A back-off during the wait does not blank the ETA the wait shows.
    eta.pause(5_000);
    expect(eta.estimate().etaSeconds).toBe(1_800 + 180);
    time.advance(30 * 60_000);
    // The wait is over: the work's countdown goes on from where it stood.
    expect(eta.estimate().etaSeconds).toBe(180);
    done = feed(eta, time, { from: done, rate: 10, seconds: 5, total: 2_000 });
    // Forty minutes of waiting did not lower the rate.
    expect(eta.estimate()).toEqual({ etaSeconds: 175, ratePerSec: 10 });

    // Progress ends a wait early; so does clearing it.
    eta.waitUntil(time.clock.now() + 60_000);
    time.advance(1_000);
    eta.update(done + 10, 2_000);
    expect(eta.estimate().etaSeconds).toBeLessThan(200);
    eta.waitUntil(time.clock.now() + 60_000);
    expect(eta.estimate().etaSeconds).toBeGreaterThan(200);
    eta.waitUntil(null);
    expect(eta.estimate().etaSeconds).toBeLessThan(200);
  });

  it('ends a back-off early when progress arrives', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 2_000);
    const done = feed(eta, time, { from: 0, rate: 10, seconds: 10, total: 2_000 });
    eta.pause(60_000);
    time.advance(2_000);
    eta.update(done + 20, 2_000);
    expect(eta.estimate().etaSeconds).not.toBeNull();
    expect(eta.estimate().ratePerSec).toBe(10);
  });

  it('is seeded from stored counters after a resume: no rate from the jump 0 → 38,000', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(38_000, 44_000);
    feed(eta, time, { from: 38_000, rate: 50, seconds: 10, total: 44_000 });
    expect(eta.estimate().ratePerSec).toBe(50);
    expect(eta.estimate().etaSeconds).toBe((44_000 - 38_500) / 50);
  });

  it('restarts its measure when the counters go back (a mode switch)', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 100);
    feed(eta, time, { from: 0, rate: 5, seconds: 6, total: 100 });
    eta.update(0, 500);
    feed(eta, time, { from: 0, rate: 5, seconds: 1, total: 500 });
    const { etaSeconds, ratePerSec } = eta.estimate();
    expect(ratePerSec).toBe(5);
    expect(etaSeconds).toBeGreaterThan(0);
    expect(Number.isNaN(etaSeconds)).toBe(false);
  });

  it('gives no ETA when nothing moves', () => {
    const time = manualClock();
    const eta = createEtaEstimator({ clock: time.clock });
    eta.seed(0, 100);
    feed(eta, time, { from: 0, rate: 0, seconds: 30, total: 100 });
    expect(eta.estimate()).toEqual({ etaSeconds: null, ratePerSec: 0 });
  });

  describe('measureSince: a job run in time slices', () => {
    /**
     * 100 items/s while a slice runs, 5 s slices, 5 s between them: the job's real pace is 50/s.
     * Each slice is a new estimator (a new process), seeded from the stored counters like a resumed run.
     */
    function slices(count: number, options: { measure: boolean }) {
      const time = manualClock();
      const phaseStart = time.now();
      const total = 10_000;
      let done = 0;
      let last: { etaSeconds: number | null; ratePerSec: number | null } = {
        etaSeconds: null,
        ratePerSec: null,
      };
      for (let slice = 0; slice < count; slice++) {
        const eta = createEtaEstimator({ clock: time.clock });
        eta.seed(done, total);
        if (options.measure) eta.measureSince(0, phaseStart);
        done = feed(eta, time, { from: done, rate: 100, seconds: 5, total, stepMs: 500 });
        last = eta.estimate();
        time.advance(5_000);
      }
      return { done, last, total };
    }

    it('counts the gaps between slices: the ETA follows the wall-clock pace, not the pace inside a slice', () => {
      const { done, last, total } = slices(4, { measure: true });
      expect(done).toBe(2_000);
      // At the end of slice 4: 2,000 done in 35 s of wall time (57/s); 8,000 left at ~50/s real pace = 160 s.
      expect(last.ratePerSec).toBeCloseTo(2_000 / 35, 0);
      const realRemaining = ((total - done) / 50) * 1;
      expect(last.etaSeconds).toBeGreaterThan(realRemaining * 0.8);
      expect(last.etaSeconds).toBeLessThan(realRemaining * 1.2);
    });

    it('without it, the ETA of a slice reads the pace inside the slice: half the real time left', () => {
      // 8,000 left at 100/s = 80 s, while 160 s remain.
      expect(slices(4, { measure: false }).last.etaSeconds).toBe(80);
    });

    it('shows an ETA from the first moment of a resumed slice, and none before any item was done', () => {
      const time = manualClock();
      const eta = createEtaEstimator({ clock: time.clock });
      const phaseStart = time.now();
      time.advance(60_000);
      eta.seed(3_000, 10_000);
      eta.measureSince(0, phaseStart);
      // 3,000 in 60 s = 50/s; 7,000 left = 140 s.
      expect(eta.estimate()).toEqual({ etaSeconds: 140, ratePerSec: 50 });

      const fresh = createEtaEstimator({ clock: time.clock });
      fresh.seed(0, 10_000);
      fresh.measureSince(0, phaseStart);
      expect(fresh.estimate()).toEqual({ etaSeconds: null, ratePerSec: null });
    });

    it('is forgotten at a phase change (reset)', () => {
      const time = manualClock();
      const eta = createEtaEstimator({ clock: time.clock });
      const since = time.now();
      time.advance(60_000);
      eta.seed(3_000, 10_000);
      eta.measureSince(0, since);
      eta.reset();
      eta.seed(3_000, 10_000);
      expect(eta.estimate().etaSeconds).toBeNull();
    });
  });
});
