import { describe, expect, it } from 'vitest';
import { fromIso, toIso } from './clock';

describe('toIso / fromIso', () => {
  it('answer as Date does, whatever was converted just before (their memos never leak)', () => {
    const instants = [0, 1_767_225_600_000, 1_767_225_600_000, 1_767_225_600_001, 1.7, -86_400_000, 0];
    for (const ms of instants) {
      expect(toIso(ms)).toBe(new Date(ms).toISOString());
      expect(fromIso(toIso(ms))).toBe(Date.parse(new Date(ms).toISOString()));
    }
    // Strings that are not what toIso writes still parse as Date.parse reads them.
    for (const iso of ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z', '2026-01-01', 'not a date']) {
      expect(Object.is(fromIso(iso), Date.parse(iso))).toBe(true);
      expect(Object.is(fromIso(iso), Date.parse(iso))).toBe(true);
    }
    expect(fromIso(toIso(1.7))).toBe(1);
  });

  it('refuses a time that is not finite, every time', () => {
    for (let i = 0; i < 2; i++) {
      expect(() => toIso(Number.NaN)).toThrow(RangeError);
      expect(() => toIso(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    }
  });
});
