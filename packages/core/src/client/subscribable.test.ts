import { describe, expect, it } from 'vitest';
import { Subscribable } from './subscribable';

class Counter extends Subscribable<{ n: number }> {
  readonly hooks: string[] = [];
  constructor() {
    super({ n: 0 });
  }
  set(n: number) {
    return this.setSnapshot({ n });
  }
  protected override isSameSnapshot(a: { n: number }, b: { n: number }) {
    return a.n === b.n;
  }
  protected override onFirstSubscribe() {
    this.hooks.push('first');
  }
  protected override onLastUnsubscribe() {
    this.hooks.push('last');
  }
}

describe('Subscribable', () => {
  it('keeps the same snapshot until it changes, and tells listeners only of a change', () => {
    const counter = new Counter();
    const seen: number[] = [];
    counter.subscribe((snapshot) => seen.push(snapshot.n));
    const before = counter.getSnapshot();
    expect(counter.set(0)).toBe(false);
    expect(counter.getSnapshot()).toBe(before);
    expect(counter.set(1)).toBe(true);
    expect(counter.getSnapshot()).toEqual({ n: 1 });
    expect(seen).toEqual([1]);
  });

  it('opens on the first listener and closes after the last, once each; unsubscribing twice is harmless', () => {
    const counter = new Counter();
    const a = counter.subscribe(() => {});
    const b = counter.subscribe(() => {});
    a();
    a();
    expect(counter.hooks).toEqual(['first']);
    b();
    expect(counter.hooks).toEqual(['first', 'last']);
    counter.subscribe(() => {});
    expect(counter.hooks).toEqual(['first', 'last', 'first']);
  });
});
