import type { Clock } from '../src/index.js';

/** A clock that only moves when told; `sleep` advances it at once and records the delay. */
export function fakeClock(
  start = Date.UTC(2026, 0, 15),
): Clock & { advance(ms: number): void; sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    advance: (ms) => {
      now += ms;
    },
    sleeps,
  };
}
