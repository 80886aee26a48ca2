/**
 * Runs tasks one at a time, in call order. A `DatabaseSync` has one transaction at a time, and an
 * app sink's `write` may await inside it: without this queue another call on the same store could
 * run its statements inside that open transaction.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

const fileMutexes = new Map<string, { mutex: Mutex; users: number }>();

/**
 * The mutex shared by every store of this process on one database file. `node:sqlite` waits for a
 * lock synchronously, blocking the event loop: if two connections of one process contended at the
 * SQLite level, the waiting one would block the very thread the lock holder needs to finish (an
 * awaiting sink), until the busy timeout. Queuing them here first means SQLite locks are only ever
 * contended across processes. Call `release` when the store closes.
 */
export function acquireFileMutex(key: string): { mutex: Mutex; release: () => void } {
  const entry = fileMutexes.get(key) ?? { mutex: new Mutex(), users: 0 };
  entry.users += 1;
  fileMutexes.set(key, entry);
  let released = false;
  return {
    mutex: entry.mutex,
    release: () => {
      if (released) return;
      released = true;
      entry.users -= 1;
      if (entry.users === 0 && fileMutexes.get(key) === entry) fileMutexes.delete(key);
    },
  };
}
