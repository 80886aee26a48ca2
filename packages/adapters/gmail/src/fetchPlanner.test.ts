import type { StagedItem } from '@syncjob/core';
import { describe, expect, it } from 'vitest';
import { planCost, planFetches, threadThreshold } from './fetchPlanner';
import { LEGACY_QUOTA_PROFILE, QUOTA_2026_PROFILE } from './quotaProfiles';

const legacy = {
  messageCost: LEGACY_QUOTA_PROFILE.costs['users.messages.get'],
  threadCost: LEGACY_QUOTA_PROFILE.costs['users.threads.get'],
  threads: true,
};

const items = (spec: Record<string, number>): StagedItem[] =>
  Object.entries(spec).flatMap(([group, count]) =>
    Array.from({ length: count }, (_, i) => ({ id: `${group}-m${i}`, group })),
  );

describe('threadThreshold', () => {
  it('is 3 for both Gmail profiles, where a thread costs two messages', () => {
    expect(threadThreshold(legacy)).toBe(3);
    expect(
      threadThreshold({
        messageCost: QUOTA_2026_PROFILE.costs['users.messages.get'],
        threadCost: QUOTA_2026_PROFILE.costs['users.threads.get'],
        threads: true,
      }),
    ).toBe(3);
  });

  it('follows a custom cost table, and is Infinity when threads are off', () => {
    expect(threadThreshold({ messageCost: 5, threadCost: 12, threads: true })).toBe(3);
    expect(threadThreshold({ messageCost: 5, threadCost: 15, threads: true })).toBe(4);
    expect(threadThreshold({ messageCost: 5, threadCost: 4, threads: true })).toBe(1);
    expect(threadThreshold({ ...legacy, threads: false })).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('planFetches', () => {
  it('fetches threads with 3+ listed messages whole and the rest one by one, in order', () => {
    const plan = planFetches(items({ a: 1, b: 2, c: 3, d: 7 }), legacy);
    expect(plan).toEqual([
      { kind: 'message', id: 'a-m0' },
      { kind: 'message', id: 'b-m0' },
      { kind: 'message', id: 'b-m1' },
      { kind: 'thread', threadId: 'c', ids: ['c-m0', 'c-m1', 'c-m2'] },
      { kind: 'thread', threadId: 'd', ids: ['d-m0', 'd-m1', 'd-m2', 'd-m3', 'd-m4', 'd-m5', 'd-m6'] },
    ]);
    // Naive: 13 gets × 5 = 65 units; planned: 3 gets + 2 threads = 15 + 20 = 35.
    expect(planCost(plan, legacy)).toBe(35);
  });

  it('never costs more than fetching every message, whatever the thread sizes', () => {
    for (let seed = 1; seed < 50; seed++) {
      const spec: Record<string, number> = {};
      for (let g = 0; g < 20; g++) spec[`g${g}`] = 1 + ((seed * 31 + g * 17) % 9);
      const staged = items(spec);
      expect(planCost(planFetches(staged, legacy), legacy)).toBeLessThanOrEqual(
        staged.length * legacy.messageCost,
      );
    }
  });

  it('leaves items without a thread as messages, and plans no threads for raw', () => {
    const staged: StagedItem[] = [
      { id: 'x', group: null },
      { id: 'y', group: null },
      { id: 'z', group: null },
    ];
    expect(planFetches(staged, legacy).every((unit) => unit.kind === 'message')).toBe(true);
    expect(planFetches(items({ big: 10 }), { ...legacy, threads: false })).toHaveLength(10);
  });
});
