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
