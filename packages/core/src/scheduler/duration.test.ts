import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration';

describe('parseDuration', () => {
  it('reads numbers as milliseconds and text with units', () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration(' 1.5s ')).toBe(1_500);
    expect(parseDuration('1H')).toBe(3_600_000);
  });

  it('refuses what it cannot read, naming the option', () => {
    for (const bad of ['', '5 mins', 'm5', '-1s', '1w', 'soon', '1h 30m']) {
      expect(() => parseDuration(bad, 'every'), bad).toThrow(/^every must be milliseconds or a duration/);
    }
    expect(() => parseDuration(-1)).toThrow(/INVALID|must be/);
    expect(() => parseDuration(Number.NaN)).toThrow();
    expect(() => parseDuration(Number.POSITIVE_INFINITY)).toThrow();
  });
});
