import { describe, expect, it } from 'vitest';
import { ListedWindow } from './listedWindow';

const ids = (items: Array<{ id: string }>) => items.map((item) => item.id);

describe('ListedWindow', () => {
  it('takes in listing order, each item with every waiting message of its thread', () => {
    const window = new ListedWindow();
    window.add([
      { id: 'a3', group: 'a' },
      { id: 'b2', group: 'b' },
      { id: 'c1', group: null },
    ]);
    window.add([
      { id: 'a2', group: 'a' },
      { id: 'd1', group: 'd' },
      { id: 'a1', group: 'a' },
      { id: 'b1', group: 'b' },
    ]);
    expect(window.size).toBe(7);
    expect(ids(window.take(2))).toEqual(['a3', 'a2', 'a1']);
    expect(ids(window.take(2))).toEqual(['b2', 'b1']);
    expect(window.size).toBe(2);
    // A thread's message listed after the thread was taken starts a group of its own.
    window.add([{ id: 'a0', group: 'a' }]);
    expect(ids(window.take(10))).toEqual(['c1', 'd1', 'a0']);
    expect(window.size).toBe(0);
    expect(window.take(10)).toEqual([]);
  });

  it('ignores an id listed again while it waits, as the staged list does', () => {
    const window = new ListedWindow();
    window.add([{ id: 'm1', group: 't' }]);
    window.add([
      { id: 'm1', group: 't' },
      { id: 'm2', group: 't' },
    ]);
    expect(window.size).toBe(2);
    expect(ids(window.take(1))).toEqual(['m1', 'm2']);
  });

  it('hands out every id exactly once over a long listing', () => {
    const window = new ListedWindow();
    const taken: string[] = [];
    for (let page = 0; page < 40; page++) {
      window.add(
        Array.from({ length: 500 }, (_, i) => {
          const n = page * 500 + i;
          return { id: `m${n}`, group: `t${Math.floor(n / 7) % 300}` };
        }),
      );
      while (window.size > 1_000) taken.push(...ids(window.take(100)));
    }
    while (window.size > 0) taken.push(...ids(window.take(100)));
    expect(taken).toHaveLength(20_000);
    expect(new Set(taken).size).toBe(20_000);
  });
});
