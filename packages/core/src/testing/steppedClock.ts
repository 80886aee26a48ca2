import type { Clock, TimerHandle } from '../clock';

/**
 * A clock that moves only when the test steps it, for code that waits on the clock while doing
 * real I/O in between (a real store). `step(parties)` first lets real time pass until `parties`
 * timers are pending, i.e. every party under test is waiting on this clock, then moves to the
 * earliest timer and fires what is due. The result does not depend on how fast the I/O is.
 */
export class SteppedClock implements Clock {
  #now: number;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Waits for `parties` pending timers (at most `patienceMs` of real time), then fires the earliest due. */
  async step(parties: number, patienceMs = 10_000): Promise<void> {
    const giveUpAt = Date.now() + patienceMs;
    while (this.#timers.size < parties) {
      if (Date.now() > giveUpAt) {
        throw new Error(
          `SteppedClock: ${this.#timers.size} of ${parties} parties waiting after ${patienceMs} ms.`,
        );
      }
      await new Promise((resolve) => globalThis.setTimeout(resolve, 1));
    }
    const at = Math.min(...[...this.#timers.values()].map((timer) => timer.at));
    this.#now = Math.max(this.#now, at);
    for (const [id, timer] of [...this.#timers]) {
      if (timer.at > this.#now) continue;
      this.#timers.delete(id);
      timer.callback();
    }
  }
}
