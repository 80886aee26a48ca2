import type { JobWaiting } from '@syncjob/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ADDRESS,
  createEngine,
  createMemoryStore,
  emulatorSource,
  mailboxState,
  startEmulator,
  storedState,
  syncOnce,
} from './helpers';

const SPEED = 7_200; // a 12 s day
const DAY_MS = 86_400_000 / SPEED;

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe("the project's daily budget runs out mid-sync", () => {
  it('the job says it waits for the daily quota until the day turns, then resumes on its own and completes', async () => {
    // The emulator's day starts as the test starts, so the wait is most of a day, long enough to be told.
    const startedAt = Date.now();
    const dayStart = Math.ceil(startedAt / DAY_MS) * DAY_MS;
    const running = await startEmulator({
      users: [{ address: ADDRESS, messages: 300, seed: 5 }],
      speed: SPEED,
      projectDailyUnits: 500, // the sync needs about 890 units: two days' worth
      clock: {
        now: () => Date.now() - startedAt + dayStart,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
    });
    close = () => running.close();
    const dayEndsAt = running.emulator.stats().project.dayEndsAt;

    const store = createMemoryStore();
    const engine = createEngine(store, emulatorSource(running), {
      retry: { retries: 8, minDelayMs: 10, maxDelayMs: 300 },
    });
    const waits: JobWaiting[] = [];
    engine.on('progress', ({ progress }) => {
      if (progress.waiting && !waits.some((w) => w.until === progress.waiting!.until))
        waits.push(progress.waiting);
    });
    const job = await syncOnce(engine);
    await engine.stop();

    expect(job).toMatchObject({ status: 'completed', waiting: null, error: null });
    expect(await storedState(store)).toEqual(mailboxState(running));
    const project = running.emulator.stats().project;
    expect(project.refused.daily).toBeGreaterThan(0);
    expect(waits[0]?.for).toBe('project-daily-quota');
    // The wait ends when the emulator's day does (its clock is shifted, so compare in its time).
    const told = Date.parse(waits[0]!.until) - startedAt + dayStart;
    expect(Math.abs(told - Date.parse(dayEndsAt))).toBeLessThan(1_000);
  }, 40_000);
});
