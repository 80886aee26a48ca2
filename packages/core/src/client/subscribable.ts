/**
 * The one observable shape of the client (TanStack Query's `Subscribable`): `subscribe(listener)`
 * returns its unsubscribe function, and `getSnapshot()` returns the same object until the state
 * changes, as `useSyncExternalStore` requires. Subclasses change state only through `setSnapshot`,
 * which tells the listeners only when the snapshot changed by the subclass's own rule
 * (`isSameSnapshot`, identity by default); they open and close what they watch in
 * `onFirstSubscribe`/`onLastUnsubscribe`, so the number of listeners never multiplies connections.
 */
export abstract class Subscribable<TSnapshot> {
  private readonly listeners = new Set<(snapshot: TSnapshot) => void>();
  private snapshot: TSnapshot;

  protected constructor(initial: TSnapshot) {
    this.snapshot = initial;
  }

  /** The current snapshot: the same object until it changes. */
  getSnapshot = (): TSnapshot => this.snapshot;

  /** Adds a listener; returns the function that removes it (calling it twice is harmless). */
  subscribe = (listener: (snapshot: TSnapshot) => void): (() => void) => {
    this.listeners.add(listener);
    this.onSubscribe(this.listeners.size === 1);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.onLastUnsubscribe();
    };
  };

  protected get hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  /** Replaces the snapshot and tells the listeners, unless it is the same; returns whether it changed. */
  protected setSnapshot(next: TSnapshot): boolean {
    if (this.isSameSnapshot(this.snapshot, next)) return false;
    this.snapshot = next;
    for (const listener of [...this.listeners]) listener(next);
    return true;
  }

  /** What "changed" means for this snapshot (default: another object). */
  protected isSameSnapshot(previous: TSnapshot, next: TSnapshot): boolean {
    return Object.is(previous, next);
  }

  /** Called on every new listener; the default opens what is watched on the first one. */
  protected onSubscribe(first: boolean): void {
    if (first) this.onFirstSubscribe();
  }

  /** The first listener arrived: start watching. */
  protected onFirstSubscribe(): void {}

  /** The last listener left: stop watching. */
  protected onLastUnsubscribe(): void {}
}
